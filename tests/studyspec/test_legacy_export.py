"""Export to the predecessor's power-customize config: the reverse of ``legacy.convert``.

Round trip: spec → export → convert → plan gives the same concrete values per instance; what the
old format cannot express is refused with one issue per path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dicomfab import Spec, SpecError, make_plan
from dicomfab.builder.plan_model import Plan
from dicomfab.output import legacy_export
from dicomfab.studyspec import legacy
from dicomfab.studyspec.loading import parse_spec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "legacy" / "power-customize.json"

#: instance tags that override a patient or study value: compare the value in effect
_LEVEL_TAGS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyDescription",
    "AccessionNumber",
    "StudyID",
)


def key_values(plan: Plan) -> list[dict[str, Any]]:
    """Every instance's concrete key values, as the files would carry them, by SOP Instance UID
    (the old format orders studies current, internal priors, external priors)."""
    rows = []
    for inst in plan.instances:
        patient, study = inst.patient, inst.study
        tags = {ref.label: value.value for ref, value in inst.tags.items()}
        level = {
            "PatientName": patient.name,
            "PatientID": patient.patient_id,
            "PatientBirthDate": patient.birth_date.strftime("%Y%m%d")
            if patient.birth_date
            else None,
            "PatientSex": patient.sex,
            "StudyInstanceUID": study.uid,
            "StudyDate": study.date.strftime("%Y%m%d"),
            "StudyDescription": study.description,
            "AccessionNumber": study.accession_number,
            "StudyID": study.study_id,
        }
        effective = {k: tags.pop(k, v) for k, v in level.items()}
        rows.append(
            {
                "role": study.role,
                "sop": inst.sop_instance_uid,
                "view": inst.view.name if inst.view else None,
                "iod": inst.iod.name,
                "file_name": inst.file_name,
                "skip_writing": inst.skip_writing,
                "permissive": inst.permissive,
                "pixels": (
                    inst.pixels.rows,
                    inst.pixels.columns,
                    inst.pixels.bits_allocated or (16 if (inst.pixels.bits_stored or 8) > 8 else 8),
                    inst.pixels.bits_stored,
                    inst.pixels.drawn_lesion(),
                ),
                **effective,
                "tags": tags,
            }
        )
    return sorted(rows, key=lambda row: str(row["sop"]))


def round_trip(spec: Spec) -> tuple[dict[str, Any], list[str], Spec]:
    data, notes = legacy_export.export(spec)
    json.dumps(data)  # plain JSON data
    again = parse_spec(json.loads(json.dumps(data)))
    return data, notes, again


def test_example_config_round_trips() -> None:
    spec = parse_spec(json.loads(EXAMPLE.read_text()))
    data, notes, again = round_trip(spec)
    assert set(data) == {"current_study", "internal_priors", "external_priors"}
    assert [s["count"] for s in data["internal_priors"]] == [4, 2]
    first = data["current_study"]["images"][0]
    assert first["CustomFileName"] == "current_rcc.dcm"
    assert first["tags"]["ViewPosition"] == "RCC"
    assert (first["tags"]["Rows"], first["tags"]["Columns"]) == (2294, 1914)
    assert data["current_study"]["images"][1]["tags"]["Private_0029_1010"] == "reviewed"
    assert data["current_study"]["images"][3]["skip_writing"] is True
    assert data["current_study"]["cancerous"] is True
    assert data["internal_priors"][1]["images"][1]["force_bits_mismatch"] is True
    assert data["external_priors"][0]["images"][0]["force_unsupported_dicom"] is True
    assert any("fixed values" in n for n in notes)

    before, after = key_values(make_plan(spec)), key_values(make_plan(again))
    assert after == before
    # the round trip is stable: exporting the converted export gives the same config
    assert legacy_export.export(again)[0] == data


def test_small_specs_round_trip() -> None:
    specs = [
        {},
        {
            "seed": 7,
            "uid_root": "1.2.826.0.1.3680043.10.999",
            "patients": [
                {
                    "name": "Roe^Ann",
                    "birth_date": "1970-05-06",
                    "sex": "F",
                    "tags": {"InstitutionName": "Clinic"},
                    "studies": [
                        {"role": "prior", "date": "-3y", "accession_number": "P1"},
                        {
                            "role": "current",
                            "date": "2025-01-02",
                            "uid": "1.2.3.4",
                            "study_id": "77",
                            "pixels": {"lesion": "mass"},
                            "series": [
                                {
                                    "views": ["LCC", "LMLO"],
                                    "pixels": {"size": "small", "bits_stored": 10},
                                    "instances": [
                                        {
                                            "sop_instance_uid": "1.2.3.4.1",
                                            "tags": {
                                                "PatientID": "OTHER",
                                                "ContentDate": "-1d",
                                                '(0029,"DICOMFAB LEGACY",20)': {
                                                    "vr": "US",
                                                    "value": 3,
                                                },
                                            },
                                        },
                                        {"iod": "mg-processing", "file_name": "raw.dcm"},
                                    ],
                                }
                            ],
                        },
                        {"role": "external_prior", "series": [{"count": 1, "iod": "pdf"}]},
                    ],
                }
            ],
        },
    ]
    for data in specs:
        spec = Spec.model_validate(data)
        _, notes, again = round_trip(spec)
        assert key_values(make_plan(again)) == key_values(make_plan(spec)), data
        assert notes


US_3 = {"vr": "US", "value": 3}  # not the VR a plain 3 gets (SL): kept as {vr, value}


def test_reordered_studies_note_and_private_vr_kept() -> None:
    spec = Spec.model_validate(
        {
            "patients": [
                {
                    "studies": [
                        {"role": "prior"},
                        {
                            "role": "current",
                            "series": [
                                {
                                    "count": 1,
                                    "instances": [{"tags": {'(0029,"DICOMFAB LEGACY",20)': US_3}}],
                                }
                            ],
                        },
                    ]
                }
            ]
        }
    )
    old, notes, _ = round_trip(spec)
    assert old["current_study"]["images"][0]["tags"]["Private_0029_1020"] == US_3
    assert any("order" in n for n in notes)


def test_what_the_old_format_cannot_express_is_refused_with_paths() -> None:
    spec = Spec.model_validate(
        {
            "patients": [
                {
                    "studies": [
                        {
                            "transfer_syntax": "jpeg2000-lossless",
                            "series": [
                                {
                                    "instances": [
                                        {"tags": {'(0029,"ACME",10)': {"vr": "LO", "value": "x"}}}
                                    ]
                                }
                            ],
                        },
                        {"role": "prior", "iod": "dx"},
                    ]
                },
                {},
            ]
        }
    )
    with pytest.raises(SpecError) as info:
        legacy_export.export(spec)
    paths = {i.path for i in info.value.issues}
    assert paths == {
        "patients",
        "patients[0].studies[0].transfer_syntax",
        "patients[0].studies[0].series[0].instances[0].tags." + '(0029,"ACME",10)',
        "patients[0].studies[1].iod",
    }
    assert all(i.message.startswith("the old format cannot express") for i in info.value.issues)


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"defaults": {"remove_tags": ["InstitutionName"]}}, "defaults.remove_tags"),
        (
            {
                "patients": [
                    {"studies": [{"series": [{"permissive": True, "remove_tags": ["PixelData"]}]}]}
                ]
            },
            "patients[0].studies[0].series[0].remove_tags",
        ),
        (
            {"patients": [{"studies": [{}, {}]}]},
            "patients[0].studies[1].role",
        ),
        (
            {"patients": [{"pixels": {"calcifications": True}}]},
            "patients[0].pixels.calcifications",
        ),
        (
            {"patients": [{"studies": [{"series": [{"pixels": {"pattern": "gradient"}}]}]}]},
            "patients[0].studies[0].series[0].pixels.pattern",
        ),
        (
            {
                "defaults": {
                    "tags": {"ReferencedStudySequence": [{"ReferencedSOPInstanceUID": "1.2"}]}
                }
            },
            "defaults.tags.ReferencedStudySequence",
        ),
        (
            {
                "patients": [
                    {
                        "studies": [
                            {
                                "series": [
                                    {
                                        "instances": [
                                            {
                                                "permissive": True,
                                                "remove_tags": ["PixelData", "InstitutionName"],
                                            }
                                        ]
                                    }
                                ]
                            }
                        ]
                    }
                ]
            },
            "patients[0].studies[0].series[0].instances[0].remove_tags",
        ),
    ],
)
def test_each_refusal_names_its_path(data: dict[str, Any], path: str) -> None:
    with pytest.raises(SpecError) as info:
        legacy_export.export(Spec.model_validate(data))
    assert [i.path for i in info.value.issues] == [path]


def test_the_exported_config_is_read_as_legacy() -> None:
    old, _, _ = round_trip(Spec())
    assert legacy.is_legacy(old)
    assert old["current_study"]["count"] == 4


def test_image_lesions_and_cut_pixel_data_round_trip() -> None:
    """An image's own lesion (a mass) and a Pixel Data cut to half are the old image's
    ``cancerous`` and ``force_corrupt_pixel``; another fraction is refused."""
    corrupt = {"truncate_pixel_data": 0.5, "permissive": True}
    spec = Spec.model_validate(
        {
            "defaults": {"pixels": {"size": "small"}},
            "patients": [
                {
                    "studies": [
                        {"series": [{"instances": [{"pixels": {"lesion": "mass"}}, corrupt]}]},
                        {
                            "role": "prior",
                            "pixels": {"lesion": "mass"},
                            "series": [{"instances": [{}, {"pixels": {"lesion": "none"}}]}],
                        },
                    ]
                }
            ],
        }
    )
    data, _, again = round_trip(spec)
    current, prior = data["current_study"], data["internal_priors"][0]
    assert [i.get("cancerous") for i in current["images"]] == [True, None]
    assert current["images"][1]["force_corrupt_pixel"] is True
    assert prior["cancerous"] is True
    assert [i.get("cancerous") for i in prior["images"]] == [None, False]
    assert key_values(make_plan(again)) == key_values(make_plan(spec))
    cut = again.patients[0].studies[0].series[0].instances[1]
    assert (cut.truncate_pixel_data, cut.permissive) == (0.5, True)

    other = {
        "patients": [
            {"studies": [{"series": [{"instances": [{**corrupt, "truncate_pixel_data": 0.3}]}]}]}
        ]
    }
    with pytest.raises(SpecError) as info:
        legacy_export.export(Spec.model_validate(other))
    (issue,) = info.value.issues
    assert issue.path == "patients[0].studies[0].series[0].instances[0].truncate_pixel_data"


def test_the_old_wizards_config_round_trips() -> None:
    """A config in the old wizard's shape, imported (one series per view, Laterality kept on
    permissive images, per-image lesions and faults), exports back to a config that plans the
    same files, series UIDs included."""
    wizard = Path(__file__).resolve().parents[1] / "data" / "legacy" / "wizard_config.json"
    spec = parse_spec(json.loads(wizard.read_text()))
    data, _, again = round_trip(spec)
    before, after = make_plan(spec), make_plan(again)
    assert key_values(after) == key_values(before)
    series = [[se.uid for se in s.series] for s in before.studies]
    assert [[se.uid for se in s.series] for s in after.studies] == series
    assert [len(s) for s in series] == [4, 4, 4, 4, 4]
    images = [i for s in data["internal_priors"] for i in s["images"]]
    assert sum(bool(i.get("force_corrupt_pixel")) for i in images) == 1
    assert sum(bool(i.get("no_pixel_data")) for i in images) == 1
    assert sum(bool(i.get("force_bits_mismatch")) for i in images) == 1  # only the forced one
    assert all(i["tags"]["Laterality"] == "R" for i in images)
    assert legacy_export.export(again)[0] == data


@pytest.mark.parametrize(("layout", "noted"), [("list", True), ("chain", False)])
def test_export_notes_that_the_old_records_chain_external_priors(layout: str, noted: bool) -> None:
    studies = [{}, {"role": "external_prior"}]
    spec = Spec.model_validate(
        {"records": {"external_priors": layout}, "patients": [{"studies": studies}]}
    )
    _, notes, again = round_trip(spec)
    assert any("external_priors: chain" in n for n in notes) is noted
    assert again.records.external_priors == "chain"  # an old config is read with the old layout


def test_calcifications_are_exported_as_cancerous_with_a_note() -> None:
    """The old format has one lesion flag, which dicomfab imports as a spiculated mass: a spec's
    calcifications are written as ``cancerous`` and the note says what they come back as."""
    spec = Spec.model_validate({"patients": [{"studies": [{"pixels": {"calcifications": True}}]}]})
    data, notes, again = round_trip(spec)
    assert data["current_study"]["cancerous"] is True
    assert any("draws as a spiculated mass" in note for note in notes)
    pixels = again.patients[0].studies[0].pixels
    assert pixels is not None and pixels.drawn_lesion() == "mass"
