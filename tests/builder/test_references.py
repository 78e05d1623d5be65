"""What a derived object refers to: a spec's ``references`` resolved against the whole plan, and
the ``content`` fields only the IODs that read them take."""

from __future__ import annotations

from typing import Any

import pytest

from dicomfab import SpecError, make_plan, parse_spec
from dicomfab.builder.plan_model import Plan

IMAGES = {"views": ["RCC", "LCC", "RMLO", "LMLO"]}


def plan_of(spec: dict[str, Any]) -> Plan:
    return make_plan(parse_spec({"seed": 3, **spec}))


def one_study(*series: dict[str, Any]) -> dict[str, Any]:
    return {"patients": [{"studies": [{"series": list(series)}]}]}


def issues_of(spec: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as info:
        plan_of(spec)
    return [(i.path, i.message) for i in info.value.issues]


def test_a_derived_object_refers_to_every_image_of_its_study_by_default() -> None:
    plan = plan_of(one_study(IMAGES, {"iod": "kos"}))
    images, (kos,) = plan.studies[0].series[0].instances, plan.studies[0].series[1].instances
    assert [r.sop_instance_uid for r in kos.references] == [i.sop_instance_uid for i in images]
    assert all(r.instance is i for r, i in zip(kos.references, images, strict=True))


def test_a_reference_may_name_an_instance_planned_after_the_object() -> None:
    """A rejection note sent before the images it rejects (the order of the spec is the order of
    ingest): the KOS comes first and still names the images."""
    plan = plan_of(
        one_study({"iod": "kos", "references": ["LMLO", "series[1].instances[0]"]}, IMAGES)
    )
    (kos,) = plan.studies[0].series[0].instances
    images = plan.studies[0].series[1].instances
    assert [r.instance for r in kos.references] == [images[3], images[0]]


def test_references_reach_another_study_and_instances_outside_the_dataset() -> None:
    spec = {
        "patients": [
            {
                "studies": [
                    {
                        "series": [
                            IMAGES,
                            {
                                "iod": "kos",
                                "references": [
                                    "studies[1].RCC",
                                    {"sop_instance_uid": "2.25.1234567890"},
                                ],
                            },
                        ]
                    },
                    {"role": "prior", "date": "-2y", "series": [IMAGES]},
                ]
            }
        ]
    }
    plan = plan_of(spec)
    (kos,) = plan.studies[0].series[1].instances
    prior_rcc = plan.studies[1].series[0].instances[0]
    other, foreign = kos.references
    assert other.instance is prior_rcc and other.study_instance_uid == plan.studies[1].uid
    assert foreign.instance is None and foreign.sop_instance_uid == "2.25.1234567890"
    assert foreign.study_instance_uid == plan.studies[0].uid  # default: the object's own study
    assert foreign.series_instance_uid.startswith("2.25.")


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("RXCCL", "the study has no RXCCL image"),
        ("series[5]", "the study has 2 series, not a series[5]"),
        ("series[0].instances[9]", "series[0] has 4 instances, not an instances[9]"),
        ("studies[3].RCC", "the patient has 1 studies, not a studies[3]"),
        ("every image", "is not a reference"),
        ("series[1].instances[0]", "an object cannot refer to itself"),
    ],
)
def test_a_bad_reference_names_its_path(reference: str, message: str) -> None:
    found = issues_of(one_study(IMAGES, {"iod": "kos", "references": [reference]}))
    path = "patients[0].studies[0].series[1].instances[0].references[0]"
    assert any(p == path and message in m for p, m in found), found


def test_images_take_no_references_and_no_content() -> None:
    found = issues_of(
        one_study({**IMAGES, "references": ["RCC"], "content": {"title": "key_images"}})
    )
    paths = {p for p, _ in found}
    assert "patients[0].studies[0].series[0].references" in paths
    assert "patients[0].studies[0].series[0].content.title" in paths


def test_content_an_iod_does_not_read_is_refused_with_the_fields_it_does() -> None:
    with pytest.raises(SpecError) as info:
        plan_of(one_study(IMAGES, {"iod": "kos", "content": {"segmentation": "binary"}}))
    (issue,) = info.value.issues
    assert issue.path == "patients[0].studies[0].series[1].content.segmentation"
    assert "kos reads no content.segmentation" in issue.message
    assert issue.suggestion is not None and "title" in issue.suggestion


def test_a_derived_object_in_a_study_without_images_is_refused() -> None:
    found = issues_of(one_study({"iod": "kos"}))
    assert any(p.endswith("instances[0].references") for p, _ in found), found
