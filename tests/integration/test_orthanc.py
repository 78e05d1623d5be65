"""End to end against a real PACS: generate, C-STORE into Orthanc 1.10 (PostgreSQL index), then
verify in Orthanc's own index database with the Orthanc-PostgreSQL SQL profile."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from pydicom import dcmread
from stack import OrthancStack, listening_addresses

from dicomfab import Manifest, generate, parse_spec
from dicomfab.errors import TargetAuthError
from dicomfab.targets.cstore import CStoreIngestor
from dicomfab.targets.observations import ObservedInstance, ObservedStudy
from dicomfab.targets.profiles import orthanc_postgres_verifier
from dicomfab.targets.verify_cfind import CFindVerifier
from expected import expected_observations

SPEC = {
    "seed": 11,
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
J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Manifest, list[Path]]:
    result = generate(parse_spec(SPEC), tmp_path_factory.mktemp("gen"), workers=1)
    return result.manifest, sorted(result.path.glob("dicoms/*/*.dcm"))


@pytest.fixture(scope="module")
def ingested(
    orthanc_stack: OrthancStack, dataset: tuple[Manifest, list[Path]]
) -> tuple[Manifest, list[Path]]:
    manifest, files = dataset
    start = time.perf_counter()
    receipt = CStoreIngestor(
        orthanc_stack.host, orthanc_stack.dicom_port, "ORTHANC", associations=2
    ).ingest(files)
    print(f"ingest: {len(files)} files in {time.perf_counter() - start:.2f} s")
    assert receipt.counts == {"success": len(files), "warning": 0, "failure": 0, "not sent": 0}, (
        receipt
    )
    return manifest, files


def _expected(manifest: Manifest) -> dict[str, ObservedInstance]:
    return expected_observations(manifest, names=False)


def _verifier(stack: OrthancStack, password: str | None = None):  # type: ignore[no-untyped-def]
    return orthanc_postgres_verifier(
        stack.pg_host,
        stack.pg_port,
        stack.database,
        stack.user,
        stack.password if password is None else password,
    )


def test_stack_is_orthanc_110_on_postgres_and_loopback_only(orthanc_stack: OrthancStack) -> None:
    print(f"stack startup (Orthanc, after PostgreSQL): {orthanc_stack.startup_seconds:.2f} s")
    system = orthanc_stack.orthanc.system()
    assert system["Version"] == "1.10.1"
    assert system["DatabaseVersion"] == 6
    assert "PostgreSQLIndex" in system["DatabaseBackendPlugin"]
    assert system["DicomAet"] == "ORTHANC"
    for port in (orthanc_stack.dicom_port, orthanc_stack.orthanc.http_port):
        # 127.0.0.1 as /proc/net/tcp writes it (or ::1); never 0.0.0.0 / ::
        assert listening_addresses(port) <= {"0100007F", "00000000000000000000000001000000"}
        assert listening_addresses(port), port


def test_sql_profile_finds_exactly_the_generated_instances(
    orthanc_stack: OrthancStack, ingested: tuple[Manifest, list[Path]]
) -> None:
    manifest, files = ingested
    expected = _expected(manifest)
    assert len(expected) == len(files) == 12
    assert len({e.study_instance_uid for e in expected.values()}) == 2
    assert J2K_LOSSLESS in {
        inst.transfer_syntax
        for study in manifest.patients[0].studies
        for series in study.series
        for inst in series.instances
    }
    unknown = "1.2.826.0.1.3680043.8.498.999999999999999999"

    observed = _verifier(orthanc_stack).observe([*expected, unknown])

    assert set(observed.instances) == set(expected)
    assert unknown not in observed
    for uid, want in expected.items():
        got = observed.get(uid)
        assert got is not None
        assert got.study_instance_uid == want.study_instance_uid, uid
        assert got.series_instance_uid == want.series_instance_uid, uid
        assert got.patient_id == want.patient_id, uid
        assert got.accession_number == want.accession_number, uid
        assert got.modality == want.modality, uid
        assert got.sop_class_uid == want.sop_class_uid, uid
        assert got.instance_number == want.instance_number, uid  # a main tag of the instance
        assert got.patient_name  # indexed too (its exact form is Orthanc's)
    assert observed.source.startswith("sql postgresql+psycopg://orthanc:***@127.0.0.1:")


def test_unknown_uids_only_are_absent(
    orthanc_stack: OrthancStack, ingested: tuple[Manifest, list[Path]]
) -> None:
    observed = _verifier(orthanc_stack).observe(["1.2.3.4.5.6.7.8.9", "2.25.1"])
    assert observed.instances == {}


def test_wrong_password_is_a_target_error_without_the_password(
    orthanc_stack: OrthancStack,
) -> None:
    wrong = "not-the-Pa55word"
    with pytest.raises(TargetAuthError) as info:  # a TargetError: exit 3 all the same
        _verifier(orthanc_stack, password=wrong).observe(["1.2.3"])
    message = str(info.value)
    assert wrong not in message and orthanc_stack.password not in message
    assert "password authentication failed" in message
    assert f"127.0.0.1:{orthanc_stack.pg_port}" in message
    assert "\n" not in message


def test_sql_profile_reports_the_orthanc_patient_each_study_landed_under(
    orthanc_stack: OrthancStack, ingested: tuple[Manifest, list[Path]]
) -> None:
    manifest, files = ingested
    expected = _expected(manifest)
    patient = manifest.patients[0]
    assert dcmread(files[0]).IssuerOfPatientID == "DICOMFAB"  # sent, yet not in Orthanc's index

    observed = _verifier(orthanc_stack).observe(expected)

    assert set(observed.studies) == {s.study_instance_uid for s in patient.studies}
    with httpx.Client(base_url=orthanc_stack.orthanc.url, timeout=10) as client:
        for uid, study in observed.studies.items():
            (found,) = client.post(
                "/tools/lookup", content=uid, headers={"Content-Type": "text/plain"}
            ).json()
            orthanc_patient = client.get(f"/studies/{found['ID']}/patient").json()
            assert study.patient_entity == orthanc_patient["ID"]  # Orthanc's own patient record
            tags = orthanc_patient["MainDicomTags"]
            assert study == ObservedStudy(
                uid,
                patient_id=patient.patient_id,
                issuer_of_patient_id=None,  # Orthanc 1.10 does not index IssuerOfPatientID
                patient_entity=orthanc_patient["ID"],
                patient_name=tags["PatientName"],  # as received, not the normalized identifier
                patient_birth_date=patient.birth_date.replace("-", "")
                if patient.birth_date
                else None,
                patient_sex=patient.sex,
            )
    assert tags["PatientName"] == patient.name


@pytest.mark.parametrize("listed", [False, True], ids=["studies-given", "studies-listed"])
def test_cfind_reports_the_patient_each_study_landed_under(
    orthanc_stack: OrthancStack, ingested: tuple[Manifest, list[Path]], listed: bool
) -> None:
    manifest, _ = ingested
    expected = _expected(manifest)
    patient = manifest.patients[0]
    studies = [s.study_instance_uid for s in patient.studies]
    verifier = CFindVerifier(
        orthanc_stack.host,
        orthanc_stack.dicom_port,
        orthanc_stack.ae_title,
        study_uids=None if listed else studies,
    )

    observed = verifier.observe(expected)

    assert set(observed.instances) == set(expected)
    assert observed.studies == {
        uid: ObservedStudy(
            uid,
            patient_id=patient.patient_id,
            issuer_of_patient_id="DICOMFAB",  # not in Orthanc's index: read from a stored file
            patient_entity=None,  # Study Root C-FIND names no patient record
            patient_name=patient.name,
            patient_birth_date=(patient.birth_date or "").replace("-", "") or None,
            patient_sex=patient.sex,
        )
        for uid in studies
    }


def test_a_study_uid_sent_under_two_patient_ids_is_reported_under_the_first(
    orthanc_stack: OrthancStack, dataset: tuple[Manifest, list[Path]], tmp_path: Path
) -> None:
    """Orthanc 1.10 splits it: one study resource per patient; the study landed under the
    first, the later instance under the second."""
    _, files = dataset
    study = "2.25.120120120120120120120120120120120"
    sent: list[Path] = []
    for n, patient_id in enumerate(["LANDED-FIRST", "LANDED-SECOND"], start=1):
        ds = dcmread(files[0])
        ds.StudyInstanceUID, ds.PatientID = study, patient_id
        ds.SeriesInstanceUID = f"{study}.{n}"
        ds.SOPInstanceUID = f"{study}.{n}.1"
        sent.append(tmp_path / f"{n}.dcm")
        ds.save_as(sent[-1])
    for file in sent:  # one after the other: the first is filed first
        receipt = CStoreIngestor(orthanc_stack.host, orthanc_stack.dicom_port, "ORTHANC").ingest(
            [file]
        )
        assert receipt.counts["success"] == 1, receipt

    observed = _verifier(orthanc_stack).observe([f"{study}.1.1", f"{study}.2.1"])

    assert {uid: i.patient_id for uid, i in observed.instances.items()} == {
        f"{study}.1.1": "LANDED-FIRST",
        f"{study}.2.1": "LANDED-SECOND",
    }
    assert observed.studies.keys() == {study}
    assert observed.studies[study].patient_id == "LANDED-FIRST"
    with httpx.Client(base_url=orthanc_stack.orthanc.url, timeout=10) as client:
        patients = {
            p["MainDicomTags"]["PatientID"]: p["ID"]
            for p in client.get("/patients", params={"expand": ""}).json()
        }
    assert observed.studies[study].patient_entity == patients["LANDED-FIRST"]
