"""``POST /api/runs`` makes the run's checks before it starts a job: a typo in a tag, or in a
target's policy or expectations, is a 400 naming it, and no run folder is created."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apiclient import TestClient, make_settings, serving


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    (folder / "dicomfab.toml").write_text(
        "[targets.pacs]\n"
        'ingest = { kind = "cstore", port = 104, called_ae = "PACS" }\n'
        'verify = { kind = "cfind", port = 104, called_ae = "PACS" }\n'
        "[targets.pacs.expect]\n"
        'pr_bits_mismatch = { "prior[2].last" = "accept" }\n'
        "[targets.vendor]\n"
        'ingest = { kind = "cstore", port = 104, called_ae = "${UNSET_VENDOR_AE}" }\n'
        'verify = { kind = "cfind", port = 104, called_ae = "PACS" }\n'
    )
    return folder


@pytest.fixture
def client(root: Path, tmp_path: Path) -> Iterator[TestClient]:
    with serving(make_settings(root, tmp_path, config=root / "dicomfab.toml")) as client:
        yield client


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"scenarios": ["bits_consistent"], "tags": ["prir"]}, "--tag prir"),
        (
            {"scenarios": ["pr_bits_mismatch"], "target": "pacs"},
            "targets.pacs.expect.pr_bits_mismatch.prior[2].last",
        ),
        ({"scenarios": ["bits_consistent"], "target": "vendor"}, "${UNSET_VENDOR_AE}"),
    ],
)
def test_a_bad_run_is_refused_before_its_job_starts(
    client: TestClient, root: Path, body: dict[str, object], fragment: str
) -> None:
    answer = client.post("/api/runs", json=body)
    assert answer.status_code == 422, answer.text
    assert fragment in answer.text
    assert not (root / "runs").exists()


def test_the_targets_list_shows_the_broken_one(client: TestClient) -> None:
    rows = {r["name"]: r for r in client.get("/api/targets").json()["targets"]}
    assert rows["pacs"]["problem"] is None
    assert "targets.vendor.ingest.called_ae" in rows["vendor"]["problem"]
