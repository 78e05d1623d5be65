"""``dicomfab load --dask`` without a cluster: what the client merges from its workers' answers
(records, HdrHistograms, a worker that never answered), the bad input refused before anything
starts, an unreachable scheduler, and a ``--help`` that imports no Dask (the real cluster runs
in tests/integration/test_load_dask.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dicomfab.load.cluster import ShareJob, _merge, _Share
from dicomfab.load.job import LoadRequest
from dicomfab.load.records import StudyRecord
from dicomfab.load.report import latency_histogram, latency_stats, merged_histogram
from dicomfab.load.template import StudyMaker, generate_template, template_files

SRC = Path(__file__).resolve().parents[2] / "src"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "200"}
    env.pop("DICOMFAB_DASK", None)
    return subprocess.run(
        [sys.executable, "-m", "dicomfab", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=120, check=False,
    )  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "dicomfab.toml"
    path.write_text(
        "[targets.pacs]\n"
        f'ingest = {{ kind = "cstore", host = "127.0.0.1", port = {_closed_port()}, '
        'called_ae = "PACS" }\n'
        'verify = { kind = "sql", profile = "orthanc-postgres", '
        'url = "postgresql+psycopg://u:pw-not-shown@127.0.0.1:1/db" }\n',
        encoding="utf-8",
    )
    return path


def test_merged_worker_histograms_give_the_percentiles_of_all_latencies() -> None:
    a = [0.1 * k for k in range(1, 40)]
    b = [0.37 * k for k in range(1, 25)]
    merged = merged_histogram([latency_histogram(a).encode(), latency_histogram(b).encode()])
    assert latency_stats([], merged) == latency_stats(a + b)
    assert latency_stats([], merged_histogram([]))["p50"] is None


@pytest.fixture(scope="module")
def maker(tmp_path_factory: pytest.TempPathFactory) -> StudyMaker:
    return StudyMaker(generate_template("small", tmp_path_factory.mktemp("template")), 77)


def _job(position: int) -> ShareJob:
    name = f"w{position}"
    return ShareJob("t", name, position, 2, 6, 60.0, 77, "pacs", None, 0.5, 60.0, [], None)


def _answer(maker: StudyMaker, job: ShareJob) -> dict[str, object]:
    records = []
    for i in job.indices:
        patient_id, accession, mapping = maker.identity(i)
        sops = [mapping[str(t.header.SOPInstanceUID)] for t in maker.template]
        uid = mapping[str(maker.template[0].header.StudyInstanceUID)]
        r = StudyRecord(i, uid, patient_id, accession, sops, due=float(i))
        r.sent_at, r.acked_at, r.visible_at, r.statuses = i + 0.1, i + 0.3, i + 0.5, [0] * 4
        records.append(r.fields())
    return {
        "worker": job.worker, "records": records, "elapsed": 6.0, "fault": None,
        "histogram": latency_histogram([0.4] * len(records)).encode(), "polls": 3,
        "poll_seconds": 0.2, "description": "pacs", "associations": 2,
    }  # fmt: skip


def test_a_worker_that_never_answered_leaves_its_studies_not_measured(maker: StudyMaker) -> None:
    request = LoadRequest(studies=6, per_minute=60.0, seed=77)
    jobs = [_job(0), _job(1)]
    shares = [
        _Share("w0", "tcp://a:1", jobs[0], None, answer=_answer(maker, jobs[0])),
        _Share("w1", "tcp://b:1", jobs[1], None, lost="worker w1 (tcp://b:1) left the cluster"),
    ]
    result, histogram, extra = _merge(shares, maker, request, 7.0)
    assert [r.index for r in result.records] == list(range(6))
    assert [r.worker for r in result.records] == ["w0", "w1"] * 3
    assert [r.state for r in result.records] == ["visible", "failed"] * 3
    lost = result.records[1::2]
    assert all(not r.measured and r.latency is None and r.sent_at is None for r in lost)
    assert all(r.errors == ["not measured: worker w1 (tcp://b:1) left the cluster"] for r in lost)
    # the lost studies carry the identities a local load gives them
    assert [r.study_instance_uid for r in lost] == [
        maker.identity(i)[2][str(maker.template[0].header.StudyInstanceUID)] for i in (1, 3, 5)
    ]
    assert result.fault is not None and "w1" in result.fault and "3 studies" in result.fault
    assert histogram.get_total_count() == 3
    assert [(w["name"], w["reported"]) for w in extra["workers"]] == [("w0", True), ("w1", False)]
    assert result.elapsed == 6.0 and result.polls == 3


def test_the_template_files_are_the_same_bytes_every_time(tmp_path: Path) -> None:
    assert template_files("small", tmp_path / "a") == template_files("small", tmp_path / "b")
    assert not (tmp_path / "a" / ".load-template").exists()


def test_an_unreachable_scheduler_is_exit_3_one_line(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}"
    config = str(_config(tmp_path))
    done = _cli("load", "-c", config, "-t", "pacs", "-n", "2", "--rate", "60", "--image-size",
                "small", "-o", "out", "-q", "--dask", address, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: cannot connect to the Dask scheduler at {address}")
    assert "pw-not-shown" not in done.stderr + done.stdout
    assert not (tmp_path / "out").exists()  # checked before anything was made


def test_the_embedded_pacs_is_not_for_the_workers(tmp_path: Path) -> None:
    done = _cli("load", "-n", "2", "--rate", "60", "--dask", "tcp://127.0.0.1:1", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "embedded PACS lives in this process" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()  # refused before anything was made


def test_load_help_imports_no_dask(tmp_path: Path) -> None:
    script = (
        "import sys\nfrom dicomfab import console\n"
        "try:\n    console.main(['load', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('dask', 'distributed', 'hdrh', 'pydicom', 'pynetdicom')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(SRC)}, timeout=120, check=True,
    )  # fmt: skip
    assert "--dask ADDRESS" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"
