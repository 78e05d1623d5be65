"""The predecessor's preset names make the predecessor's faults (issue 13).

A user who types an old name gets the fault the old tool wrote, read back from the generated
files; dicomfab's own variants keep their faults under their new names.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicomfab.output.manifest import InstanceEntry
from dicomfab.scenarios import scenarios
from dicomfab.scenarios.generate import ScenarioRequest, generate_one

PDF = "1.2.840.10008.5.1.4.1.1.104.1"
MG = "1.2.840.10008.5.1.4.1.1.1.2"
J2K = "1.2.840.10008.1.2.4.90"


def _pixel_bytes(ds: Dataset) -> int:
    return len(ds.PixelData or b"")  # an empty element reads as None


def _text(ds: Dataset, keyword: str) -> str:
    """The value as written in the file (a DS keeps its original string)."""
    value = ds.get_item(keyword).value
    if isinstance(value, bytes):
        return value.decode("ascii").strip()
    return str(getattr(value, "original_string", value))


def _mg_with_modality(modality: str) -> Callable[[Dataset], bool]:
    return lambda ds: ds.SOPClassUID == MG and ds.Modality == modality and "PixelData" in ds


# scenario → what every broken file of it holds
OLD_FAULTS: dict[str, Callable[[Dataset], bool]] = {
    "cu_bits_mismatch": lambda ds: (ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (16, 14, 3),
    "cu_corrupted_pixel": lambda ds: (
        ds.file_meta.TransferSyntaxUID != J2K and _pixel_bytes(ds) == ds.Rows * ds.Columns
    ),  # 16-bit pixels: half of Rows × Columns × 2 bytes
    "pr_corrupted_pixel": lambda ds: _pixel_bytes(ds) == ds.Rows * ds.Columns,
    "cu_missing_required_tag": lambda ds: (
        "Rows" not in ds and "Columns" not in ds and "SeriesInstanceUID" in ds
    ),
    "pr_missing_required_tag": lambda ds: "Rows" not in ds and "Columns" not in ds,
    "cu_overly_large_numeric": lambda ds: (
        _text(ds, "WindowCenter") == _text(ds, "WindowWidth") == "9" * 28
    ),
    "pr_overly_large_numeric": lambda ds: len(_text(ds, "WindowCenter")) == 28,
    "cu_unsupported_sop_with_matching_modality": lambda ds: (
        ds.SOPClassUID == PDF
        and ds.file_meta.MediaStorageSOPClassUID == PDF
        and ds.Modality == "OT"
        and "PixelData" in ds
        and "EncapsulatedDocument" not in ds
    ),
    "cu_unsupported_sop_with_mismatching_modality": lambda ds: (
        ds.SOPClassUID == PDF and ds.Modality == "MG" and "PixelData" in ds
    ),
    "pr_unsupported_sop_with_matching_modality": lambda ds: (
        ds.SOPClassUID == PDF and ds.Modality == "OT" and "PixelData" in ds
    ),
    "pr_unsupported_sop_with_mismatching_modality": lambda ds: (
        ds.SOPClassUID == PDF and ds.Modality == "MG" and "PixelData" in ds
    ),
    "pr_raw_not_for_presentation": lambda ds: (
        ds.SOPClassUID == MG and ds.PresentationIntentType == "RAW"
    ),
    "mammasoft_ext_prior_nonmg_doc": _mg_with_modality("DOC"),
    "mammasoft_ext_prior_nonmg_mr": _mg_with_modality("MR"),
    "mammasoft_ext_prior_mixed_modality": _mg_with_modality("MR"),
    "mammasoft_ext_prior_partial_mr": _mg_with_modality("MR"),
    "aachen_no_images": lambda ds: ds.Rows == 0 and ds.Columns == 0 and _pixel_bytes(ds) == 0,
    "mammasoft_ext_prior_missing_modality": lambda ds: "Modality" not in ds,
}

BROKEN_COUNT = {  # how many files each old name breaks
    "mammasoft_ext_prior_nonmg_doc": 8,
    "mammasoft_ext_prior_nonmg_mr": 8,
    "mammasoft_ext_prior_mixed_modality": 4,
    "mammasoft_ext_prior_partial_mr": 2,
    "aachen_no_images": 4,
    "mammasoft_ext_prior_missing_modality": 8,
}


def _broken(tmp_path: Path, name: str) -> tuple[Path, list[InstanceEntry]]:
    result = generate_one(ScenarioRequest(name, {"image_size": "small"}), tmp_path)
    return result.path, [i for i in result.manifest.instances() if i.defects]


@pytest.mark.parametrize("name", sorted(OLD_FAULTS))
def test_old_name_makes_the_predecessors_fault(tmp_path: Path, name: str) -> None:
    root, broken = _broken(tmp_path, name)
    assert len(broken) == BROKEN_COUNT.get(name, 1)
    for entry in broken:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ds = pydicom.dcmread(root / entry.file, force=True)
        assert OLD_FAULTS[name](ds), f"{name}: {entry.file} does not hold the old fault"


def test_missing_dicom_keeps_doing_what_its_name_says(tmp_path: Path) -> None:
    """The predecessor's pr_missing_dicom wrote every file; dicomfab leaves one out."""
    _root, broken = _broken(tmp_path, "pr_missing_dicom")
    assert [entry.written for entry in broken] == [False]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("cu_bits_mismatch", "cu_bits_mismatch_12_15_14"),
        ("cu_corrupted_pixel", "cu_corrupted_pixel_jpeg2000"),
        ("cu_missing_required_tag", "cu_missing_series_uid"),
        ("cu_overly_large_numeric", "cu_instance_number_out_of_range"),
        ("cu_unsupported_sop_with_matching_modality", "cu_unsupported_sop_real_pdf_ot"),
        ("pr_raw_not_for_presentation", "pr_raw_for_processing"),
        ("mammasoft_ext_prior_nonmg_doc", "mammasoft_ext_prior_real_pdf"),
        ("aachen_no_images", "aachen_truncated_duplicates"),
    ],
)
def test_todays_variant_lives_on_under_its_new_name(old: str, new: str) -> None:
    variant = scenarios()[new]
    assert variant.defects and f"``{old}``" in variant.description
    assert f"``{new}``" in scenarios()[old].description  # each names the other


