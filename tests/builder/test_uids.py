from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from dicomfab.builder.uids import UIDFactory

UID_FORMAT = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def test_no_collision_in_a_million_uids() -> None:
    factory = UIDFactory(seed=1)
    uids = {factory.uid("instance", i // 1000, i % 1000) for i in range(1_000_000)}
    assert len(uids) == 1_000_000


def test_same_seed_and_place_give_the_same_uid_and_seeds_differ() -> None:
    assert UIDFactory(5).uid("study", 0, 1) == UIDFactory(5).uid("study", 0, 1)
    assert UIDFactory(5).uid("study", 0, 1) != UIDFactory(6).uid("study", 0, 1)
    assert UIDFactory(5).uid("study", 0, 1) != UIDFactory(5).uid("study", 1, 0)


@given(
    seed=st.integers(0, 2**63),
    path=st.lists(st.integers(0, 10**6), max_size=5),
    root=st.sampled_from([None, "2.25.186286998657177681993761274476141863721", "1.2.3"]),
)
def test_uids_are_valid(seed: int, path: list[int], root: str | None) -> None:
    uid = UIDFactory(seed, root).uid(*path)
    assert len(uid) <= 64
    assert UID_FORMAT.match(uid), uid
    assert uid.startswith(root + "." if root else "2.25.")


def test_the_namespace_is_part_of_every_uid_and_never_confused_with_the_seed() -> None:
    assert UIDFactory(5, namespace="a").uid("study", 0) != UIDFactory(5, namespace="b").uid(
        "study", 0
    )
    # "a/1" with seed 2 is not "a" with seed 1 and a path starting with 2
    assert UIDFactory(2, namespace="a/1").uid("study", 0) != UIDFactory(1, namespace="a").uid(
        2, "study", 0
    )
    assert UIDFactory(5, namespace="a").uid("study", 0) == UIDFactory(5, namespace="a").uid(
        "study", 0
    )
