"""The studies ``dicomfab check --associations`` sends: the load template under one marked
patient, with UIDs of their own (apart from a load's with the same seed), the same bytes for
the same seed."""

from __future__ import annotations

import io

import pytest
from pydicom import dcmread

from dicomfab.load.associations import (
    PATIENT_ID_PREFIX,
    PATIENT_NAME,
    STUDY_DESCRIPTION,
    check_maker,
)
from dicomfab.load.template import StudyMaker, TemplateInstance, generate_template


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> list[TemplateInstance]:
    return generate_template("small", tmp_path_factory.mktemp("template"))


def test_every_instance_is_marked_and_new(template: list[TemplateInstance]) -> None:
    maker = check_maker(template, 7)
    load = StudyMaker(template, 7)
    seen: set[str] = set()
    for i in range(3):
        for k in range(len(template)):
            ds = dcmread(io.BytesIO(maker.part10(i, k)))
            assert str(ds.PatientName) == PATIENT_NAME
            assert ds.PatientID.startswith(PATIENT_ID_PREFIX) and ds.PatientID == maker.patient_id
            assert ds.StudyDescription == STUDY_DESCRIPTION
            assert ds.SOPInstanceUID not in seen
            seen.add(ds.SOPInstanceUID)
        study = maker.study(i)
        assert study.study_instance_uid != load.study(i).study_instance_uid
        assert study.study_instance_uid not in {str(t.header.StudyInstanceUID) for t in template}
    assert str(template[0].header.PatientName) != PATIENT_NAME  # the load's template untouched
    again = check_maker(template, 7)
    assert again.study(2).instances[1].data == maker.study(2).instances[1].data
    assert check_maker(template, 8).patient_id != maker.patient_id
