"""``dicomfab check --associations`` as a user runs it (the CLI in a subprocess) against the
session's Orthanc + PostgreSQL: a ladder of steps, a recommendation among the measured counts,
the instances stored under the marked patient (counted through Orthanc's REST API); Ctrl-C
mid-ladder; a target without C-STORE is bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from stack import OrthancStack

from dicomfab.load.associations import PATIENT_ID_PREFIX, PATIENT_NAME


def _targets(tmp_path: Path, stack: OrthancStack) -> Path:
    url = (
        f"postgresql+psycopg://{stack.user}:{stack.password}@{stack.pg_host}:{stack.pg_port}/"
        f"{stack.database}"
    )
    path = tmp_path / "dicomfab.toml"
    path.write_text(
        "[targets.orthanc]\n"
        f'ingest = {{ kind = "cstore", host = "{stack.host}", port = {stack.dicom_port}, '
        f'called_ae = "{stack.ae_title}", timeout = 20 }}\n'
        f'verify = {{ kind = "sql", profile = "orthanc-postgres", url = "{url}" }}\n'
        "[targets.stow]\n"
        f'ingest = {{ kind = "stow", url = "{stack.orthanc.url}/dicom-web" }}\n'
        f'verify = {{ kind = "qido", url = "{stack.orthanc.url}/dicom-web" }}\n',
        encoding="utf-8",
    )
    return path


def _check(config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "dicomfab", "check", "-c", str(config), *extra]


def _find(stack: OrthancStack, patient_id: str) -> list[dict[str, Any]]:
    body = json.dumps(
        {"Level": "Instance", "Query": {"PatientID": patient_id}, "Expand": True}
    ).encode()
    request = urllib.request.Request(f"{stack.orthanc.url}/tools/find", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return list(json.load(response))


def test_ladder_recommends_a_measured_count_and_the_instances_arrived(
    orthanc_stack: OrthancStack, tmp_path: Path
) -> None:
    config = _targets(tmp_path, orthanc_stack)
    cmd = _check(config, "-t", "orthanc", "--associations", "--max-associations", "6",
                 "--studies", "3", "--image-size", "small", "--json")  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    data = json.loads(done.stdout)
    assert all(p["ok"] for p in data["probes"])
    found = data["associations"]
    steps = found["steps"]
    assert steps[0]["warmup"] and steps[0]["associations"] == 1
    # the probe: the stack's Orthanc serves DicomThreadsCount (4) associations at once, and
    # the ladder goes to 4 and no further, whatever the gains
    served = found["concurrency"]
    assert served["served"] == 4 and served["limited"], served
    assert len(served["slowest_echo_s"]) == 5 and "with 5 open" in served["reason"]
    ks = [s["associations"] for s in steps[1:]]
    assert ks == [1, 2, 3, 4]
    assert found["stopped"] == "the target serves 4 associations at once"
    assert found["recommended"] in ks
    assert all(s["errors"] == 0 and s["ok"] == s["instances"] > 0 for s in steps)
    assert all(s["instances_per_s"] > 0 for s in steps)
    assert steps[1]["gain"] is None and all(s["gain"] is not None for s in steps[2:])
    assert found["config_key"] == "targets.orthanc.ingest.associations"
    assert f"associations = {found['recommended']}" in found["config_line"]
    patient_id = found["patient_id"]
    assert patient_id.startswith(PATIENT_ID_PREFIX)
    stored = _find(orthanc_stack, patient_id)
    assert len(stored) == sum(s["ok"] for s in steps)
    tags = stored[0]["MainDicomTags"]
    assert len({i["MainDicomTags"]["SOPInstanceUID"] for i in stored}) == len(stored)
    assert "SOPInstanceUID" in tags
    url = f"{orthanc_stack.orthanc.url}/instances/{stored[0]['ID']}/patient"
    with urllib.request.urlopen(url, timeout=30) as answer:  # closed: no socket left to the GC
        patient = json.load(answer)
    assert patient["MainDicomTags"]["PatientName"] == PATIENT_NAME


def test_interrupted_ladder_exit_130_prints_what_it_measured(
    orthanc_stack: OrthancStack, tmp_path: Path
) -> None:
    config = _targets(tmp_path, orthanc_stack)
    cmd = _check(config, "-t", "orthanc", "--associations", "--studies", "150",
                 "--image-size", "small")  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # a line per finished step
            lines.append(line)
            if "k=1:" in line:
                break
        time.sleep(0.5)  # into the k=2 step
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        out, err = proc.communicate(timeout=30)
        stopped_in = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    err = "".join(lines) + err
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err
    assert stopped_in < 15
    assert "INTERRUPTED" in out and "interrupted (SIGINT)" in out + err
    assert "warm-up (1)" in out
    assert "recommended: " in out and "PatientID DFCHECK" in out


def test_target_without_cstore_is_bad_input(orthanc_stack: OrthancStack, tmp_path: Path) -> None:
    config = _targets(tmp_path, orthanc_stack)
    done = subprocess.run(
        _check(config, "-t", "stow", "--associations"), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "does not ingest with C-STORE" in done.stderr and "--target" in done.stderr
    assert "Traceback" not in done.stderr


def test_repeat_measures_each_count_several_times(
    orthanc_stack: OrthancStack, tmp_path: Path
) -> None:
    config = _targets(tmp_path, orthanc_stack)
    cmd = _check(config, "-t", "orthanc", "--associations", "--max-associations", "2",
                 "--studies", "1", "--image-size", "small", "--repeat", "3", "--json")  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    found = json.loads(done.stdout)["associations"]
    warmup, *steps = found["steps"]
    assert len(warmup["rounds"]) == 1  # the warm-up is not repeated
    assert [s["associations"] for s in steps] == [1, 2][: len(steps)] and steps
    for s in steps:
        assert len(s["rounds"]) == 3
        assert s["instances_per_s"] == pytest.approx(sorted(s["rounds"])[1], abs=0.011)
    stored = _find(orthanc_stack, found["patient_id"])
    assert len(stored) == sum(s["ok"] for s in found["steps"])
