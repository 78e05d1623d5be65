"""The product's own link relation against the real Orthanc 1.10 + PostgreSQL: the example
target examples/targets/orthanc-postgres-links.toml reads "same patient resource" from Orthanc's
index as a ``[targets.NAME.links]`` query of kind ``sql``."""

from __future__ import annotations

import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from pydicom import dcmread
from stack import OrthancStack
from test_run_replay import _env
from test_run_targets import env  # noqa: F401  (fixture: Orthanc, PostgreSQL and SSH)

from dicomfab import generate, parse_spec
from dicomfab.run.connect import load_targets, target_rows
from dicomfab.run.probe import probe
from dicomfab.targets.cstore import CStoreIngestor
from dicomfab.targets.links import pairs_for

REPO = Path(__file__).resolve().parents[2]
LINKS_TOML = REPO / "examples" / "targets" / "orthanc-postgres-links.toml"
TARGET = "orthanc-links"


@pytest.fixture(scope="module")
def studies(
    orthanc_stack: OrthancStack, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[str]]:
    """Two studies of one patient and one of another, stored in Orthanc: PatientID → its
    Study Instance UIDs (the IDs are new on every run, so no other test's study shares them)."""
    tag = uuid.uuid4().hex[:8]
    spec = {
        "seed": 12,
        "defaults": {"pixels": {"rows": 64, "columns": 64}},
        "patients": [
            {"id": f"LNK-A-{tag}", "studies": [{}, {"role": "prior"}]},
            {"id": f"LNK-B-{tag}", "studies": [{}]},
        ],
    }
    result = generate(parse_spec(spec), tmp_path_factory.mktemp("links"), workers=1)
    files = sorted(result.path.glob("dicoms/*/*.dcm"))
    receipt = CStoreIngestor(orthanc_stack.host, orthanc_stack.dicom_port, "ORTHANC").ingest(files)
    assert receipt.counts["success"] == len(files), receipt
    by_patient: dict[str, set[str]] = defaultdict(set)
    for path in files:
        ds = dcmread(path, stop_before_pixels=True)
        by_patient[str(ds.PatientID)].add(str(ds.StudyInstanceUID))
    return {patient: sorted(uids) for patient, uids in by_patient.items()}


def test_the_example_relation_links_exactly_the_studies_of_one_patient(
    orthanc_stack: OrthancStack, studies: dict[str, list[str]], tmp_path: Path
) -> None:
    (a1, a2), (b1,) = (studies[p] for p in sorted(studies))
    targets = load_targets(LINKS_TOML, _env(orthanc_stack))
    found = pairs_for(targets.get(TARGET), [a1, a2, b1], tmp_path)
    assert found is not None
    assert found.pairs == {(a1, a2), (a2, a1)}
    assert found.linked(b1) == frozenset()
    assert orthanc_stack.password not in found.source and "***" in found.source


def test_a_relation_that_returns_no_rows_gives_no_pairs(
    orthanc_stack: OrthancStack, studies: dict[str, list[str]], tmp_path: Path
) -> None:
    text = LINKS_TOML.read_text(encoding="utf-8")
    config = tmp_path / "dicomfab.toml"
    config.write_text(
        text.replace("AND asked.value IN :study_uids", "AND false AND asked.value IN :study_uids")
    )
    targets = load_targets(config, _env(orthanc_stack))
    uids = [uid for patient in sorted(studies) for uid in studies[patient]]
    found = pairs_for(targets.get(TARGET), uids, tmp_path)
    assert found is not None and found.pairs == frozenset()


def test_check_asks_the_relation(orthanc_stack: OrthancStack, tmp_path: Path) -> None:
    """``dicomfab check`` probes the links table like every other part of the target."""
    targets = load_targets(LINKS_TOML, _env(orthanc_stack))
    probes = {p.part: p for p in probe(TARGET, targets, tmp_path)}
    assert set(probes) == {"ingest", "verify", "links"}
    assert all(p.ok for p in probes.values()), probes
    assert probes["links"].what.startswith("SQL links query postgresql+psycopg://orthanc:***@")


def test_the_relation_goes_through_the_ssh_tunnel(
    env: dict[str, str],  # noqa: F811
    studies: dict[str, list[str]],
    tmp_path: Path,
) -> None:
    """A ``ssh`` table in the links table: the query reaches PostgreSQL through the tunnel (the
    source names the tunnel's local port, not the database's) that jumps through the bastion."""
    ssh = (
        'ssh = { target = "${SSH_TARGET}", bastion = "${SSH_BASTION}", key = "${SSH_KEY}", '
        'known_hosts = "${SSH_KNOWN_HOSTS}" }\n'
    )
    config = tmp_path / "dicomfab.toml"
    config.write_text(LINKS_TOML.read_text(encoding="utf-8") + ssh, encoding="utf-8")
    targets = load_targets(config, env)
    row = next(r for r in target_rows(targets) if r["name"] == TARGET)
    assert "via ssh" in row["links"]
    (a1, a2), (b1,) = (studies[p] for p in sorted(studies))
    found = pairs_for(targets.get(TARGET), [a1, a2, b1], tmp_path)
    assert found is not None and found.pairs == {(a1, a2), (a2, a1)}
    assert f":{env['PG_PORT']}/" not in found.source  # the tunnel's local end