def test_the_old_name_keeps_the_bare_number_sop_uid_and_the_order_mismatch_has_its_own(
    tmp_path: Path,
) -> None:
    """Issue 13 §3 and §5: the old name keeps the predecessor's bare-number SOPInstanceUID, judged
    by the UID alone (a worklist carries no SOP Instance UID); the mismatch an order can show
    (accession, procedure; same StudyInstanceUID) is pr_tomosynthesis_order_mismatch."""
    assert (
        "``pr_tomosynthesis_order_mismatch``"
        in scenarios()["pr_tomosynthesis_ris_pacs_mismatch"].description
    )
    root, broken = _broken(tmp_path / "bare", "pr_tomosynthesis_ris_pacs_mismatch")
    (entry,) = broken
    uid = pydicom.dcmread(root / entry.file, stop_before_pixels=True).SOPInstanceUID
    assert uid.isdigit() and len(uid) == 5

    root, broken = _broken(tmp_path / "ris", "pr_tomosynthesis_order_mismatch")
    assert len(broken) == 4  # every image of the prior
    files = [pydicom.dcmread(root / e.file, stop_before_pixels=True) for e in broken]
    record = json.loads(next((root / "jsons").glob("*.json")).read_text(encoding="utf-8"))
    ordered = record["prior_study_data"]
    assert {ds.StudyInstanceUID for ds in files} == {ordered["study_instance_uid"]}
    assert {ds.AccessionNumber for ds in files} != {ordered["accession_number"]}
    assert {ds.StudyDescription for ds in files} == {"BREAST TOMOSYNTHESIS BILATERAL"}
    assert ordered["study_description"] != "BREAST TOMOSYNTHESIS BILATERAL"
    assert all(uid.startswith("2.25.") for uid in ordered["sop_instance_uids"])
