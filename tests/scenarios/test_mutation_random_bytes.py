"""mutations.random_bytes: the bytes a randrange(256) loop draws, and the same rng state after."""

from __future__ import annotations

import random

import pytest

from dicomfab.scenarios.mutations import _random_bytes_slow, random_bytes


@pytest.mark.parametrize("count", [0, 1, 2, 63, 64, 65, 4096, 100_003])
@pytest.mark.parametrize("seed", [0, 1, "scenario/7"])
def test_same_bytes_and_state_as_the_loop(count: int, seed: object) -> None:
    loop, bulk = random.Random(seed), random.Random(seed)
    loop.random(), bulk.random()  # not at the start of the stream
    expected = _random_bytes_slow(loop, count)
    assert random_bytes(bulk, count) == expected
    assert len(expected) == count
    assert bulk.getstate() == loop.getstate()
    assert bulk.random() == loop.random()


def test_successive_draws_continue_the_stream() -> None:
    loop, bulk = random.Random(5), random.Random(5)
    expected = _random_bytes_slow(loop, 300) + _random_bytes_slow(loop, 5000)
    assert random_bytes(bulk, 300) + random_bytes(bulk, 5000) == expected
