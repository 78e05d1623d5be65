"""The jobs list, cancelling a run (as Ctrl-C stops `dicomfab run`), and a run's records served
scenario by scenario (issue 16: bug 11, bug 12, needs 1 and 2), through the in-process API on
the embedded target."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from apiclient import TestClient

SCENARIOS = [
    "bits_consistent",
    "cu_private_tag",
    "charset_chinese_korean",
    "birthdate_empty_or_partial",
    "accession_empty_or_colliding",
    "cu_instance_number_out_of_range",
    "bpxr_with_dbt",
    "bpxr_without_dbt",
    "cu_missing_dicom",
    "cu_null_byte_tag",
    "contrast_enhanced_mammo",
    "age_dob_studydate_inconsistent",
]


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True) if p.is_running()}


def _wait(client: TestClient, job_id: str, until: Any, timeout: float = 240.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if until(job) or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def _start(client: TestClient, names: list[str]) -> str:
    body = {"scenarios": names, "image_size": "small", "target": "embedded"}
    answer = client.post("/api/runs", json=body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["job"]["id"])


def test_bug11_a_running_run_is_listed_and_cancel_stops_it_cleanly(
    client: TestClient, root: Path
) -> None:
    before = _children()
    job_id = _start(client, SCENARIOS)
    # the embedded PACS is up once the run reaches ingest: a child process of ours
    job = _wait(client, job_id, lambda j: j["stage"] == "ingest" or j["state"] != "running")
    assert job["state"] == "running" and job["stage"] == "ingest", job["stage"]
    assert _children() - before, "the embedded PACS should run as a child process"
    (row,) = [j for j in client.get("/api/jobs").json() if j["id"] == job_id]
    assert row["kind"] == "run" and row["state"] == "running"
    assert row["scenarios"] == SCENARIOS and "events" not in row
    answer = client.post(f"/api/jobs/{job_id}/cancel")
    assert answer.status_code == 202 and answer.json()["cancel_requested"] is True
    job = _wait(client, job_id, lambda j: j["state"] != "running", timeout=60)
    assert job["state"] == "cancelled", job
    assert job["events"][-1]["event"] == "cancelled"
    result = job["result"]
    assert result["interrupted"] is True and result["stage"] == "ingest"
    assert result["scenarios_not_run"] == len(SCENARIOS)
    # the reports are written, marked interrupted, and say where the data was kept
    report = json.loads((root / "runs" / result["id"] / "reports" / "report.json").read_text())
    assert report["summary"]["interrupted"] is True
    assert "scenarios generated in" in report["run"]["kept"]
    # no process left behind (the PACS is stopped, then reaped)
    deadline = time.monotonic() + 10
    while _children() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _children() - before, [psutil.Process(p).cmdline() for p in _children() - before]
    # a finished job stays as it is; an unknown one is a 404
    assert client.post(f"/api/jobs/{job_id}/cancel").json()["state"] == "cancelled"
    assert client.post("/api/jobs/nope/cancel").status_code == 404
    # bug 12: the overview says what was done and where the generated data was kept
    overview = client.get(f"/api/runs/{result['id']}/overview").json()
    assert overview["folder"] == f"runs/{result['id']}"
    assert overview["generated"] == f"runs/{result['id']}/generated"
    assert overview["summary"]["stopped"] is True
    assert f"runs/{result['id']}/generated" in overview["run"]["kept"]
    assert str(root) not in overview["run"]["kept"]
    assert {s["status"] for s in overview["scenarios"]} == {"not run"}


def test_a_queued_job_cancelled_never_starts(client: TestClient) -> None:
    first = _start(client, ["bits_consistent"])
    second = _start(client, ["cu_private_tag"])
    assert client.post(f"/api/jobs/{second}/cancel").status_code == 202
    job = _wait(client, second, lambda j: j["state"] != "running")
    assert job["state"] == "cancelled" and job["error"] == "cancelled before it started"
    assert _wait(client, first, lambda j: j["state"] != "running")["state"] == "done"
    listed = [j["id"] for j in client.get("/api/jobs").json()]
    assert listed[:2] == [second, first]  # newest first


def test_need1_need2_records_by_scenario_with_files_and_overrides(client: TestClient) -> None:
    """pr_bits_mismatch on the embedded target passes 8/8 because the target accepts what the
    scenario rejects: the overview counts those passes, the records mark them, and each
    instance names its file (inside the root: the thumbnail and header routes take it)."""
    job_id = _start(client, ["pr_bits_mismatch", "bits_consistent"])
    job = _wait(client, job_id, lambda j: j["state"] != "running")
    assert job["state"] == "done", job["error"]
    run_id = job["result"]["id"]
    overview = client.get(f"/api/runs/{run_id}/overview").json()
    rows = {s["name"]: s for s in overview["scenarios"]}
    assert "instances" not in rows["pr_bits_mismatch"]  # light: records come per scenario
    via = rows["pr_bits_mismatch"]["passed_by_override"]
    assert via >= 1 and rows["bits_consistent"]["passed_by_override"] == 0
    assert overview["summary"]["counts"]["passed_by_override"] == via
    records = client.get(f"/api/runs/{run_id}/scenarios/pr_bits_mismatch").json()
    assert len(records["instances"]) == 8 and len(records["studies"]) == 2
    marked = [i for i in records["instances"] if i["override"]]
    assert len(marked) == via and all(i["override"] == "reject→accept" for i in marked)
    assert all(i["status"] == "pass" for i in marked)
    plain = next(i for i in records["instances"] if not i["override"])
    assert plain["path"].startswith(f"runs/{run_id}/merged_dataset/dicoms/")
    thumb = client.get("/api/preview/thumbnail", params={"path": plain["path"], "size": 64})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
    header = client.get("/api/preview/header", params={"path": plain["path"]})
    assert header.status_code == 200
    assert client.get(f"/api/runs/{run_id}/scenarios/nope").status_code == 404
    assert client.get("/api/runs/..%2F..%2Fetc/overview").status_code == 404
    html = client.get(f"/api/runs/{run_id}/report.html").text
    assert "pass (override reject→accept)" in html


def test_a_job_blocked_without_progress_is_interrupted_after_the_grace() -> None:
    """Work that never reports progress (a long wait) still stops: the interruption is raised
    in its thread once the grace period has passed, and its cleanup runs."""
    from dicomfab.web.jobs import CANCEL_GRACE, JobProgress, JobRunner

    cleaned: list[bool] = []
    started = threading.Event()

    def work(_progress: JobProgress) -> None:
        started.set()
        try:
            while True:
                time.sleep(0.02)
        finally:
            cleaned.append(True)

    runner = JobRunner()
    job = runner.submit("generate", work)
    assert started.wait(10)
    runner.cancel(job)
    with job.cond:
        job.cond.wait_for(lambda: job.finished, timeout=CANCEL_GRACE + 10)
    assert job.state == "cancelled" and cleaned == [True]
    assert [e["event"] for e in job.events] == ["cancelling", "cancelled"]
