"""Segmentation and AI capture: a SEG of the findings on one mammogram or DBT object and an RGB
AI result screen drawn from one mammogram are valid, deterministic, refer to real instances of
the dataset (and frames), and mark the breast; what they cannot do is refused at validate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from dicomfab import generate, parse_spec
from dicomfab.builder.iods import registry
from dicomfab.builder.pixels import capture
from dicomfab.builder.plan import make_plan
from dicomfab.errors import SpecError
from dicomtools import dciodvfy, dcmdump

PIXELS = {"rows": 192, "columns": 160}


def _spec(*derived: dict[str, Any], dbt_frames: int = 0) -> dict[str, Any]:
    images: list[dict[str, Any]] = [{"iod": "mg"}]  # the four screening views
    if dbt_frames:
        images.append({"iod": "dbt", "views": ["LMLO"], "pixels": {"frames": dbt_frames}})
    return {
        "name": "seg-ai",
        "seed": 5,
        "defaults": {"pixels": dict(PIXELS)},
        "patients": [{"studies": [{"series": [*images, *derived]}]}],
    }


def _generate(tmp: Path, spec: dict[str, Any]) -> dict[str, pydicom.Dataset]:
    """Every file of the dataset by SOP Instance UID (with its path in ``filename``)."""
    result = generate(parse_spec(spec), tmp, workers=1)
    found = {}
    for inst in result.manifest.instances():
        ds = pydicom.dcmread(result.path / inst.file)
        found[str(ds.SOPInstanceUID)] = ds
    return found


def _of(files: dict[str, pydicom.Dataset], modality: str) -> list[pydicom.Dataset]:
    return [ds for ds in files.values() if ds.Modality == modality]


def _centroid(mask: np.ndarray) -> tuple[int, int]:
    rows, columns = np.nonzero(mask)
    return round(float(rows.mean())), round(float(columns.mean()))


@pytest.mark.parametrize("kind", ["binary", "fractional"])
def test_seg_is_valid_deterministic_and_marks_the_breast_of_its_image(
    tmp_path: Path, kind: str
) -> None:
    spec = _spec({"iod": "seg", "references": ["RCC"], "content": {"segmentation": kind}})
    files = _generate(tmp_path / "a", spec)
    (seg,) = _of(files, "SEG")
    path = Path(seg.filename)
    assert dciodvfy(path).errors == [], dciodvfy(path).output
    assert "(0062,0002)" in dcmdump(path)  # SegmentSequence, read by DCMTK
    assert seg.SegmentationType == kind.upper()
    if kind == "fractional":
        assert seg.MaximumFractionalValue == 255
        assert 0 < int(seg.pixel_array.max()) <= 255
        assert len(np.unique(seg.pixel_array)) > 2  # a soft rim, not a disc of one value

    # the real RCC image, everywhere the SEG names its source
    (rcc,) = [
        ds for ds in _of(files, "MG") if ds.ViewPosition == "CC" and ds.ImageLaterality == "R"
    ]
    series = seg.ReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == rcc.SeriesInstanceUID
    assert series.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == rcc.SOPInstanceUID
    assert seg.SourceImageSequence[0].ReferencedSOPInstanceUID == rcc.SOPInstanceUID
    for frame in seg.PerFrameFunctionalGroupsSequence:
        source = frame.DerivationImageSequence[0].SourceImageSequence[0]
        assert source.ReferencedSOPInstanceUID == rcc.SOPInstanceUID
    assert seg.PatientID == rcc.PatientID and seg.StudyInstanceUID == rcc.StudyInstanceUID

    # the mask's centre lies on breast (the background of a mammogram is 0)
    row, column = _centroid(seg.pixel_array)
    assert rcc.pixel_array[row, column] > 0

    again = _generate(tmp_path / "b", spec)
    assert Path(again[seg.SOPInstanceUID].filename).read_bytes() == path.read_bytes()


def test_seg_of_a_dbt_object_names_the_frames_around_the_finding(tmp_path: Path) -> None:
    spec = _spec(
        {"iod": "seg", "references": ["series[1]"], "content": {"findings": [{"size_mm": 4}]}},
        dbt_frames=15,
    )
    files = _generate(tmp_path, spec)
    (seg,) = _of(files, "SEG")
    assert dciodvfy(Path(seg.filename)).errors == []
    (dbt,) = [ds for ds in _of(files, "MG") if "NumberOfFrames" in ds]
    frames = []
    for item in seg.PerFrameFunctionalGroupsSequence:
        source = item.DerivationImageSequence[0].SourceImageSequence[0]
        assert source.ReferencedSOPInstanceUID == dbt.SOPInstanceUID
        frames.append(int(source.ReferencedFrameNumber))
    # a 4 mm ball over 1 mm slices: the middle slice (8 of 15) and its neighbours, not all
    assert 8 in frames and 1 < len(frames) < 15
    assert frames == list(range(frames[0], frames[-1] + 1))
    assert all(1 <= f <= int(dbt.NumberOfFrames) for f in frames)
    middle = frames.index(8)
    row, column = _centroid(seg.pixel_array[middle])
    assert dbt.pixel_array[7, row, column] > 0


def test_seg_has_a_segment_per_finding(tmp_path: Path) -> None:
    findings = [{"kind": "mass"}, {"kind": "calcification_cluster", "x": 0.2, "y": 0.3}]
    files = _generate(tmp_path, _spec({"iod": "seg", "content": {"findings": findings}}))
    (seg,) = _of(files, "SEG")
    assert [s.SegmentedPropertyTypeCodeSequence[0].CodeMeaning for s in seg.SegmentSequence] == [
        "Mass",
        "Calcification Cluster",
    ]
    assert seg.NumberOfFrames == 2
    second = seg.pixel_array[1]
    row, column = _centroid(second)
    assert (row, column) == (
        round(0.3 * PIXELS["rows"] - 0.5),
        round(0.2 * PIXELS["columns"] - 0.5),
    )


def test_ai_capture_burns_in_its_verdict_and_outlines_over_its_image(tmp_path: Path) -> None:
    spec = _spec({"iod": "ai-sc", "references": ["LMLO"]})
    files = _generate(tmp_path / "a", spec)
    (shot,) = _of(files, "OT")
    path = Path(shot.filename)
    assert dciodvfy(path).errors == [], dciodvfy(path).output
    assert "(0028,0301)" in dcmdump(path)
    assert shot.BurnedInAnnotation == "YES"
    assert list(shot.ImageType) == ["DERIVED", "SECONDARY"]
    assert shot.ConversionType == "WSD" and shot.DerivationDescription
    (lmlo,) = [
        ds for ds in _of(files, "MG") if ds.ImageLaterality == "L" and ds.ViewPosition == "MLO"
    ]
    assert shot.SourceImageSequence[0].ReferencedSOPInstanceUID == lmlo.SOPInstanceUID
    assert shot.ImageLaterality == "L"

    plain = capture.to_rgb(
        lmlo.pixel_array, (float(lmlo.WindowCenter), float(lmlo.WindowWidth)), inverse=False
    )
    pixels = shot.pixel_array
    assert pixels.shape == plain.shape
    changed = (pixels != plain).any(axis=2)
    (planned,) = [i for i in make_plan(parse_spec(spec)).instances if i.iod.name == "ai-sc"]
    blank = np.full_like(plain, 7)
    capture.caption(blank, capture.lines(planned))
    rows, columns = np.nonzero((blank != 7).any(axis=2))
    height, width = rows.max() + 1, columns.max() + 1  # the caption: a black box with text
    box = np.zeros_like(changed)
    text = (pixels[:height] == capture.TEXT).all(axis=2)
    if text[:, :width].sum() >= text[:, -width:].sum():
        box[:height, :width] = True
    else:  # the corner with less breast under it
        box[:height, -width:] = True
    assert (pixels[box] == capture.TEXT).all(axis=1).any()
    ring = changed & ~box
    assert ring.any()  # the outline, in colour: yellow for a mass
    assert (pixels[ring] == capture.MASS).all(axis=1).all()  # elsewhere, the image itself

    again = _generate(tmp_path / "b", spec)
    assert Path(again[shot.SOPInstanceUID].filename).read_bytes() == path.read_bytes()


def test_ai_capture_and_seg_mark_the_same_place(tmp_path: Path) -> None:
    files = _generate(tmp_path, _spec({"iod": "seg"}, {"iod": "ai-sc"}))
    (seg,) = _of(files, "SEG")
    (shot,) = _of(files, "OT")
    assert (
        seg.SourceImageSequence[0].ReferencedSOPInstanceUID
        == shot.SourceImageSequence[0].ReferencedSOPInstanceUID
    )
    row, column = _centroid(seg.pixel_array)
    ring = (shot.pixel_array == capture.MASS).all(axis=2)
    ring_row, ring_column = _centroid(ring)
    assert abs(ring_row - row) <= 2 and abs(ring_column - column) <= 2


@pytest.mark.parametrize(
    ("derived", "path", "match"),
    [
        (
            {"iod": "seg", "content": {"findings": [{"image": 0}, {"image": 1}]}},
            "content.findings[1].image",
            "marks one image",
        ),
        (
            {"iod": "seg", "references": ["RCC"], "content": {"findings": [{"image": 2}]}},
            "content.findings[0].image",
            "1 references",
        ),
        (
            {"iod": "ai-sc", "references": [{"sop_instance_uid": "2.25.1"}]},
            "references[0]",
            "not a foreign one",
        ),
        (
            [{"iod": "seg"}, {"iod": "ai-sc", "references": ["series[1].instances[0]"]}],
            "references[0]",
            "marks a greyscale image, not a Segmentation",
        ),
        ({"iod": "seg", "transfer_syntax": "rle"}, "transfer_syntax", "binary SEG"),
        ({"iod": "seg", "transfer_syntax": "jpeg-baseline"}, "transfer_syntax", "uncompressed or"),
        (
            {"iod": "ai-sc", "content": {"segmentation": "binary"}},
            "content.segmentation",
            "reads no",
        ),
    ],
)
def test_what_they_cannot_do_is_refused_at_validate(
    derived: dict[str, Any] | list[dict[str, Any]], path: str, match: str
) -> None:
    objects = derived if isinstance(derived, list) else [derived]
    with pytest.raises(SpecError) as caught:
        make_plan(parse_spec(_spec(*objects)))
    text = str(caught.value)
    assert path in text and match in text, text


def test_a_seg_of_a_foreign_image_differs_from_one_of_the_first_image_in_its_references(
    tmp_path: Path,
) -> None:
    """On purpose: the SEG's source is not in the dataset (seg_referenced_instance_missing); it is
    segmented as if it were the study's first image (RCC), so only the references differ."""
    foreign = {"iod": "seg", "references": [{"sop_instance_uid": "2.25.4242"}]}
    files = _generate(tmp_path, _spec(foreign, {"iod": "seg", "references": ["RCC"]}))
    dangling, real = sorted(_of(files, "SEG"), key=lambda ds: ds.SeriesNumber)
    assert dciodvfy(Path(dangling.filename)).errors == []
    assert dangling.SourceImageSequence[0].ReferencedSOPInstanceUID == "2.25.4242"
    assert "2.25.4242" not in files
    assert np.array_equal(dangling.pixel_array, real.pixel_array)
    derivation = dangling.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0]
    assert derivation.SourceImageSequence[0].ReferencedSOPInstanceUID == "2.25.4242"


