"""The embedded target (pynetdicom's qrscp, for real) fed by the C-STORE ingestor."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind

from dicomfab import Manifest, generate, parse_spec
from dicomfab.errors import TargetConnectError, TargetError, TargetRefusedError
from dicomfab.targets._dicomnet import associate
from dicomfab.targets.cstore import CStoreIngestor
from dicomfab.targets.embedded import EmbeddedPACS, free_port

SPEC = {
    "defaults": {"pixels": {"rows": 64, "columns": 48}},
    "patients": [
        {
            "studies": [
                {"series": [{}, {"transfer_syntax": "jpeg2000-lossless"}]},
                {"role": "prior"},
            ]
        }
    ],
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Manifest, list[Path]]:
    result = generate(parse_spec(SPEC), tmp_path_factory.mktemp("gen"), workers=1)
    files = sorted(result.path.glob("dicoms/*/*.dcm"))
    return result.manifest, files


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedPACS:
    with EmbeddedPACS(tmp_path_factory.mktemp("pacs")) as running:
        yield running  # type: ignore[misc]


def _expected(manifest: Manifest) -> dict[str, str]:
    """SOP Instance UID -> Study Instance UID, for every instance in the manifest."""
    return {
        inst.sop_instance_uid: study.study_instance_uid
        for patient in manifest.patients
        for study in patient.studies
        for series in study.series
        for inst in series.instances
    }


def test_ingest_stores_and_indexes_every_instance(
    pacs: EmbeddedPACS, dataset: tuple[Manifest, list[Path]]
) -> None:
    manifest, files = dataset
    expected = _expected(manifest)
    assert len(files) == len(expected) == 12

    receipt = CStoreIngestor(pacs.host, pacs.port, pacs.ae_title, associations=2).ingest(files)

    assert receipt.counts == {"success": 12, "warning": 0, "failure": 0, "not sent": 0}, receipt
    assert [r.file for r in receipt.results] == files
    assert all(r.status == 0x0000 and r.sent for r in receipt.results)
    assert {r.sop_instance_uid for r in receipt.results} == set(expected)
    with sqlite3.connect(pacs.database_path) as db:
        rows = db.execute(
            "SELECT sop_instance_uid, study_instance_uid, transfer_syntax_uid FROM instance"
        ).fetchall()
    assert {sop: study for sop, study, _ in rows} == expected
    assert {ts for *_, ts in rows} == {"1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.90"}
    assert {p.name for p in pacs.storage_dir.iterdir()} == set(expected)


def test_cfind_returns_the_studies(
    pacs: EmbeddedPACS, dataset: tuple[Manifest, list[Path]]
) -> None:
    manifest, files = dataset
    CStoreIngestor(pacs.host, pacs.port, pacs.ae_title, associations=1).ingest(files)
    ae = AE("DICOMFAB")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = ""
    assoc = associate(ae, pacs.host, pacs.port, pacs.ae_title)
    try:
        found = {
            str(identifier.StudyInstanceUID)
            for status, identifier in assoc.send_c_find(
                query, StudyRootQueryRetrieveInformationModelFind
            )
            if status and status.Status in (0xFF00, 0xFF01) and identifier is not None
        }
    finally:
        assoc.release()
    assert found == set(_expected(manifest).values())


def test_unreadable_files_are_not_sent(pacs: EmbeddedPACS, tmp_path: Path) -> None:
    text = tmp_path / "notes.dcm"
    text.write_text("this is not DICOM\n", encoding="utf-8")
    missing = tmp_path / "gone.dcm"
    receipt = CStoreIngestor(pacs.host, pacs.port, pacs.ae_title).ingest([text, missing])
    assert [r.outcome for r in receipt.results] == ["not sent", "not sent"]
    assert not any(r.sent for r in receipt.results)
    assert "no SOPClassUID" in receipt.results[0].reason
    assert "FileNotFoundError" in receipt.results[1].reason


def test_wrong_called_ae_is_a_target_error(
    pacs: EmbeddedPACS, dataset: tuple[Manifest, list[Path]]
) -> None:
    ingestor = CStoreIngestor(pacs.host, pacs.port, "NOT_THE_PACS")
    with pytest.raises(TargetRefusedError) as info:  # a TargetError: exit 3
        ingestor.ingest(dataset[1][:1])
    message = str(info.value)
    assert "rejected" in message and "NOT_THE_PACS" in message and str(pacs.port) in message
    assert "Called AE title not recognised" in message
    assert "\n" not in message and "Traceback" not in message


def test_closed_port_is_a_target_error(dataset: tuple[Manifest, list[Path]]) -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(TargetConnectError) as info:
        CStoreIngestor("127.0.0.1", port, "ANY", associations=2).ingest(dataset[1])
    assert info.value.partial is not None  # the subclass survives the partial receipt
    message = str(info.value)
    assert message.startswith(f"cannot connect to 127.0.0.1:{port}")
    assert "refused" in message.lower()
    assert "\n" not in message


def test_pacs_that_cannot_start_names_its_log(tmp_path: Path) -> None:
    with pytest.raises(TargetError) as info:
        EmbeddedPACS(tmp_path, ae_title="", startup_timeout=10).start()
    assert str(tmp_path / "qrscp.log") in str(info.value)
    assert (tmp_path / "qrscp.log").exists()


def test_pacs_stops_and_keeps_its_workdir(tmp_path: Path) -> None:
    pacs = EmbeddedPACS(tmp_path)
    with pacs:
        assert pacs.running
    assert not pacs.running
    assert pacs.log_path.exists() and pacs.database_path.exists()


def test_a_store_waits_for_a_busy_index_instead_of_losing_the_row(
    tmp_path: Path, dataset: tuple[Manifest, list[Path]]
) -> None:
    """qrscp answers Success even when its SQLite index refuses the row; SQLite's default
    busy timeout (5 s) made a loaded machine lose rows ("not found in the index"). The index
    is held locked for longer than that while one file is stored: the row must still arrive."""
    _, files = dataset
    with EmbeddedPACS(tmp_path / "pacs") as pacs:
        CStoreIngestor(pacs.host, pacs.port, pacs.ae_title, associations=1).ingest(files[:1])
        holder = sqlite3.connect(
            pacs.database_path, timeout=0, isolation_level=None, check_same_thread=False
        )
        holder.execute("BEGIN EXCLUSIVE")
        release = threading.Timer(7.0, holder.execute, args=("COMMIT",))
        release.start()
        try:
            receipt = CStoreIngestor(
                pacs.host, pacs.port, pacs.ae_title, associations=1, timeout=60
            ).ingest(files[1:2])
        finally:
            release.join()
            holder.close()
        assert receipt.counts["success"] == 1, receipt
        with sqlite3.connect(pacs.database_path) as db:
            rows = {r[0] for r in db.execute("SELECT sop_instance_uid FROM instance")}
    assert {r.sop_instance_uid for r in receipt.results} <= rows
    assert len(rows) == 2
