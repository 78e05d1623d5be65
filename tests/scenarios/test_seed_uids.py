"""Every instance, series and study UID a scenario writes derives from the seed (issue 13 §5).

A UID fixed in a scenario file makes a verdict depend on what the target already holds (the
issue: ``duplicate_sop`` passed with one seed and failed with another on the same Orthanc). So:
two seeds share no such UID, in any scenario, and one seed gives the same ones again. SOP Class
and Transfer Syntax UIDs are constants and are left out; a UID a scenario needs twice is written
``${uid:NAME}`` (see docs/scenarios.md).

The whole library is checked on its plans (cheap); the scenarios that name UIDs of their own
(``${uid:…}``, or SOP Class / Transfer Syntax constants in a defect) are also generated and
every UID in their files compared.
"""

from __future__ import annotations

import re
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicomfab.builder.dataset import IMPLEMENTATION_CLASS_UID
from dicomfab.scenarios import compose, scenarios
from dicomfab.scenarios.compose import declared_parameters
from dicomfab.scenarios.generate import ScenarioRequest, generate_one
from dicomfab.scenarios.profiles import load_profiles

SEEDS = (11, 12)
LIBRARY = sorted(scenarios())
_UID_KEY = re.compile(r"(InstanceUID|FrameOfReferenceUID|^uid|^sop_instance_uid)$")
_CONSTANT = re.compile(r"(ClassUID|TransferSyntaxUID|CodingSchemeUID|ClassUIDInFile)$")

# the scenarios whose files are compared: every one that names a UID in its file, and the
# issue's list (SOP Class / Transfer Syntax constants beside derived instance UIDs)
NAMED = [
    "cu_unsupported_sop_with_matching_modality",
    "cu_unsupported_sop_with_mismatching_modality",
    "pr_unsupported_sop_with_matching_modality",
    "pr_unsupported_sop_with_mismatching_modality",
    "declared_explicit_encoded_implicit",
    "meta_sop_mismatch",
    "presentation_and_processing_pair",
    "private_transfer_syntax",
    "uid_padding_space_or_bad_chars",
    "duplicate_sop",
]


def _uses_named_uids(name: str) -> bool:
    text = (
        Path(__file__).parents[2] / "src/dicomfab/scenarios/library" / f"{name}.yaml"
    ).read_text(encoding="utf-8")
    return "${uid:" in text or "${uuid:" in text or "${num:" in text


FILES = sorted({*NAMED, *(n for n in LIBRARY if _uses_named_uids(n))})


def _spec_uids(node: Any, key: str = "") -> set[str]:
    """UID values of the spec at keys that name an instance, series, study or frame of
    reference (``uid``, ``sop_instance_uid``, ``…InstanceUID`` tags, sequences included)."""
    if isinstance(node, dict):
        return set().union(*(_spec_uids(v, str(k)) for k, v in node.items()))
    if isinstance(node, list):
        return set().union(*(_spec_uids(v, key) for v in node))
    if isinstance(node, str) and node and _UID_KEY.search(key):
        return {node}
    return set()


@cache
def _plan_uids(name: str, seed: int) -> frozenset[str]:
    composed = compose(scenarios()[name], {}, load_profiles(), seed=seed)
    plan = composed.plan
    found = {s.uid for s in plan.studies} | {se.uid for s in plan.studies for se in s.series}
    found |= {i.sop_instance_uid for i in plan.instances}
    found |= _spec_uids(composed.spec.model_dump(mode="json", exclude_none=True))
    return frozenset(found)


def test_two_seeds_share_no_uid_anywhere_in_the_library() -> None:
    owner: dict[str, tuple[str, int]] = {}
    clashes = []
    for name in LIBRARY:
        for seed in SEEDS:
            for uid in _plan_uids(name, seed):
                first = owner.setdefault(uid, (name, seed))
                if first != (name, seed):
                    clashes.append(f"{uid}: {first} and {(name, seed)}")
    assert not clashes, "\n".join(clashes[:20])


@pytest.mark.parametrize("name", ["duplicate_sop", "presentation_and_processing_pair"])
def test_one_seed_gives_the_same_uids_again(name: str) -> None:
    _plan_uids.cache_clear()
    first = _plan_uids(name, SEEDS[0])
    _plan_uids.cache_clear()
    assert _plan_uids(name, SEEDS[0]) == first and len(first) > 4


def _file_uids(ds: Dataset) -> set[str]:
    """Every UI value in a data set (meta and sequences included) but the constants: SOP Class,
    Transfer Syntax and coding-scheme UIDs, and dicomfab's implementation class."""
    found: set[str] = set()
    for element in [*ds.file_meta.iterall(), *ds.iterall()] if ds.file_meta else ds.iterall():
        if element.VR != "UI" or not element.value or _CONSTANT.search(element.keyword or ""):
            continue
        values = element.value if element.VM > 1 else [element.value]
        found |= {str(v) for v in values}
    return found - {IMPLEMENTATION_CLASS_UID}


def _read(path: Path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, force=True, stop_before_pixels=True)


def _written(name: str, seed: int, root: Path) -> tuple[set[str], dict[str, bytes]]:
    small = (
        {"image_size": "small"} if "image_size" in declared_parameters(scenarios()[name]) else {}
    )
    result = generate_one(ScenarioRequest(name, small, seed=seed), root)
    uids: set[str] = set()
    data: dict[str, bytes] = {}
    for entry in result.manifest.instances():
        uids.add(entry.sop_instance_uid)
        if not entry.written:
            continue
        path = result.path / entry.file
        data[entry.file] = path.read_bytes()
        try:
            uids |= _file_uids(_read(path))
        except Exception:  # a file broken on purpose: its manifest UIDs stand for it
            continue
    return uids, data


@pytest.mark.parametrize("name", FILES)
def test_written_uids_change_with_the_seed_and_not_without(tmp_path: Path, name: str) -> None:
    first, first_bytes = _written(name, SEEDS[0], tmp_path / "a")
    again, again_bytes = _written(name, SEEDS[0], tmp_path / "b")
    other, _ = _written(name, SEEDS[1], tmp_path / "c")
    assert len(first) > 4
    assert again == first and again_bytes == first_bytes
    assert first.isdisjoint(other), sorted(first & other)
