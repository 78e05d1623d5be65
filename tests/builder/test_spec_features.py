"""Spec features end to end: sequences, private elements, character sets, removals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydicom
import pytest

from dicomfab import SpecError, make_plan, parse_spec
from dicomtools import dciodvfy


def test_sequences_private_elements_and_utf8(make_dataset: Any) -> None:
    spec = {
        "defaults": {"pixels": {"rows": 32, "columns": 32}},
        "patients": [
            {
                "name": "Müller^Zoë",
                "tags": {
                    "OtherPatientIDsSequence": [
                        {
                            "PatientID": "X1",
                            "IssuerOfPatientID": "SITE A",
                            "TypeOfPatientID": "TEXT",
                        },
                        {
                            "PatientID": "X2",
                            "IssuerOfPatientID": "SITE B",
                            "TypeOfPatientID": "TEXT",
                        },
                    ],
                    '(0029,"SIEMENS CSA HEADER",08)': "IMAGE NUM 4",
                    '(0009,"ACME QUIRK",10)': {"vr": "US", "value": [1, 2, 3]},
                },
                "studies": [{"series": [{"count": 1}]}],
            }
        ],
    }
    result = make_dataset(spec)
    (inst,) = result.manifest.instances()
    ds = pydicom.dcmread(result.path / inst.file)
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert str(ds.PatientName) == "Müller^Zoë"
    assert [i.IssuerOfPatientID for i in ds.OtherPatientIDsSequence] == ["SITE A", "SITE B"]
    assert ds.private_block(0x0029, "SIEMENS CSA HEADER")[0x08].value == "IMAGE NUM 4"
    acme = ds.private_block(0x0009, "ACME QUIRK")[0x10]
    assert (acme.VR, list(acme.value)) == ("US", [1, 2, 3])
    creators = {e.value for e in ds if e.tag.is_private_creator}
    assert creators == {"SIEMENS CSA HEADER", "ACME QUIRK"}


def test_removed_and_empty_attributes(make_dataset: Any) -> None:
    spec = {
        "defaults": {
            "pixels": {"rows": 32, "columns": 32},
            "permissive": True,
            "remove_tags": ["ImageLaterality"],
            "tags": {"AccessionNumber": None},
        },
        "patients": [{"studies": [{"series": [{"count": 1}]}]}],
    }
    result = make_dataset(spec)
    ds = pydicom.dcmread(result.path / result.manifest.instances()[0].file)
    assert "ImageLaterality" not in ds
    assert "AccessionNumber" in ds and ds.AccessionNumber == ""


def test_pixel_data_can_be_removed_and_lossy_flags_overridden(make_dataset: Any) -> None:
    spec = {
        "defaults": {"pixels": {"rows": 64, "columns": 64}, "permissive": True},
        "patients": [
            {
                "studies": [
                    {
                        "series": [
                            {
                                "count": 2,
                                "instances": [
                                    {"remove_tags": ["PixelData"]},
                                    {
                                        "transfer_syntax": "jpeg2000",
                                        "tags": {"LossyImageCompression": "00"},
                                    },
                                ],
                            }
                        ]
                    }
                ]
            }
        ],
    }
    result = make_dataset(spec)
    no_pixels, mislabelled = (
        pydicom.dcmread(result.path / i.file) for i in result.manifest.instances()
    )
    assert "PixelData" not in no_pixels and no_pixels.Rows == 64
    assert mislabelled.LossyImageCompression == "00"
    assert mislabelled.LossyImageCompressionMethod == "ISO_15444_1"


def test_a_mammogram_far_wider_than_tall_is_drawn(make_dataset: Any) -> None:
    """16 × 5000 (found by the fuzz suite): a row's breast edge lay past the narrow anatomy drawn
    for such a frame, and painting it failed with a numpy broadcast error."""
    result = make_dataset({"defaults": {"pixels": {"rows": 16, "columns": 5000}}})
    for inst in result.manifest.instances():
        pixels = pydicom.dcmread(result.path / inst.file).pixel_array
        assert pixels.shape == (16, 5000) and pixels.any()


def test_pixel_data_can_be_cut_short_on_purpose(make_dataset: Any, tmp_path: Path) -> None:
    """``truncate_pixel_data`` (the predecessor's force_corrupt_pixel): the native Pixel Data
    value keeps that fraction of its bytes, the header still describes the whole image, the
    manifest declares it; explicit and implicit VR, 8 and 16 bits."""
    cut = {"truncate_pixel_data": 0.5, "permissive": True}
    spec = {
        "defaults": {"pixels": {"rows": 64, "columns": 48}},
        "patients": [
            {
                "studies": [
                    {"series": [{"views": ["RCC", "RCC"], "instances": [{}, cut]}]},
                    {
                        "role": "prior",
                        "transfer_syntax": "implicit-le",
                        "pixels": {"bits_stored": 8},
                        "series": [
                            {"count": 1, "instances": [{**cut, "truncate_pixel_data": 0.3}]}
                        ],
                    },
                ]
            }
        ],
    }
    result = make_dataset(spec)
    whole, half, third = result.manifest.instances()
    full = pydicom.dcmread(result.path / whole.file)
    assert len(full.PixelData) == 64 * 48 * 2 and not whole.defects
    short = pydicom.dcmread(result.path / half.file)
    assert (short.Rows, short.Columns, short.BitsAllocated) == (64, 48, 16)
    assert short["PixelData"].VR == "OW"
    assert short.PixelData == full.PixelData[: 64 * 48]  # the first half of the same image
    assert half.defects == [
        {
            "what": "Pixel Data cut to 50% of its length",
            "at": "patients[0].studies[0].series[0].instances[1].truncate_pixel_data",
        }
    ]
    assert (
        "PixelData has incorrect value length = <3072>" in dciodvfy(result.path / half.file).output
    )
    eight = pydicom.dcmread(result.path / third.file)
    assert eight.BitsAllocated == 8 and len(eight.PixelData) == int(64 * 48 * 0.3) & ~1


def test_cutting_pixel_data_needs_permissive_and_native_pixels() -> None:
    def problems(instance: dict[str, Any], **study: Any) -> str:
        spec = {"patients": [{"studies": [{**study, "series": [{"instances": [instance]}]}]}]}
        with pytest.raises(SpecError) as info:
            make_plan(parse_spec(spec))
        return str(info.value)

    where = "patients[0].studies[0].series[0].instances[0].truncate_pixel_data"
    text = problems({"truncate_pixel_data": 0.5})
    assert f"{where}: a Pixel Data value shorter than the image is invalid DICOM" in text
    assert "set permissive: true" in text
    text = problems(
        {"truncate_pixel_data": 0.5, "permissive": True}, transfer_syntax="jpeg2000-lossless"
    )
    assert f"{where}: cuts native Pixel Data only" in text
    text = problems({"truncate_pixel_data": 0.5, "permissive": True, "iod": "pdf"})
    assert f"{where}: pdf images have no Pixel Data to cut" in text
    with pytest.raises(SpecError, match="truncate_pixel_data"):
        parse_spec(
            {"patients": [{"studies": [{"series": [{"instances": [{"truncate_pixel_data": 1}]}]}]}]}
        )
