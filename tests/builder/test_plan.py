"""The planner: defaults and inheritance, dates, views, errors with their paths."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pydicom
import pytest

from dicomfab import SpecError, make_plan, parse_spec


def plan_of(spec: dict[str, Any]):  # type: ignore[no-untyped-def]
    return make_plan(parse_spec(spec))


def test_empty_spec_is_one_current_four_view_mammogram() -> None:
    plan = plan_of({})
    (inst_views,) = [[i.view.name for i in se.instances] for s in plan.studies for se in s.series]
    assert inst_views == ["RCC", "LCC", "RMLO", "LMLO"]
    assert plan.studies[0].role == "current"
    assert plan.instances[0].iod.name == "mg-presentation"
    assert (plan.instances[0].pixels.rows, plan.instances[0].pixels.columns) == (3328, 2560)


def test_deeper_levels_override_shallower_ones() -> None:
    plan = plan_of(
        {
            "defaults": {
                "tags": {"InstitutionName": "A", "StationName": "S"},
                "transfer_syntax": "rle",
            },
            "patients": [
                {
                    "tags": {"InstitutionName": "B"},
                    "studies": [
                        {
                            "tags": {"InstitutionName": "C"},
                            "series": [
                                {
                                    "count": 2,
                                    "transfer_syntax": "explicit-le",
                                    "instances": [{"tags": {"InstitutionName": "D"}}],
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    )
    values = [{r.keyword: v.value for r, v in i.tags.items()} for i in plan.instances]
    assert values == [
        {"InstitutionName": "D", "StationName": "S"},
        {"InstitutionName": "C", "StationName": "S"},
    ]
    assert [i.transfer_syntax.name for i in plan.instances] == ["explicit-le"] * 2


def test_relative_dates_count_from_the_current_study() -> None:
    plan = plan_of(
        {
            "patients": [
                {
                    "birth_date": "-60y",
                    "studies": [
                        {"role": "prior", "date": "-2y", "tags": {"ContentDate": "-2y1d"}},
                        {"role": "current", "date": "2024-05-10"},
                        {"role": "external_prior"},
                        {"role": "prior"},
                    ],
                }
            ]
        }
    )
    dates = [s.date for s in plan.studies]
    assert dates == [
        dt.date(2022, 5, 10),
        dt.date(2024, 5, 10),
        dt.date(2023, 2, 10),
        dt.date(2022, 5, 10),
    ]
    assert plan.patients[0].birth_date == dt.date(1964, 5, 10)
    (content_date,) = plan.studies[0].series[0].instances[0].tags.values()
    assert content_date.value == "20220509"


def test_every_problem_is_reported_with_its_path() -> None:
    with pytest.raises(SpecError) as info:
        plan_of(
            {
                "patients": [
                    {
                        "studies": [
                            {},
                            {
                                "series": [
                                    {
                                        "tags": {"PatientNmae": "x", "Rows": "many"},
                                        "transfer_syntax": "jpeg2001",
                                        "iod": "mgg",
                                    }
                                ]
                            },
                        ]
                    }
                ]
            }
        )
    text = str(info.value)
    assert "patients[0].studies[1].series[0].tags.PatientNmae: unknown DICOM keyword" in text
    assert "did you mean PatientName?" in text
    assert "patients[0].studies[1].series[0].iod: unknown IOD 'mgg'" in text
    assert len(info.value.issues) >= 2


def test_pixel_tags_steer_the_generator_unless_permissive() -> None:
    plan = plan_of({"defaults": {"tags": {"Rows": 128, "Columns": 96, "BitsStored": 10}}})
    inst = plan.instances[0]
    assert (inst.pixels.rows, inst.pixels.columns, inst.pixels.bits_stored) == (128, 96, 10)
    assert inst.tags == {}
    with pytest.raises(SpecError, match="HighBit follows from the pixel options"):
        plan_of({"defaults": {"tags": {"HighBit": 14}}})


def test_bits_mismatch_is_written_as_given_when_permissive(make_dataset: Any) -> None:
    result = make_dataset(
        {
            "patients": [
                {
                    "studies": [
                        {
                            "series": [
                                {
                                    "count": 1,
                                    "instances": [
                                        {
                                            "permissive": True,
                                            "tags": {
                                                "Rows": 64,
                                                "Columns": 48,
                                                "BitsAllocated": 12,
                                                "BitsStored": 15,
                                                "HighBit": 14,
                                            },
                                        }
                                    ],
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    )
    (inst,) = result.manifest.instances()
    ds = pydicom.dcmread(result.path / inst.file)
    assert (ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (
        64,
        48,
        12,
        15,
        14,
    )


def test_removing_a_required_attribute_needs_permissive() -> None:
    with pytest.raises(SpecError, match="ImageLaterality is required"):
        plan_of({"defaults": {"remove_tags": ["ImageLaterality"]}})
    plan = plan_of({"defaults": {"remove_tags": ["ImageLaterality"], "permissive": True}})
    assert [r.keyword for r in plan.instances[0].remove] == ["ImageLaterality"]


def test_duplicate_file_names_are_refused() -> None:
    with pytest.raises(SpecError, match="already used"):
        plan_of(
            {
                "patients": [
                    {
                        "studies": [
                            {
                                "series": [
                                    {"instances": [{"file_name": "a.dcm"}, {"file_name": "a.dcm"}]}
                                ]
                            }
                        ]
                    }
                ]
            }
        )


@pytest.mark.parametrize(
    ("pixels", "message"),
    [
        ({"frames": 3}, "single-frame IOD"),
        ({"bits_stored": 4}, "holds 6–16 bits stored"),
        ({"bits_stored": 12, "bits_allocated": 8}, "at most 8 bits stored"),
    ],
)
def test_pixel_options_the_iod_cannot_hold(pixels: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        plan_of({"defaults": {"pixels": pixels}})


@pytest.mark.parametrize(
    ("size", "expected"), [("full", (3328, 2560)), ("reduced", (1664, 1280)), ("small", (256, 197))]
)
def test_size_presets_scale_the_iod_default(size: str, expected: tuple[int, int]) -> None:
    inst = plan_of({"defaults": {"pixels": {"size": size}}}).instances[0]
    assert (inst.pixels.rows, inst.pixels.columns) == expected
    explicit = plan_of({"defaults": {"pixels": {"size": size, "rows": 100}}}).instances[0]
    assert explicit.pixels.rows == 100
