"""DICOMweb against a real PACS: STOW-RS into Orthanc 1.10.1 (DICOMweb plugin 1.7, PostgreSQL
index), then QIDO-RS to see what it holds. The HTTP error paths Orthanc cannot be made to take
here (it runs without authentication) use a tiny ``http.server`` of our own on loopback."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from stack import OrthancStack, free_port

from dicomfab import Manifest, generate, parse_spec
from dicomfab.errors import TargetError
from dicomfab.targets.observations import ObservedStudy
from dicomfab.targets.stow import NOT_MENTIONED, StowIngestor
from dicomfab.targets.verify_qido import QidoVerifier
from expected import expected_observations

SPEC = {
    "seed": 20260,  # not test_orthanc's: both datasets live in the same Orthanc
    "defaults": {"pixels": {"rows": 32, "columns": 24}},
    "patients": [{"studies": [{"series": [{}, {}]}, {"role": "prior"}]}],
}
EXTRA_SPEC = {
    "seed": 20261,
    "defaults": {"pixels": {"rows": 16, "columns": 16}},
    "patients": [{"studies": [{}]}],
}
UNKNOWN = "1.2.826.0.1.3680043.8.498.424242424242424242"
SECRET = "Very-Secret-Pa55"

Dataset = tuple[Manifest, list[Path]]


def _generate(spec: dict[str, object], folder: Path) -> Dataset:
    result = generate(parse_spec(spec), folder, workers=1)
    return result.manifest, sorted(result.path.glob("dicoms/*/*.dcm"))


def _dicomweb(stack: OrthancStack) -> str:
    return f"{stack.orthanc.url}/dicom-web"


def _studies(manifest: Manifest) -> list[str]:
    return [s.study_instance_uid for p in manifest.patients for s in p.studies]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return _generate(SPEC, tmp_path_factory.mktemp("gen-dicomweb"))


@pytest.fixture(scope="module")
def stowed(orthanc_stack: OrthancStack, dataset: Dataset) -> Dataset:
    manifest, files = dataset
    receipt = StowIngestor(_dicomweb(orthanc_stack), batch=5).ingest(files)
    print(f"stow: {receipt}")
    assert receipt.counts == {"success": len(files), "warning": 0, "failure": 0, "not sent": 0}, [
        str(r) for r in receipt.results
    ]
    assert [r.file for r in receipt.results] == files
    expected = expected_observations(manifest)
    assert {r.sop_instance_uid for r in receipt.results} == set(expected)
    assert all(r.sent and r.status is None and r.reason == "" for r in receipt.results)
    return manifest, files


# --- a loopback HTTP server of our own, for the answers Orthanc will not give ------------------


@contextmanager
def answering(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on loopback answering every GET and POST with ``status`` and ``body``;
    yields its DICOMweb root and the list of requests it saw ("POST /dicom-web/studies")."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            seen.append(f"{self.command} {self.path.partition('?')[0]}")
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="fake-dicomweb", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/dicom-web", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- STOW-RS and QIDO-RS against Orthanc ----------------------------------------------------------


def test_qido_observes_every_stowed_instance_with_its_attributes(
    orthanc_stack: OrthancStack, stowed: Dataset
) -> None:
    manifest, files = stowed
    expected = expected_observations(manifest)  # with PatientName: QIDO-RS returns it
    assert len(expected) == len(files) > 5  # more than one batch of 5
    verifier = QidoVerifier(_dicomweb(orthanc_stack), study_uids=_studies(manifest))

    observed = verifier.observe([*expected, UNKNOWN])

    assert observed.instances == expected
    assert UNKNOWN not in observed
    assert observed.source == f"qido-rs {_dicomweb(orthanc_stack)}"


def test_qido_without_study_uids_lists_the_studies_first(
    orthanc_stack: OrthancStack, stowed: Dataset
) -> None:
    manifest, _ = stowed
    expected = expected_observations(manifest)

    observed = QidoVerifier(_dicomweb(orthanc_stack)).observe([*expected, UNKNOWN])

    assert observed.instances == expected  # other tests' instances are not asked for: absent


@pytest.mark.parametrize("listed", [False, True], ids=["studies-given", "studies-listed"])
def test_qido_reports_the_patient_each_study_landed_under(
    orthanc_stack: OrthancStack, stowed: Dataset, listed: bool
) -> None:
    manifest, _ = stowed
    expected = expected_observations(manifest)
    patient = manifest.patients[0]
    studies = None if listed else _studies(manifest)
    verifier = QidoVerifier(_dicomweb(orthanc_stack), study_uids=studies)

    observed = verifier.observe([*expected, UNKNOWN])

    assert observed.studies == {
        uid: ObservedStudy(
            uid,
            patient_id=patient.patient_id,
            issuer_of_patient_id="DICOMFAB",  # not in Orthanc's index: read from a stored file
            patient_entity=None,
            patient_name=patient.name,
            patient_birth_date=(patient.birth_date or "").replace("-", "") or None,
            patient_sex=patient.sex,
        )
        for uid in _studies(manifest)
    }


def test_unknown_uids_and_unknown_studies_are_absent(
    orthanc_stack: OrthancStack, stowed: Dataset
) -> None:
    manifest, _ = stowed
    url = _dicomweb(orthanc_stack)
    assert QidoVerifier(url).observe([UNKNOWN, "2.25.1"]).instances == {}
    only_unknown_study = QidoVerifier(url, study_uids=[UNKNOWN])
    assert only_unknown_study.observe(expected_observations(manifest)).instances == {}
    assert QidoVerifier(url).observe([]).instances == {}


def test_orthanc_answers_400_for_a_non_dicom_part_and_stores_the_others(
    orthanc_stack: OrthancStack, tmp_path: Path
) -> None:
    """Orthanc 1.10.1 answers HTTP 400 with a store response listing the parts it stored; the
    unparseable part is in neither sequence. An unreadable file is not sent at all."""
    manifest, files = _generate(EXTRA_SPEC, tmp_path / "gen")
    junk = tmp_path / "x.dcm"
    junk.write_bytes(os.urandom(700))
    missing = tmp_path / "missing.dcm"
    sent = [files[0], junk, *files[1:], missing]

    receipt = StowIngestor(_dicomweb(orthanc_stack), batch=50).ingest(sent)

    by_file = {r.file: r for r in receipt.results}
    assert receipt.counts == {"success": len(files), "warning": 0, "failure": 1, "not sent": 1}
    bad = by_file[junk]
    assert (bad.outcome, bad.sent, bad.status) == ("failure", True, None)
    assert bad.sop_instance_uid is None
    assert bad.reason == f"HTTP 400 Bad Request: {NOT_MENTIONED}"
    gone = by_file[missing]
    assert (gone.outcome, gone.sent) == ("not sent", False)
    assert gone.reason == "cannot read: No such file or directory"
    expected = expected_observations(manifest)
    observed = QidoVerifier(_dicomweb(orthanc_stack), study_uids=_studies(manifest)).observe(
        expected
    )
    assert observed.instances == expected  # the good parts of the 400 batch were stored


def test_stowing_again_is_success(orthanc_stack: OrthancStack, stowed: Dataset) -> None:
    """Orthanc lists an instance it already holds as referenced (HTTP 200)."""
    _, files = stowed
    receipt = StowIngestor(_dicomweb(orthanc_stack)).ingest(files[:2])
    assert receipt.all_succeeded, [str(r) for r in receipt.results]


# --- infrastructure failures ----------------------------------------------------------------------


def test_nothing_listening_is_one_line_target_error(tmp_path: Path) -> None:
    url = f"http://user:{SECRET}@127.0.0.1:{free_port()}/dicom-web"
    junk = tmp_path / "a.dcm"
    junk.write_bytes(b"x")
    for call in (
        lambda: StowIngestor(url).ingest([junk]),
        lambda: QidoVerifier(url).observe(["1.2.3"]),
    ):
        with pytest.raises(TargetError) as info:
            call()
        message = str(info.value)
        assert "failed: cannot connect (Connection refused)" in message
        assert "user:***@127.0.0.1:" in message
        assert SECRET not in message and "\n" not in message and "Traceback" not in message
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_wrong_credentials_are_a_target_error_without_the_password(tmp_path: Path) -> None:
    junk = tmp_path / "a.dcm"
    junk.write_bytes(b"x")
    with answering(401, b"Unauthorized", {"WWW-Authenticate": 'Basic realm="pacs"'}) as (url, _):
        stow = StowIngestor(url, username="bob", password=SECRET)
        qido = QidoVerifier(url, username="bob", password=SECRET)
        for obj, call in (
            (stow, lambda: stow.ingest([junk])),
            (qido, lambda: qido.observe(["1.2.3"])),
        ):
            with pytest.raises(TargetError) as info:
                call()
            message = str(info.value)
            assert message.endswith("failed: authentication failed (HTTP 401)"), message
            assert "bob:***@127.0.0.1" in message
            assert SECRET not in message and SECRET not in repr(obj) and "\n" not in message


def test_stow_http_500_fails_each_file_and_goes_on(dataset: Dataset) -> None:
    _, files = dataset
    with answering(500, b"database is on fire\nsecond line") as (url, seen):
        receipt = StowIngestor(url, batch=2).ingest(files[:5])
    assert seen == ["POST /dicom-web/studies"] * 3  # every batch was tried
    assert receipt.counts["failure"] == 5
    for result in receipt.results:
        assert result.sent and result.status is None
        assert result.reason == "HTTP 500 Internal Server Error: database is on fire"


def test_stow_http_400_with_a_text_body(dataset: Dataset) -> None:
    _, files = dataset
    with answering(400, b"bad multipart") as (url, _):
        receipt = StowIngestor(url).ingest(files[:1])
    assert [(r.outcome, r.reason) for r in receipt.results] == [
        ("failure", "HTTP 400 Bad Request: bad multipart")
    ]


def test_qido_http_500_is_a_target_error() -> None:
    with answering(500, b"oops") as (url, seen), pytest.raises(TargetError) as info:
        QidoVerifier(url, study_uids=["1.2.3"]).observe(["1.2.3.4"])
    assert seen == ["GET /dicom-web/studies/1.2.3/instances"]
    assert str(info.value) == (
        f"QIDO-RS to {url} failed: instances of study 1.2.3: HTTP 500 Internal Server Error: oops"
    )


def test_qido_no_content_is_no_instances() -> None:
    with answering(204) as (url, seen):
        observed = QidoVerifier(url, study_uids=["1.2.3", "1.2.4"]).observe(["1.2.3.4"])
    assert observed.instances == {}
    assert len(seen) == 2  # one query per study
