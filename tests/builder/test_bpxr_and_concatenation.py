"""Breast Projection X-Ray images (the projections of a tomosynthesis sweep) beside their DBT
volume, and a DBT volume split into a Concatenation of instances."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from dicomfab import generate, parse_spec
from dicomfab.errors import SpecError
from dicomtools import dciodvfy, dcmdump

BPXR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.13.1.4"
BPXR_PROCESSING = "1.2.840.10008.5.1.4.1.1.13.1.5"
DBT = "1.2.840.10008.5.1.4.1.1.13.1.3"
SMALL = {"rows": 96, "columns": 80}


def _generate(tmp: Path, series: list[dict[str, Any]], seed: int = 3) -> list[pydicom.Dataset]:
    spec = {
        "seed": seed,
        "uid_namespace": "bpxr-tests",  # the same UIDs whatever else the spec says
        "defaults": {"pixels": SMALL},
        "patients": [{"studies": [{"series": series}]}],
    }
    result = generate(parse_spec(spec), tmp, workers=1)
    return [pydicom.dcmread(result.path / i.file) for i in result.manifest.instances()]


def _laterality(ds: pydicom.Dataset) -> str:
    return str(ds.SharedFunctionalGroupsSequence[0].FrameAnatomySequence[0].FrameLaterality)


def _files(tmp: Path) -> list[Path]:
    return sorted(tmp.rglob("*.dcm"))


@pytest.mark.parametrize(
    ("iod", "sop_class"), [("bpxr", BPXR_PRESENTATION), ("bpxr-processing", BPXR_PROCESSING)]
)
def test_projections_are_valid_with_one_frame_per_tube_angle(
    tmp_path: Path, iod: str, sop_class: str
) -> None:
    (ds,) = _generate(tmp_path, [{"iod": iod, "views": ["LMLO"], "pixels": {"frames": 9}}])
    (path,) = _files(tmp_path)
    assert dciodvfy(path).errors == []
    assert sop_class in dcmdump(path)
    assert ds.SOPClassUID == sop_class and ds.NumberOfFrames == 9
    assert ds.pixel_array.shape == (9, 96, 80)
    angles = [
        float(item.PositionerPositionSequence[0].PositionerPrimaryAngle)
        for item in ds.PerFrameFunctionalGroupsSequence
    ]
    assert angles == sorted(angles) and len(set(angles)) == 9  # one angle per projection
    assert angles[0] == -angles[-1] == -7.5 and angles[4] == 0  # a symmetric ±7.5° sweep
    assert ds.ImageType[2] == "TOMO_PROJ"
    intent = "FOR PRESENTATION" if iod == "bpxr" else "FOR PROCESSING"
    assert ds.PresentationIntentType == intent


def test_dbt_beside_its_projections_shares_their_frame_of_reference_and_names_them(
    tmp_path: Path,
) -> None:
    datasets = _generate(
        tmp_path,
        [
            {"views": ["RCC", "LCC"]},
            {"iod": "bpxr", "views": ["RCC", "LCC"], "pixels": {"frames": 5}},
            {"iod": "dbt", "views": ["RCC", "LCC"], "pixels": {"frames": 4}},
        ],
    )
    for path in _files(tmp_path):
        assert dciodvfy(path).errors == [], path
    projections = {_laterality(d): d for d in datasets if d.SOPClassUID == BPXR_PRESENTATION}
    volumes = [d for d in datasets if d.SOPClassUID == DBT]
    assert len(volumes) == 2 and set(projections) == {"R", "L"}
    for volume in volumes:
        projection = projections[_laterality(volume)]
        assert volume.FrameOfReferenceUID == projection.FrameOfReferenceUID
        (study,) = volume.ContributingSourcesSequence[0].ContributingSOPInstancesReferenceSequence
        assert study.StudyInstanceUID == projection.StudyInstanceUID
        (series,) = study.ReferencedSeriesSequence
        assert series.SeriesInstanceUID == projection.SeriesInstanceUID
        (instance,) = series.ReferencedInstanceSequence
        assert instance.ReferencedSOPInstanceUID == projection.SOPInstanceUID
        assert instance.ReferencedSOPClassUID == BPXR_PRESENTATION
    assert volumes[0].FrameOfReferenceUID != volumes[1].FrameOfReferenceUID  # one per breast


def test_dbt_without_projections_is_unchanged(tmp_path: Path) -> None:
    series = [{"iod": "dbt", "views": ["RCC"], "pixels": {"frames": 3}}]
    alone = _generate(tmp_path / "a", series)[0]
    assert "ContributingSOPInstancesReferenceSequence" not in alone.ContributingSourcesSequence[0]
    # a projection of the other breast is not this volume's source
    beside = _generate(tmp_path / "b", [*series, {"iod": "bpxr", "views": ["LCC"]}])[0]
    assert beside.SOPClassUID == DBT
    assert "ContributingSOPInstancesReferenceSequence" not in beside.ContributingSourcesSequence[0]


def test_projections_are_deterministic(tmp_path: Path) -> None:
    series = [{"iod": "bpxr", "views": ["RCC"], "pixels": {"frames": 4}}]
    _generate(tmp_path / "a", series)
    _generate(tmp_path / "b", series)
    (a,), (b,) = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("iod", ["dbt", "bpxr"])
def test_concatenation_splits_one_object_into_valid_parts(tmp_path: Path, iod: str) -> None:
    frames = 7
    whole = _generate(tmp_path / "whole", [{"iod": iod, "views": ["RCC"], "pixels": {"frames": 7}}])
    parts = _generate(
        tmp_path / "parts",
        [{"iod": iod, "views": ["RCC"], "pixels": {"frames": frames, "concatenation": 3}}],
    )
    for path in _files(tmp_path / "parts"):
        assert dciodvfy(path).errors == [], path
        dcmdump(path)
    assert [p.NumberOfFrames for p in parts] == [3, 3, 1]
    assert [p.InConcatenationNumber for p in parts] == [1, 2, 3]
    assert {p.InConcatenationTotalNumber for p in parts} == {3}
    assert [p.ConcatenationFrameOffsetNumber for p in parts] == [0, 3, 6]
    assert len({p.ConcatenationUID for p in parts}) == 1
    assert {p.SOPInstanceUIDOfConcatenationSource for p in parts} == {whole[0].SOPInstanceUID}
    assert len({p.SOPInstanceUID for p in parts} | {whole[0].SOPInstanceUID}) == 4
    assert {p.InstanceNumber for p in parts} == {whole[0].InstanceNumber}
    # the parts' frames and per-frame groups, in order, are the whole object's
    stacked = np.concatenate([p.pixel_array.reshape(-1, 96, 80) for p in parts])
    np.testing.assert_array_equal(stacked, whole[0].pixel_array)
    per_frame = [item for p in parts for item in p.PerFrameFunctionalGroupsSequence]
    assert per_frame == list(whole[0].PerFrameFunctionalGroupsSequence)


def test_concatenation_is_refused_where_the_iod_has_none(tmp_path: Path) -> None:
    spec = {
        "defaults": {"iod": "sc-multiframe", "pixels": {"frames": 4, "concatenation": 2}},
        "patients": [{"studies": [{"series": [{"count": 1}]}]}],
    }
    with pytest.raises(SpecError, match="concatenation"):
        generate(parse_spec(spec), tmp_path, workers=1)
