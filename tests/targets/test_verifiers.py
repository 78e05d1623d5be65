"""The SQL and C-FIND verifiers against the embedded PACS (pynetdicom's qrscp, for real)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomfab import Manifest, generate, parse_spec
from dicomfab.errors import TargetConnectError, TargetError, TargetRefusedError
from dicomfab.targets.cstore import CStoreIngestor
from dicomfab.targets.embedded import EmbeddedPACS, free_port
from dicomfab.targets.observations import Observations, ObservedInstance, Verifier
from dicomfab.targets.verify_cfind import CFindVerifier
from dicomfab.targets.verify_sql import EMBEDDED_QUERY, SQLVerifier, for_embedded
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


VERIFIERS = ["sql", "sql-batch-3", "cfind", "cfind-all-studies"]


def _verifier(kind: str, pacs: EmbeddedPACS, manifest: Manifest) -> Verifier:
    if kind == "sql":
        return for_embedded(pacs)
    if kind == "sql-batch-3":
        return for_embedded(pacs, batch=3)
    studies = _study_uids(manifest) if kind == "cfind" else None
    return CFindVerifier(pacs.host, pacs.port, pacs.ae_title, study_uids=studies)


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
