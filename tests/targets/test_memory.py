"""The in-memory pair from Python: what the ingestor stores is what the verifier reports."""

from __future__ import annotations

from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from dicomfab.targets.memory import MemoryIngestor, MemoryStore, MemoryVerifier
from dicomfab.targets.observations import ObservedStudy


def _file(folder: Path, uid: str, patient: str) -> Path:
    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = uid
    ds.StudyInstanceUID = "1.2.3"
    ds.SeriesInstanceUID = "1.2.3.4"
    ds.PatientID = patient
    ds.PatientName = "Doe^Jane"
    ds.Modality = "OT"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = folder / f"{uid}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_stores_what_it_reads_and_reports_it(tmp_path: Path) -> None:
    good = _file(tmp_path, "1.2.3.4.1", "P1")
    refused = _file(tmp_path, "1.2.3.4.2", "REFUSE-ME")
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not DICOM at all")
    store = MemoryStore("unit")

    def refuse(ds: Dataset) -> str | None:
        return "patient on the block list" if ds.PatientID == "REFUSE-ME" else None

    receipt = MemoryIngestor(store, refuse=refuse).ingest([good, refused, junk])
    assert [(r.outcome, r.sop_instance_uid) for r in receipt.results] == [
        ("success", "1.2.3.4.1"),
        ("failure", "1.2.3.4.2"),
        ("not sent", None),
    ]
    assert receipt.results[1].reason == "patient on the block list"
    seen = MemoryVerifier(store).observe(["1.2.3.4.1", "1.2.3.4.2", "9.9"])
    assert list(seen.instances) == ["1.2.3.4.1"] and seen.source == "memory unit"
    instance = seen.instances["1.2.3.4.1"]
    assert (instance.patient_id, instance.patient_name, instance.modality) == (
        "P1",
        "Doe^Jane",
        "OT",
    )
    assert (
        instance.sop_class_uid == SecondaryCaptureImageStorage and instance.accession_number is None
    )
    store.clear()
    assert not MemoryVerifier(store).observe(["1.2.3.4.1"]).instances


def test_a_named_store_is_one_per_process() -> None:
    assert MemoryStore.named("shared") is MemoryStore.named("shared")
    assert MemoryStore.named("shared") is not MemoryStore.named("other")


def test_reports_where_each_study_landed(tmp_path: Path) -> None:
    first = _file(tmp_path, "1.2.3.4.1", "P1")
    second = _file(tmp_path, "1.2.3.4.2", "P2")  # same study, another patient: filed already
    ds = dcmread(first)
    ds.SOPInstanceUID, ds.StudyInstanceUID = "1.2.9.1", "1.2.9"
    ds.IssuerOfPatientID, ds.PatientBirthDate, ds.PatientSex = "SITE-A", "19700102", "F"
    other = tmp_path / "other.dcm"
    ds.save_as(other)
    store = MemoryStore("landed")
    MemoryIngestor(store).ingest([first, second, other])

    seen = MemoryVerifier(store).observe(["1.2.3.4.2", "1.2.9.1", "9.9"])

    assert seen.studies == {
        "1.2.3": ObservedStudy("1.2.3", patient_id="P1", patient_name="Doe^Jane"),
        "1.2.9": ObservedStudy(
            "1.2.9",
            patient_id="P1",
            issuer_of_patient_id="SITE-A",
            patient_name="Doe^Jane",
            patient_birth_date="19700102",
            patient_sex="F",
        ),
    }
    assert MemoryVerifier(store).observe(["1.2.9.1"]).studies.keys() == {"1.2.9"}
    store.clear()
    assert MemoryVerifier(store).observe(["1.2.3.4.1"]).studies == {}
