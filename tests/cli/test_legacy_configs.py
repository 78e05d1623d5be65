"""The predecessor's power-customize configs, all of them (issue 13 §1): its own sample and a config
in the exact shape its wizard wrote (every field it fills, two internal and two external priors,
the old generator's flags on single images) convert with the old meanings and generate.

tests/data/legacy/power_config.json is the predecessor's sample as it shipped;
tests/data/legacy/wizard_config.json was written by hand in the old wizard's shape: per image the
base tags it filled (Manufacturer … PresentationLUTShape, Laterality "R" on every image), the
patient and study fields it copied to every image, a SOPInstanceUID, InstanceNumber, and one
SeriesInstanceUID and SeriesNumber per view (the fifth image of a study shares the RCC series); the
priors' StudyDescription "Cancerous …"/"Non-cancerous …"; ``type: external_screening`` on every
external prior; and a few values as its text fields leave them once edited ("256").
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from dicomfab import Spec, SpecError, make_plan
from dicomfab.output.manifest import Manifest
from dicomfab.studyspec import legacy
from dicomfab.studyspec.views import VIEWS
from dicomtools import dciodvfy

Run = Callable[..., subprocess.CompletedProcess[str]]  # the `cli` fixture (tests/cli/conftest.py)
DATA = Path(__file__).resolve().parents[1] / "data" / "legacy"
SAMPLE = DATA / "power_config.json"
WIZARD = DATA / "wizard_config.json"
LATERALITY_2C = (
    "Error - </Laterality(0020,0060)> - Attribute present when condition unsatisfied (which may "
    "not be present otherwise) for Type 2C Conditional - Module=<GeneralSeries>"
)


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _old_studies(old: dict[str, Any]) -> list[dict[str, Any]]:
    return [old["current_study"], *old["internal_priors"], *old["external_priors"]]


def _manifest(folder: Path) -> Manifest:
    return Manifest.model_validate_json((folder / "manifest.json").read_text(encoding="utf-8"))


def _by_sop(manifest: Manifest) -> dict[str, Any]:
    return {i.sop_instance_uid: i for i in manifest.instances()}


def test_the_predecessors_sample_generates_clean(cli: Run, tmp_path: Path) -> None:
    proc = cli("generate", "-o", tmp_path / "out", "--power-customize", SAMPLE, "-q")
    assert proc.returncode == 0, proc.stderr
    assert 'type "external_screening" is accepted and changes nothing' in proc.stderr
    folder = tmp_path / "out" / "power_customized_dataset"
    manifest = _manifest(folder)
    (patient,) = manifest.patients
    assert (patient.name, patient.patient_id) == ("Doe^John", "000001")
    assert [s.role for s in patient.studies] == ["current", "prior", "external_prior"]
    assert [s.description for s in patient.studies] == [
        "My customized current study",
        "Internal Prior 1",
        "External Prior 1",
    ]

    old = _load(SAMPLE)
    pixels: dict[str, list[str | None]] = {}
    for study, old_study in zip(patient.studies, _old_studies(old), strict=True):
        (series,) = study.series
        for inst, image in zip(series.instances, old_study["images"], strict=True):
            tags = image["tags"]
            path = folder / inst.file
            ds = pydicom.dcmread(path)
            view = VIEWS[tags["ViewPosition"]]
            assert (ds.ImageLaterality, ds.ViewPosition) == (view.laterality, view.position)
            assert (str(ds.PatientName), ds.PatientID) == (tags["PatientName"], tags["PatientID"])
            assert ds.StudyDescription == tags["StudyDescription"]
            assert (ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (
                256,
                256,
                8,
                8,
                7,
            )
            assert (ds.SamplesPerPixel, ds.PhotometricInterpretation) == (1, "MONOCHROME2")
            assert dciodvfy(path).errors == [], path
            pixels.setdefault(view.name, []).append(inst.pixel_blake3)

    # `cancerous: true` on the external prior: its images show the same anatomy as the
    # (non-cancerous) current and internal prior images, plus a lesion
    for view_name, (current, internal, external) in pixels.items():
        assert current == internal and external != current, view_name
    current_rcc = pydicom.dcmread(folder / patient.studies[0].series[0].instances[0].file)
    external_rcc = pydicom.dcmread(folder / patient.studies[2].series[0].instances[0].file)
    changed = current_rcc.pixel_array != external_rcc.pixel_array
    assert 50 < changed.sum() < 6000  # a spiculated mass: a core and its spicules ...
    before = current_rcc.pixel_array[changed].astype(float)
    after = external_rcc.pixel_array[changed].astype(float)
    assert after.mean() > before.mean() + 10  # ... denser (brighter) than the tissue it is in
    rows, cols = np.nonzero(changed)
    assert np.ptp(rows) < 90 and np.ptp(cols) < 90  # ... in one place


def test_the_old_wizards_config_converts_with_the_old_meanings() -> None:
    old = _load(WIZARD)
    notes: list[str] = []
    spec = Spec.model_validate(legacy.convert(old, warn=notes.append))
    (patient,) = spec.patients
    first = old["current_study"]["images"][0]["tags"]
    assert (patient.name, patient.id, patient.birth_date, patient.sex) == (
        first["PatientName"],
        first["PatientID"],
        first["PatientBirthDate"],
        first["PatientSex"],
    )
    assert [s.role for s in patient.studies] == [
        "current",
        "prior",
        "prior",
        "external_prior",
        "external_prior",
    ]
    for study, old_study in zip(patient.studies, _old_studies(old), strict=True):
        tags = old_study["images"][0]["tags"]
        assert (study.uid, study.date, study.time) == (
            tags["StudyInstanceUID"],
            tags["StudyDate"],
            tags["StudyTime"],
        )
        assert (study.accession_number, study.study_id) == (
            tags["AccessionNumber"],
            tags["StudyID"],
        )
        # one series per SeriesInstanceUID the wizard gave (one per view), used as given
        series_uids = list(
            dict.fromkeys(i["tags"]["SeriesInstanceUID"] for i in old_study["images"])
        )
        assert [se.uid for se in study.series] == series_uids
        assert [se.number for se in study.series] == list(range(1, len(series_uids) + 1))
        old_by_sop = {i["tags"]["SOPInstanceUID"]: i["tags"] for i in old_study["images"]}
        for se in study.series:
            assert se.description == f"Mammo {se.instances[0].view}"
            for inst in se.instances:
                image = old_by_sop[inst.sop_instance_uid or ""]
                assert inst.view == image["ViewPosition"]
                assert inst.tags["Laterality"] == "R"  # as the wizard wrote it, left views too
                assert inst.permissive is True
                assert "ImageLaterality" not in inst.tags  # the view writes it
                assert inst.tags["InstanceNumber"] == int(image["InstanceNumber"])
                assert inst.tags["Manufacturer"] == "SIEMENS"
        assert sum(se.count or 0 for se in study.series) == old_study["count"]

    def instance(study: int, index: int) -> Any:
        """The converted instance of ``images[index]`` of the old study, by its SOPInstanceUID."""
        wanted = _old_studies(old)[study]["images"][index]["tags"]["SOPInstanceUID"]
        found = [
            i
            for se in patient.studies[study].series
            for i in se.instances
            if i.sop_instance_uid == wanted
        ]
        return found[0]

    current, internal1, internal2, external1, external2 = range(5)
    lesion = instance(current, 0)
    assert lesion.pixels.lesion == "mass"  # image `cancerous` in a non-cancerous study
    assert patient.studies[current].pixels is None
    assert patient.studies[external2].pixels.lesion == "mass"  # study `cancerous`
    assert instance(external2, 1).pixels.lesion == "none"  # image says not
    edited = instance(current, 1)
    assert (edited.tags["Rows"], edited.tags["Columns"]) == (256, 256)  # "256" as edited
    assert instance(current, 2).tags['(0029,"DICOMFAB LEGACY",10)'] == {
        "vr": "LO",
        "value": "wizard note",
    }
    assert instance(current, 3).file_name == "current_lmlo.dcm"
    assert instance(internal1, 1).skip_writing is True
    corrupt = instance(internal1, 3)
    assert (corrupt.truncate_pixel_data, corrupt.permissive) == (0.5, True)
    no_pixels = instance(internal2, 2)
    assert no_pixels.remove_tags == ["PixelData"]
    bits = instance(internal2, 4)
    assert bits.view == "RCC" and bits.pixels is None
    assert (bits.tags["BitsAllocated"], bits.tags["BitsStored"], bits.tags["HighBit"]) == (
        16,
        14,
        3,
    )
    large = instance(external1, 2)
    assert (large.tags["Rows"], large.tags["Columns"]) == (8192, 6144)
    # permissive for Laterality only: the 8-bit images stay 8-bit pixel options
    assert edited.pixels.bits_allocated == 8 and edited.pixels.bits_stored == 8

    text = "\n".join(notes)
    assert 'type "external_screening" is accepted' in text
    assert "Laterality is written as the old config gives it" in text
    assert "external_priors[0].images[2].tags.force_large_dims: Rows × Columns 8192 × 6144" in text
    make_plan(spec)


def test_the_old_wizards_config_generates_with_exactly_its_faults(cli: Run, tmp_path: Path) -> None:
    proc = cli("generate", "-o", tmp_path / "out", "--power-customize", WIZARD, "-q")
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "out" / "power_customized_dataset"
    by_sop = _by_sop(_manifest(folder))
    old = _load(WIZARD)
    faults = {
        "force_corrupt_pixel": ["PixelData has incorrect value length = <32768> - expected 65536"],
        "no_pixel_data": [
            "PixelPaddingValue(0028,0120)> - Shall not be present when not an integer pixel",
            "PixelData(7fe0,0010)> - Missing attribute for Type 1C Conditional",
        ],
        "force_bits_mismatch": [
            "BitsStored(0028,0101)> - Bad attribute value - <14> exceeds High Bit 3 + 1",
            "HighBit(0028,0102)[1]> - Unrecognized enumerated value = <0x3>",
        ],
    }
    seen = set()
    for old_study in _old_studies(old):
        for image in old_study["images"]:
            tags = image["tags"]
            inst = by_sop[tags["SOPInstanceUID"]]
            path = folder / inst.file
            if tags.get("skip_writing"):
                assert not inst.written and not path.exists()
                seen.add("skip_writing")
                continue
            ds = pydicom.dcmread(path)
            for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
                assert ds[keyword].value == tags[keyword], keyword  # used as given
            assert ds.InstanceNumber == tags["InstanceNumber"]
            assert ds.SeriesNumber == int(tags["SeriesNumber"])
            assert ds.Laterality == "R" and ds.ImageLaterality == tags["ImageLaterality"]
            assert (ds.Manufacturer, ds.DetectorType) == ("SIEMENS", "DIRECT")
            if "CustomFileName" in tags:
                assert path.name == tags["CustomFileName"]
                seen.add("CustomFileName")
            flag = next((f for f in faults if tags.get(f)), None)
            expected = [LATERALITY_2C, *faults.get(flag or "", [])]
            errors = dciodvfy(path).errors
            assert len(errors) == len(expected), (path, errors)
            for line in expected:
                assert any(line in e for e in errors), (path, line, errors)
            what = [d["what"] for d in inst.defects]
            assert any(w.startswith("Laterality (Type 2C)") for w in what)
            if flag == "force_corrupt_pixel":
                assert len(ds.PixelData) == 256 * 256 // 2
                assert "Pixel Data cut to 50% of its length" in what
            elif flag == "no_pixel_data":
                assert "PixelData" not in ds and (ds.Rows, ds.Columns) == (256, 256)
            elif flag == "force_bits_mismatch":
                assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (16, 14, 3)
            elif tags.get("force_large_dims"):
                assert (ds.Rows, ds.Columns, ds.BitsAllocated) == (8192, 6144, 8)
                assert len(ds.PixelData) == 8192 * 6144
            else:
                assert (ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored) == (256, 256, 8, 8)
            seen.add(flag or "")
    assert seen >= {"skip_writing", "CustomFileName", *faults}


def test_unknown_keys_and_study_types_still_name_path_and_nearest(cli: Run, tmp_path: Path) -> None:
    old = _load(SAMPLE)
    old["external_priors"][0]["type"] = "external_screenig"
    old["internal_priors"][0]["typ"] = "screening"
    old["current_study"]["images"][0]["tags"]["force_corupt_pixel"] = True
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    proc = cli("generate", "-o", tmp_path / "out", "--power-customize", path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "internal_priors[0].typ: unknown key in a study (did you mean type?)" in proc.stderr
    assert (
        "external_priors[0].type: 'external_screenig' is not a study type of the old wizard"
        in proc.stderr
    )
    assert "(did you mean external_screening?)" in proc.stderr
    assert (
        "current_study.images[0].tags.force_corupt_pixel: unknown DICOM keyword "
        "(did you mean force_corrupt_pixel?)" in proc.stderr
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["screening", "diagnostic", "External_Diagnostic"])
def test_study_types_are_accepted_and_change_nothing(value: str) -> None:
    plain = legacy.convert({"external_priors": [{"count": 1}]})
    typed = legacy.convert({"external_priors": [{"count": 1, "type": value}]})
    assert typed == plain
    notes: list[str] = []
    legacy.convert({"internal_priors": [{"type": "external_screening"}]}, warn=notes.append)
    assert "internal_priors[0].type: external_screening in a prior study; its list wins" in notes
    with pytest.raises(SpecError, match="not a study type"):
        legacy.convert({"current_study": {"type": 3}})
