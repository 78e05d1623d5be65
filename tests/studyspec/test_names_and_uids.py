"""One UID rule and one file-name rule for every field of a spec, each problem with its path."""

from __future__ import annotations

from typing import Any

import pytest

from dicomfab import SpecError, parse_spec
from dicomfab.builder.plan import make_plan


def _issues(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        make_plan(parse_spec(data))
    return {i.path: i.message for i in info.value.issues}


def _instance(**fields: Any) -> dict[str, Any]:
    return {"patients": [{"studies": [{"series": [{"count": 1, "instances": [fields]}]}]}]}


@pytest.mark.parametrize("bad", ["1.02.3", "1..2", "1.2.", "../../..", "2.25.abc", "1" * 65])
def test_every_uid_field_uses_the_uid_rule(bad: str) -> None:
    path = "patients[0].studies[0].series[0].instances[0].sop_instance_uid"
    assert "not a valid UID" in _issues(_instance(sop_instance_uid=bad))[path]
    study = {"patients": [{"studies": [{"uid": bad, "series": [{"uid": bad}]}]}]}
    found = _issues(study)
    assert "not a valid UID" in found["patients[0].studies[0].uid"]
    assert "not a valid UID" in found["patients[0].studies[0].series[0].uid"]


def test_permissive_on_the_same_level_makes_an_invalid_uid_a_defect() -> None:
    plan = make_plan(parse_spec(_instance(sop_instance_uid="1.02", permissive=True)))
    (inst,) = plan.instances
    assert inst.sop_instance_uid == "1.02"
    assert inst.file_name.startswith("uid-") and inst.file_name.endswith(".dcm")
    # permissive elsewhere does not count: the level that sets the UID declares the defect
    shallow = {"defaults": {"permissive": True}, **_instance(sop_instance_uid="1.02")}
    assert any("sop_instance_uid" in p for p in _issues(shallow))


def test_ui_tags_use_the_same_rule_even_inside_sequences() -> None:
    data = {
        "defaults": {
            "tags": {
                "FrameOfReferenceUID": "1.2.03",
                "ReferencedImageSequence": [{"ReferencedSOPInstanceUID": "1..2"}],
            }
        }
    }
    found = _issues(data)
    assert "not a UID" in found["defaults.tags.FrameOfReferenceUID"]
    assert "not a UID" in found["defaults.tags.ReferencedImageSequence[0].ReferencedSOPInstanceUID"]
    make_plan(parse_spec({"defaults": {**data["defaults"], "permissive": True}}))  # a defect


@pytest.mark.parametrize("root", ["1.2.3.", "01.2", "1.2." + "3" * 40])
def test_uid_root(root: str) -> None:
    with pytest.raises(SpecError, match="uid_root"):
        parse_spec({"uid_root": root})
    assert parse_spec({"uid_root": "1.2." + "3" * 36}).uid_root


@pytest.mark.parametrize("name", [".", "..", "a/b", "CON", ""])
def test_dataset_name_is_one_safe_name(name: str) -> None:
    with pytest.raises(SpecError, match="name"):
        parse_spec({"name": name})


@pytest.mark.parametrize("file_name", ["../x.dcm", "/x.dcm", "C:\\x.dcm", "..", ".", "a\tb", "AUX"])
def test_file_name_is_one_safe_name(file_name: str) -> None:
    path = "patients[0].studies[0].series[0].instances[0].file_name"
    assert "not a file name" in _issues_model(_instance(file_name=file_name))[path]


def _issues_model(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        parse_spec(data)
    return {i.path: i.message for i in info.value.issues}