def test_the_sc_sop_class_still_names_sc() -> None:
    found = registry.find("1.2.840.10008.5.1.4.1.1.7")
    assert found is not None and found.name == "sc"
    ai = registry.find("ai-capture")
    assert ai is not None and ai.name == "ai-sc" and ai.derived


def _seg_frames(seg: pydicom.Dataset) -> list[int]:
    return [
        int(item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedFrameNumber)
        for item in seg.PerFrameFunctionalGroupsSequence
    ]


def _framed(frames: list[int], **extra: Any) -> dict[str, Any]:
    return _spec(
        {
            "iod": "seg",
            "references": ["series[1]"],
            "content": {"findings": [{"size_mm": 4}], "source_frames": frames},
            **extra,
        },
        dbt_frames=8,
    )


def test_seg_covers_the_source_frames_asked(tmp_path: Path) -> None:
    (seg,) = _of(_generate(tmp_path, _framed([2, 3, 7])), "SEG")
    assert dciodvfy(Path(seg.filename)).errors == []
    assert _seg_frames(seg) == [2, 3, 7]  # not the slices around the finding (4, 5, 6)
    assert all(seg.pixel_array[n].any() for n in range(3))


def test_a_source_frame_past_the_image_is_refused_unless_permissive() -> None:
    with pytest.raises(SpecError) as caught:
        make_plan(parse_spec(_framed([4, 12])))
    text = str(caught.value)
    assert "series[2].instances[0].content.source_frames[1]" in text, text
    assert "past the segmented image's 8 frame(s)" in text, text


def test_a_permissive_seg_names_the_dangling_frames_and_differs_only_there(
    tmp_path: Path,
) -> None:
    pinned = {"uid_namespace": "seg-frames"}  # the same UIDs, as a scenario's clean twin has
    clean_spec = {**_framed([4, 5]), **pinned}
    broken_spec = {**_framed([12, 13], permissive=True), **pinned}
    (clean,) = _of(_generate(tmp_path / "clean", clean_spec), "SEG")
    (broken,) = _of(_generate(tmp_path / "broken", broken_spec), "SEG")
    assert dciodvfy(Path(broken.filename)).errors == []
    assert "ReferencedFrameNumber" in dcmdump(Path(broken.filename))  # DCMTK reads it
    assert _seg_frames(clean) == [4, 5] and _seg_frames(broken) == [12, 13]
    for item in broken.PerFrameFunctionalGroupsSequence:
        item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedFrameNumber -= 8
    assert broken.PerFrameFunctionalGroupsSequence == clean.PerFrameFunctionalGroupsSequence
    assert broken.PixelData == clean.PixelData
