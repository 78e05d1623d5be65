"""A load's studies: the template with new UIDs and IDs per study, pixels reused as encoded."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread

from dicomfab.load.template import StudyMaker, TemplateInstance, generate_template
from dicomtools import dciodvfy, dcmdump


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> list[TemplateInstance]:
    work = tmp_path_factory.mktemp("load-template")
    instances = generate_template("small", work)
    assert list(work.iterdir()) == []  # only the bytes are kept
    return instances


def _uids(ds: object) -> set[str]:
    return {str(e.value) for e in ds.iterall() if e.VR == "UI" and str(e.value).startswith("2.25.")}  # type: ignore[attr-defined]


def test_every_instance_uid_differs_per_study_and_from_the_template(
    template: list[TemplateInstance], tmp_path: Path
) -> None:
    maker = StudyMaker(template, seed=11)
    template_uids = set().union(*(_uids(t.header) for t in template))
    seen: list[set[str]] = []
    for i in range(3):
        study = maker.study(i)
        assert len(study.instances) == 4
        uids = set()
        for k in range(4):
            path = tmp_path / f"{i}-{k}.dcm"
            path.write_bytes(maker.part10(i, k))
            ds = dcmread(path)
            assert ds.StudyInstanceUID == study.study_instance_uid
            assert ds.SOPInstanceUID == study.instances[k].sop_instance_uid
            assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
            assert (ds.PatientID, ds.AccessionNumber) == (study.patient_id, study.accession_number)
            uids |= _uids(ds)
        assert len({ds.SeriesInstanceUID}) == 1
        assert not uids & template_uids
        assert all(not uids & other for other in seen)
        seen.append(uids)
    assert len({maker.identity(i)[0] for i in range(3)}) == 3  # PatientIDs
    assert len({maker.identity(i)[1] for i in range(3)}) == 3  # AccessionNumbers


def test_pixel_bytes_are_the_templates(template: list[TemplateInstance]) -> None:
    study = StudyMaker(template, seed=3).study(5)
    for t, instance in zip(template, study.instances, strict=True):
        assert instance.data.endswith(t.tail)
        assert len(t.tail) > 1000  # the Pixel Data element is in the tail


def test_deterministic_per_seed(template: list[TemplateInstance]) -> None:
    a, b, c = StudyMaker(template, 9), StudyMaker(template, 9), StudyMaker(template, 10)
    assert a.study(2) == b.study(2)
    assert a.part10(2, 1) == b.part10(2, 1)
    assert a.study(2).study_instance_uid != c.study(2).study_instance_uid


def test_a_patched_file_is_valid_and_dcmtk_reads_it(
    template: list[TemplateInstance], tmp_path: Path
) -> None:
    maker = StudyMaker(template, seed=4)
    patched = tmp_path / "patched.dcm"
    patched.write_bytes(maker.part10(7, 0))
    dump = dcmdump(patched)
    assert maker.study(7).instances[0].sop_instance_uid in dump
    assert "PixelData" in dump
    result = dciodvfy(patched)
    assert result.errors == [], result.text
