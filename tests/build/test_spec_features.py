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
