"""``dicomfab load --dask`` against a real Dask cluster (a ``dask scheduler`` and two ``dask
worker`` processes on loopback) and the session's Orthanc + PostgreSQL (the embedded PACS lives
in the client process, out of the workers' reach): the studies split over both workers, every
one visible, the same UIDs as a local load with the same seed; an interrupted load writes what
the workers measured and leaves no task running; a worker that dies is exit 3, its studies not
measured."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stack import OrthancStack

from dicomfab.testing.dask_cluster import local_dask_cluster

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    with local_dask_cluster(workers=2, pythonpath=SRC) as address:
        yield address


def _targets(tmp_path: Path, stack: OrthancStack) -> Path:
    url = (
        f"postgresql+psycopg://{stack.user}:{stack.password}@{stack.pg_host}:{stack.pg_port}/"
        f"{stack.database}"
    )
    path = tmp_path / "dicomfab.toml"
    path.write_text(
        "[targets.orthanc]\n"
        f'ingest = {{ kind = "cstore", host = "{stack.host}", port = {stack.dicom_port}, '
        f'called_ae = "{stack.ae_title}", timeout = 20, associations = 2 }}\n'
        f'verify = {{ kind = "sql", profile = "orthanc-postgres", url = "{url}" }}\n',
        encoding="utf-8",
    )
    return path


def _command(out: Path, seed: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "dicomfab", "load", "--image-size", "small", "--seed",
            str(seed), "-o", str(out), "-q", *extra]  # fmt: skip


def _load_folders_in_system_temp() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("dicomfab-load-*"))


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "200"}
    env.pop("DICOMFAB_DASK", None)
    return env


def _load(out: Path, seed: int, *extra: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        _command(out, seed, *extra), capture_output=True, text=True, timeout=300, env=_env()
    )
    path = out / "load.json"
    data = json.loads(path.read_text("utf-8")) if path.exists() else {}
    return done.returncode, data, done.stdout + done.stderr


def _uids(data: dict[str, Any]) -> list[tuple[int, str, list[str]]]:
    return [(s["index"], s["study_instance_uid"], s["sop_instance_uids"]) for s in data["studies"]]


def test_load_splits_over_both_workers_with_the_local_uids(
    orthanc_stack: OrthancStack, dask_address: str, tmp_path: Path
) -> None:
    config = _targets(tmp_path, orthanc_stack)
    code, data, output = _load(
        tmp_path / "dask", 920_001, "-c", str(config), "-t", "orthanc", "--dask", dask_address,
        "-n", "8", "--rate", "600/min", "--poll", "0.2",
    )  # fmt: skip
    assert code == 0, output
    assert "Traceback" not in output
    studies = data["studies"]
    assert [s["index"] for s in studies] == list(range(8))
    assert all(s["state"] == "visible" and s["latency"] > 0 for s in studies), studies
    assert all(s["statuses"] == [0, 0, 0, 0] for s in studies)
    # worker w of 2 sent the studies i ≡ w (mod 2), each due at i × 0.1 s from the common start
    assert {s["worker"] for s in studies} == {"w0", "w1"}
    assert all(s["worker"] == f"w{s['index'] % 2}" for s in studies)
    assert [s["due"] for s in studies] == pytest.approx([i * 0.1 for i in range(8)])
    assert [(w["name"], w["studies"], w["reported"]) for w in data["workers"]] == [
        ("w0", 4, True),
        ("w1", 4, True),
    ]
    latency = data["summary"]["latency"]  # from the workers' HdrHistograms, added up
    assert latency["count"] == 8
    # each study's latency is rounded to 0.1 ms; the histogram's max is the top of the bucket
    # holding the true max, at most 2^-10 above it (3 significant digits)
    slowest = max(s["latency"] for s in studies)
    assert slowest - 5e-5 <= latency["max"] <= (slowest + 5e-5) * (1 + 2**-10) + 1e-6
    assert data["config"]["dask"] == dask_address and data["config"]["associations"] == 2
    text = (tmp_path / "dask" / "load.json").read_text("utf-8") + output
    assert orthanc_stack.password not in text  # the target's secret went to workers in memory
    assert (tmp_path / "dask" / "load.html").read_text("utf-8").count("<svg") == 2
    # the same seed sent locally (to the embedded PACS): the same studies, UID for UID
    code, local, output = _load(tmp_path / "local", 920_001, "-n", "8", "--rate", "600/min")
    assert code == 0, output
    assert _uids(local) == _uids(data)
    assert "worker" not in local["studies"][0] and "workers" not in local


def test_seed_used_before_is_bad_input_on_the_cluster_too(
    orthanc_stack: OrthancStack, dask_address: str, tmp_path: Path
) -> None:
    config = _targets(tmp_path, orthanc_stack)
    args = ("-c", str(config), "-t", "orthanc", "--dask", dask_address, "--rate", "600/min")
    code, data, output = _load(tmp_path / "one", 920_002, *args, "-n", "1")
    assert code == 0, output
    assert [w["name"] for w in data["workers"]] == ["w0"]  # one study: one worker sends
    code, _, output = _load(tmp_path / "two", 920_002, *args, "-n", "2")  # study 0 held (w0)
    assert code == 2, output
    assert "another --seed" in output and "Traceback" not in output


def _processing(address: str) -> list[str]:
    from distributed import Client

    with Client(address, timeout=10, set_as_default=False) as client:
        busy = [key for keys in client.processing().values() for key in keys]
        threads = client.run(
            lambda: [t.name for t in __import__("threading").enumerate()], on_error="return"
        )
    senders = [n for names in threads.values() for n in names if n.startswith("dicomfab-load")]
    return [str(k) for k in busy] + senders


def _wait_until_sending(address: str, proc: subprocess.Popen[str]) -> None:
    """Until the client handed out the common start (the workers are sending), then a few
    seconds more."""
    from distributed import Client

    def started(dask_scheduler: Any) -> bool:  # defined here: sent to the scheduler by value
        variables = dask_scheduler.extensions["variables"].variables
        return any(str(name).startswith("dicomfab-load-start-") for name in variables)

    with Client(address, timeout=10, set_as_default=False) as client:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if client.run_on_scheduler(started):
                break
            time.sleep(0.1)
    time.sleep(3)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_dask_load_writes_what_was_measured_and_leaves_no_task(
    orthanc_stack: OrthancStack, dask_address: str, tmp_path: Path, sig: signal.Signals
) -> None:
    config = _targets(tmp_path, orthanc_stack)
    out = tmp_path / "out"
    cmd = _command(out, 920_003 + 10 * sig, "-c", str(config), "-t", "orthanc", "--dask",
                   dask_address, "-n", "100", "--rate", "120/min")  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())  # fmt: skip
    try:
        _wait_until_sending(dask_address, proc)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err and f"interrupted ({sig.name})" in err
    data = json.loads((out / "load.json").read_text("utf-8"))
    assert data["interrupted"] == sig.name and data["exit_code"] == 128 + sig
    studies = data["studies"]
    assert len(studies) == 100
    sent = [s for s in studies if s["sent_at"] is not None]
    assert {s["worker"] for s in sent} == {"w0", "w1"}  # both workers had sent, and reported
    assert all(w["reported"] for w in data["workers"]), data["workers"]
    assert data["summary"]["states"]["visible"] < 100
    assert all(s["latency"] is None for s in studies if s["state"] != "visible")
    left = _processing(dask_address)
    deadline = time.monotonic() + 10
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _processing(dask_address)
    assert left == []


def test_a_worker_that_dies_is_exit_3_and_its_studies_are_not_measured(
    orthanc_stack: OrthancStack, tmp_path: Path
) -> None:
    from distributed import Client

    config = _targets(tmp_path, orthanc_stack)
    out = tmp_path / "out"
    before = _load_folders_in_system_temp()
    with local_dask_cluster(workers=2, pythonpath=SRC) as address:
        with Client(address, timeout=10, set_as_default=False) as client:
            pids = client.run(os.getpid)
            scratch = client.run(lambda dask_worker: dask_worker.local_directory)
            info = client.scheduler_info(n_workers=-1)["workers"]
            names = {address: worker["name"] for address, worker in info.items()}
        victim = next(a for a, name in names.items() if name == "w1")
        cmd = _command(out, 920_004, "-c", str(config), "-t", "orthanc", "--dask", address,
                       "-n", "40", "--rate", "120/min")  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=_env())  # fmt: skip
        try:
            _wait_until_sending(address, proc)
            os.kill(pids[victim], signal.SIGKILL)  # a worker process this test started
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 3, err
    assert "Traceback" not in err
    # the killed worker's folder for the target's logs was in its Dask scratch space, inside
    # the cluster's folder (removed with it), not in the system's temporary folder
    assert _load_folders_in_system_temp() == before
    assert not any(Path(folder).exists() for folder in scratch.values())
    data = json.loads((out / "load.json").read_text("utf-8"))
    assert "w1" in data["fault"] and "not measured" in data["fault"]
    lost = [s for s in data["studies"] if s["worker"] == "w1"]
    assert len(lost) == 20
    assert all(not s["measured"] and s["state"] == "failed" for s in lost)
    assert all(s["latency"] is None for s in lost)
    assert data["summary"]["not_measured"] == 20
    kept = [s for s in data["studies"] if s["worker"] == "w0"]
    assert all(s["measured"] for s in kept)
    assert sum(s["state"] == "visible" for s in kept) == 20, json.dumps(data["workers"])
