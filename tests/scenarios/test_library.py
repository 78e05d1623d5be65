"""Checked defects: every scenario differs from its clean twin in exactly what it declares.

For each scenario in the library, the scenario and its clean twin (the same spec without the
defects) are generated with the same seed. Then, instance by instance:
- no defect there: the two files are byte-identical;
- a defect there: the set of attributes that differ is exactly the declared one (pydicom
  attribute-level diff), and file-level mutations are checked on the bytes;
- dciodvfy reports no errors on clean files, and on broken ones only the errors the defect
  declares (each declared error must appear);
- pydicom reads the broken file unless the defect declares it unreadable.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from dicomfab import generate
from dicomfab.scenarios import compose, scenarios
from dicomfab.scenarios.compose import finish
from dicomfab.scenarios.model import Defect
from dicomfab.scenarios.profiles import load_profiles
from dicomfab.studyspec.tags import parse_tag_key
from dicomtools import dciodvfy, dcmdump

LIBRARY = sorted(scenarios())


def _small(scenario_name: str) -> dict[str, Any]:
    declared = set(scenarios()[scenario_name].parameters)
    base = scenarios()[scenario_name].base
    if base:
        from dicomfab.scenarios.library import base_spec

        declared |= set(base_spec(base).parameters)
    return {"image_size": "small"} if "image_size" in declared else {}


def diff(a: Dataset, b: Dataset) -> set[str]:
    """Top-level attributes that differ (present in one only, or with other values)."""
    names = set()
    for tag in set(a.keys()) | set(b.keys()):
        if tag not in a or tag not in b or a[tag] != b[tag]:
            names.add(_label(Tag(tag)))
    return names


def _label(tag: Tag) -> str:
    keyword = pydicom.datadict.keyword_for_tag(tag)
    return keyword or f"({tag.group:04X},{tag.element:04X})"


def _declared(defect: Defect) -> set[str]:
    if defect.changes is not None and "*" in defect.changes:
        return {"*"}  # the whole instance differs (another IOD, another transfer syntax, …)
    if defect.changes is not None:
        return {
            _label(parse_tag_key(c).tag) if not c.startswith("(") else c for c in defect.changes
        }
    return {_label(parse_tag_key(k).tag) for k in [*defect.tags, *defect.remove_tags]}


def _check_changes(found: set[str], declared: set[str]) -> None:
    """Every declared attribute differs, and nothing else does, but for what a pattern such as
    ``(0045,10xx)`` allows: attributes that may differ (a vendor persona's own elements of a
    private block the defect moves)."""
    patterns = {d[:-3].upper() for d in declared if d.lower().endswith("xx)")}
    exact = {d for d in declared if not d.lower().endswith("xx)")}
    assert exact <= found, f"declared but unchanged: {sorted(exact - found)}"
    extra = {f for f in found - exact if not any(f.upper().startswith(p) for p in patterns)}
    assert not extra, f"changed but not declared: {sorted(extra)}"


@pytest.mark.parametrize("name", LIBRARY)
def test_scenario_differs_from_its_twin_in_exactly_the_declared_defects(
    tmp_path: Path, name: str
) -> None:
    scenario = scenarios()[name]
    composed = compose(scenario, _small(name), load_profiles())
    broken = generate(
        composed.spec,
        tmp_path / "scenario",
        workers=1,
        plan=composed.plan,
        finish=lambda root, manifest: finish(composed, root, manifest),
    )
    twin = generate(composed.twin, tmp_path / "twin", workers=1)

    defects_at: dict[str, list[Defect]] = {}
    study_defects: dict[str, list[Defect]] = {}
    for defect, instances, studies in composed.targets:
        for inst in instances:
            defects_at.setdefault(inst.sop_instance_uid, []).append(defect)
        if not instances:
            for study in studies:
                study_defects.setdefault(study.uid, []).append(defect)

    twin_entries = twin.manifest.instances()
    broken_entries = broken.manifest.instances()
    assert len(twin_entries) == len(broken_entries)
    for clean, entry in zip(twin_entries, broken_entries, strict=True):
        defects = defects_at.get(clean.sop_instance_uid, []) + study_defects.get(
            clean.attributes.get("StudyInstanceUID", ""), []
        )
        clean_path, path = twin.path / clean.file, broken.path / entry.file
        if not defects:
            assert entry.defects == []
            assert path.read_bytes() == clean_path.read_bytes(), f"{entry.file} changed"
            continue
        assert entry.defects, f"{entry.file}: the manifest does not record its defect"
        if not entry.written:
            assert not path.exists()
            assert any(
                d.skip_writing or (d.mutation and d.mutation.name == "skip_file") for d in defects
            )
            continue
        _check_broken_file(clean_path, path, defects)


def _check_broken_file(clean_path: Path, path: Path, defects: list[Defect]) -> None:
    readable = all(d.readable for d in defects)
    if not readable:
        with pytest.raises(Exception):  # noqa: B017 — any reader failure is what we declared
            _ = pydicom.dcmread(path).pixel_array
        return
    with warnings.catch_warnings():  # pydicom warns about the invalid values put there on purpose
        warnings.simplefilter("ignore", UserWarning)
        broken_ds = pydicom.dcmread(path, force=any(d.mutation for d in defects))
        expected: set[str] = set().union(*(_declared(d) for d in defects))
        if "*" not in expected:
            _check_changes(diff(pydicom.dcmread(clean_path), broken_ds), expected)
    if any(d.mutation for d in defects):
        assert path.read_bytes() != clean_path.read_bytes()
    else:
        dcmdump(path)  # a second reader agrees the file is readable
    declared_errors = [e for d in defects for e in d.dciodvfy]
    errors = dciodvfy(path).errors
    for line in errors:
        assert any(text in line for text in declared_errors), f"undeclared dciodvfy error: {line}"
    for text in declared_errors:
        assert any(text in line for line in errors), f"declared error not reported: {text}"


@pytest.mark.parametrize("name", [n for n in LIBRARY if scenarios()[n].clean])
def test_clean_scenarios_pass_dciodvfy(tmp_path: Path, name: str) -> None:
    composed = compose(scenarios()[name], _small(name), load_profiles())
    result = generate(composed.spec, tmp_path, workers=1, plan=composed.plan)
    for inst in result.manifest.instances():
        if inst.written:
            assert dciodvfy(result.path / inst.file).errors == []
