"""The in-memory pair from Python: what the ingestor stores is what the verifier reports."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from dicomfab.targets.memory import MemoryIngestor, MemoryStore, MemoryVerifier


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
