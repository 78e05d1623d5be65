"""The SQL and C-FIND verifiers against the embedded PACS (pynetdicom's qrscp, for real)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from dicomfab import Manifest, generate, parse_spec
from dicomfab.errors import TargetConnectError, TargetError, TargetRefusedError
from dicomfab.targets.cstore import CStoreIngestor
from dicomfab.targets.embedded import EmbeddedPACS, free_port
from dicomfab.targets.observations import (
    Observations,
    ObservedInstance,
    ObservedStudy,
    Verifier,
)
from dicomfab.targets.registry import Context
from dicomfab.targets.verify_cfind import CFindVerifier
from dicomfab.targets.verify_sql import ADAPTER as SQL_ADAPTER
from dicomfab.targets.verify_sql import EMBEDDED_QUERY, SQLVerifier, SQLVerify, for_embedded
from expected import expected_observations

SPEC = {
    "defaults": {"pixels": {"rows": 32, "columns": 32}},
    "patients": [
        {"studies": [{"series": [{}, {}]}]},
        {"studies": [{}]},
    ],
}
NEVER_SENT = "1.2.826.0.1.3680043.10.999.1.2.3.4.5"


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedPACS:
    with EmbeddedPACS(tmp_path_factory.mktemp("pacs")) as running:
        yield running  # type: ignore[misc]


@pytest.fixture(scope="module")
def loaded(
    tmp_path_factory: pytest.TempPathFactory, pacs: EmbeddedPACS
) -> tuple[EmbeddedPACS, Manifest]:
    result = generate(parse_spec(SPEC), tmp_path_factory.mktemp("gen"), workers=1)
    files = sorted(result.path.glob("dicoms/*/*.dcm"))
    receipt = CStoreIngestor(pacs.host, pacs.port, pacs.ae_title).ingest(files)
    assert receipt.counts["success"] == len(files), receipt
    return pacs, result.manifest


def _expected(manifest: Manifest) -> dict[str, ObservedInstance]:
    return expected_observations(manifest, names=True)


def _study_uids(manifest: Manifest) -> list[str]:
    return [s.study_instance_uid for p in manifest.patients for s in p.studies]


def _key(obs: ObservedInstance) -> tuple[str | None, ...]:
    return (obs.study_instance_uid, obs.series_instance_uid, obs.patient_id)


VERIFIERS = ["sql", "sql-batch-3", "cfind", "cfind-all-studies", "cfind-confirm"]


def _verifier(kind: str, pacs: EmbeddedPACS, manifest: Manifest) -> Verifier:
    if kind == "sql":
        return for_embedded(pacs)
    if kind == "sql-batch-3":
        return for_embedded(pacs, batch=3)
    studies = None if kind == "cfind-all-studies" else _study_uids(manifest)
    confirm = kind == "cfind-confirm"  # as the embedded target asks
    return CFindVerifier(pacs.host, pacs.port, pacs.ae_title, study_uids=studies, confirm=confirm)


@pytest.mark.parametrize("kind", VERIFIERS)
def test_verifier_sees_exactly_what_was_sent(
    kind: str, loaded: tuple[EmbeddedPACS, Manifest]
) -> None:
    pacs, manifest = loaded
    expected = _expected(manifest)
    assert len({e.study_instance_uid for e in expected.values()}) == 2
    assert len({e.patient_id for e in expected.values()}) == 2

    observed = _verifier(kind, pacs, manifest).observe([*expected, NEVER_SENT])

    assert isinstance(observed, Observations)
    assert set(observed.instances) == set(expected)
    assert NEVER_SENT not in observed and observed.get(NEVER_SENT) is None
    for uid, want in expected.items():
        got = observed.instances[uid]
        assert got.sop_instance_uid == uid
        assert _key(got) == _key(want), uid
    assert observed.elapsed > 0
    assert observed.source.startswith("sql sqlite:///" if kind.startswith("sql") else "c-find ")


@pytest.mark.parametrize("kind", VERIFIERS)
def test_verifier_reports_the_patient_each_study_landed_under(
    kind: str, loaded: tuple[EmbeddedPACS, Manifest]
) -> None:
    pacs, manifest = loaded
    expected = _expected(manifest)
    first, second = manifest.patients
    asked = [uid for uid, e in expected.items() if e.patient_id == first.patient_id]

    observed = _verifier(kind, pacs, manifest).observe([*asked, NEVER_SENT])

    # qrscp indexes PatientID and PatientName only (no issuer, birth date, sex, patient row)
    assert observed.studies == {
        study.study_instance_uid: ObservedStudy(
            study.study_instance_uid, patient_id=first.patient_id, patient_name=first.name
        )
        for study in first.studies
    }
    everything = _verifier(kind, pacs, manifest).observe(expected)
    assert {s.patient_id for s in everything.studies.values()} == {
        first.patient_id,
        second.patient_id,
    }
    assert len(everything.studies) == len(_study_uids(manifest))


def test_sql_embedded_profile_reads_every_attribute(loaded: tuple[EmbeddedPACS, Manifest]) -> None:
    pacs, manifest = loaded
    expected = _expected(manifest)
    observed = for_embedded(pacs).observe(expected)
    for uid, want in expected.items():
        got = observed.instances[uid]
        assert got.modality == want.modality
        assert got.accession_number == want.accession_number
        assert got.sop_class_uid == want.sop_class_uid
        assert got.patient_name == want.patient_name
        assert got.instance_number == want.instance_number  # tells copies of one UID apart


def test_cfind_reads_the_keys_the_scp_returns(loaded: tuple[EmbeddedPACS, Manifest]) -> None:
    pacs, manifest = loaded
    expected = _expected(manifest)
    observed = CFindVerifier(
        pacs.host, pacs.port, pacs.ae_title, study_uids=_study_uids(manifest)
    ).observe(expected)
    for uid, want in expected.items():
        got = observed.instances[uid]
        assert got.modality == want.modality
        assert got.accession_number == want.accession_number
        assert got.patient_name == want.patient_name
        assert got.instance_number == want.instance_number  # tells copies of one UID apart
        assert got.sop_class_uid in (None, want.sop_class_uid)  # qrscp drops this optional key


def test_only_unknown_uids_observe_nothing(loaded: tuple[EmbeddedPACS, Manifest]) -> None:
    pacs, _ = loaded
    assert for_embedded(pacs).observe([NEVER_SENT]).instances == {}
    assert for_embedded(pacs).observe([]).instances == {}
    cfind = CFindVerifier(pacs.host, pacs.port, pacs.ae_title, study_uids=[NEVER_SENT])
    assert cfind.observe([NEVER_SENT]).instances == {}


def test_sql_query_with_extra_parameters(loaded: tuple[EmbeddedPACS, Manifest]) -> None:
    pacs, manifest = loaded
    expected = _expected(manifest)
    study = _study_uids(manifest)[0]
    query = (
        "SELECT sop_instance_uid AS SOP_INSTANCE_UID, study_instance_uid, filename FROM instance "
        "WHERE sop_instance_uid IN :uids AND study_instance_uid = :study"
    )
    url = f"sqlite:///{pacs.database_path}"
    observed = SQLVerifier(url, query, params={"study": study}, batch=2).observe(expected)
    assert set(observed.instances) == {
        uid for uid, e in expected.items() if e.study_instance_uid == study
    }
    assert all(o.patient_id is None for o in observed.instances.values())
    assert observed.studies == {study: ObservedStudy(study)}  # no study query: from the rows


def test_sql_config_with_a_study_query(
    loaded: tuple[EmbeddedPACS, Manifest], tmp_path: Path
) -> None:
    pacs, manifest = loaded
    expected = _expected(manifest)
    study = _study_uids(manifest)[0]
    config = SQLVerify(
        kind="sql",
        url=f"sqlite:///{pacs.database_path}",
        query="SELECT sop_instance_uid, study_instance_uid FROM instance "
        "WHERE sop_instance_uid IN :uids",
        study_query="SELECT study_instance_uid, 'P:' || patient_id AS patient_entity, "
        "patient_id, :site AS issuer_of_patient_id FROM instance "
        "WHERE study_instance_uid IN :uids",
        params={"site": "SITE-A"},
        batch=1,
    )
    with ExitStack() as stack:
        verifier = SQL_ADAPTER.build(config, Context(tmp_path, tmp_path, stack))
        observed = verifier.observe(expected)
    patient_id = manifest.patients[0].patient_id
    assert observed.studies[study] == ObservedStudy(
        study,
        patient_id=patient_id,
        issuer_of_patient_id="SITE-A",
        patient_entity=f"P:{patient_id}",
    )
    assert len(observed.studies) == len(_study_uids(manifest))
    with pytest.raises(ValueError, match="study_query goes with query"):
        SQLVerify(kind="sql", url="sqlite:///x", profile="embedded", study_query="SELECT 1")


# --- failures ---------------------------------------------------------------------------------


def _one_line(info: pytest.ExceptionInfo[TargetError]) -> str:
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_sql_unreachable_database_hides_the_password() -> None:
    url = "postgresql+psycopg://user:secret@127.0.0.1:1/db"
    with pytest.raises(TargetConnectError) as info:
        SQLVerifier(url, EMBEDDED_QUERY).observe(["1.2.3"])
    message = _one_line(info)
    assert "secret" not in message
    assert "user:***@127.0.0.1:1/db" in message


def test_sql_missing_sqlite_file_is_a_target_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.sqlite'}"
    with pytest.raises(TargetError) as info:
        SQLVerifier(url, EMBEDDED_QUERY).observe(["1.2.3"])
    assert "no database file" in _one_line(info)
    assert not (tmp_path / "no").exists()


_WHERE = "WHERE sop_instance_uid IN :uids"


@pytest.mark.parametrize(
    ("query", "params", "reason"),
    [
        (f"SELECT sop_instance_uid FROM no_such_table {_WHERE}", {}, "no such table"),
        (f"SELEKT * FROM instance {_WHERE}", {}, "syntax error"),
        (f"SELECT sop_instance_uid FROM instance {_WHERE} AND modality = :m", {}, "'m'"),
        ("SELECT sop_instance_uid FROM instance", {}, "uids"),
        (f"SELECT study_instance_uid FROM instance {_WHERE}", {}, "no sop_instance_uid column"),
    ],
)
def test_sql_bad_query_is_a_target_error(
    loaded: tuple[EmbeddedPACS, Manifest], query: str, params: dict[str, str], reason: str
) -> None:
    pacs, manifest = loaded
    uids = list(_expected(manifest))
    with pytest.raises(TargetError) as info:
        SQLVerifier(f"sqlite:///{pacs.database_path}", query, params=params).observe(uids)
    message = _one_line(info)
    assert reason in message, message
    assert "[SQL:" not in message


def test_cfind_closed_port_is_a_target_error() -> None:
    port = free_port()
    with pytest.raises(TargetConnectError) as info:
        CFindVerifier("127.0.0.1", port, "ANY", study_uids=["1.2.3"]).observe(["1.2.3.4"])
    assert _one_line(info).startswith(f"cannot connect to 127.0.0.1:{port}")


def test_cfind_wrong_called_ae_is_a_target_error(loaded: tuple[EmbeddedPACS, Manifest]) -> None:
    pacs, _ = loaded
    with pytest.raises(TargetRefusedError) as info:
        CFindVerifier(pacs.host, pacs.port, "NOT_THE_PACS").observe(["1.2.3.4"])
    assert "rejected" in _one_line(info)
