"""Spec features end to end: sequences, private elements, character sets, removals."""

from __future__ import annotations

from typing import Any

import pydicom


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
