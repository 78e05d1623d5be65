"""Catalogue cases whose point is inside the pixel data or the codestream, where the twin test
(tests/scenarios/test_library.py) sees only that attributes differ: each file says what the
scenario's description promises."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames

from dicomfab import generate
from dicomfab.scenarios import compose, scenarios
from dicomfab.scenarios.profiles import load_profiles


def _files(tmp_path: Path, name: str, **params: object) -> list[Dataset]:
    composed = compose(scenarios()[name], {"image_size": "small", **params}, load_profiles())
    result = generate(composed.spec, tmp_path, workers=1, plan=composed.plan)
    return [
        pydicom.dcmread(result.path / inst.file)
        for inst in result.manifest.instances()
        if inst.written
    ]


def _first_frame(ds: Dataset) -> bytes:
    return next(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1))))


def test_j2k_precision_differs_from_bits_stored_as_described(tmp_path: Path) -> None:
    found = {}
    for ds in _files(tmp_path, "pr_j2k_precision_mismatch"):
        if ds.file_meta.TransferSyntaxUID.keyword != "JPEG2000Lossless":
            assert (ds.BitsStored, ds.HighBit) == (14, 13)  # the current
            continue
        frame = _first_frame(ds)
        siz = frame.index(b"\xff\x51")
        precision = (frame[siz + 40] & 0x7F) + 1  # Ssiz of the first component
        found[ds.InstanceNumber] = (ds.BitsAllocated, ds.BitsStored, ds.HighBit, precision)
    assert found == {
        1: (16, 10, 9, 12),
        2: (16, 16, 15, 14),
        3: (16, 12, 11, 8),
        4: (16, 12, 11, 12),
    }


def test_patient_sex_other_is_written_everywhere(tmp_path: Path) -> None:
    files = _files(tmp_path, "patient_sex_other")
    assert len(files) == 8
    assert {ds.PatientSex for ds in files} == {"O"}


#: View CID 4014 codes of the screening views (SCT)
BREAST_VIEW_CODES = {"CC": "399162004", "MLO": "399368009"}


def test_dx_breast_prior_has_the_breast_view_codes_it_describes(tmp_path: Path) -> None:
    """prior_cr_or_dx_sop_mg_modality: the DX priors carry the mammography ViewCodeSequence of
    their own view, the CR priors none (catalogue D.42)."""
    kinds = set()
    for ds in _files(tmp_path, "prior_cr_or_dx_sop_mg_modality"):
        kind = ds.SOPClassUID.name
        kinds.add(kind)
        if "Digital X-Ray" in kind:
            (code,) = ds.ViewCodeSequence
            assert code.CodingSchemeDesignator == "SCT"
            assert code.CodeValue == BREAST_VIEW_CODES[ds.ViewPosition]
            assert ds.PositionerType == "MAMMOGRAPHIC"
        elif "Computed Radiography" in kind:
            assert "ViewCodeSequence" not in ds
    assert len(kinds) == 3  # MG current, CR prior, DX prior


def test_hologic_tomo_is_multi_frame_secondary_capture(tmp_path: Path) -> None:
    files = _files(tmp_path, "hologic_dbt_multiframe_sc", frames=3)
    stacks = [ds for ds in files if ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7.3"]
    assert [ds.ImageLaterality for ds in sorted(stacks, key=lambda d: d.InstanceNumber)] == [
        "R",
        "L",
        "R",
        "L",
    ]
    for ds in stacks:
        assert ds.NumberOfFrames == 3 and ds.pixel_array.shape[0] == 3
        assert ds.FrameIncrementPointer == 0x00182005  # Slice Location Vector
        assert ds.Modality == "MG" and ds.ConversionType == "WSD"
        assert ds[0x7E010010].value == "HOLOGIC, Inc."


def test_screen_capture_is_rgb_with_burned_in_annotation(tmp_path: Path) -> None:
    (capture,) = [ds for ds in _files(tmp_path, "sc_screenshot_rgb_text") if ds.Modality == "OT"]
    assert (capture.SamplesPerPixel, capture.PhotometricInterpretation) == (3, "RGB")
    assert capture.BurnedInAnnotation == "YES"
    pixels = capture.pixel_array
    assert pixels.shape == (768, 1024, 3)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 3  # text, viewport and mark
