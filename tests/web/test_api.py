"""The web UI's API in process (FastAPI's TestClient), and ``dicomfab ui`` as a real server."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
from apiclient import AUTH, TOKEN, TestClient
from PIL import Image
from ui_server import running_ui

from dicomfab.studyspec import legacy
from dicomfab.web.app import create_app
from dicomfab.web.settings import UISettings

REPO = Path(__file__).resolve().parents[2]
LEGACY = REPO / "examples" / "legacy" / "power-customize.json"


def wait_for(client: TestClient, job: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/api/jobs/{job['id']}").json()
        if state["state"] != "running":
            return state
        time.sleep(0.2)
    raise AssertionError(f"job {job['id']} still running after {timeout} s")


def issues_of(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert set(body["detail"]) == {"message", "issues"}
    issues: list[dict[str, Any]] = body["detail"]["issues"]
    return issues


SMALL_SPEC: dict[str, Any] = {
    "name": "small-private",
    "seed": 3,
    "defaults": {
        "pixels": {"size": "small"},
        # an unknown private element needs its VR (a bare "hello" is refused: see below)
        "tags": {'(0029,"ACME 1.0",10)': {"vr": "LO", "value": "hello"}},
    },
    "patients": [{"name": "Doe^Jane", "studies": [{"role": "current"}]}],
}


# ── security ─────────────────────────────────────────────────────────────────────────────


def test_token_is_required(client: TestClient) -> None:
    assert client.get("/api/info", headers={"X-Dicomfab-Token": ""}).status_code == 401
    wrong = client.get("/api/info", headers={"X-Dicomfab-Token": "nope"})
    assert wrong.status_code == 401
    assert "token" in wrong.json()["detail"]["message"]
    assert client.get("/api/info").status_code == 200


def test_static_pages_need_no_token_and_say_when_unbuilt(client: TestClient) -> None:
    page = client.get("/", headers={"X-Dicomfab-Token": ""})
    assert page.status_code == 200
    assert "make web" in page.text
    assert client.get("/some/client/route", headers={"X-Dicomfab-Token": ""}).status_code == 200


def test_built_front_end_is_served_with_spa_fallback(root: Path, tmp_path: Path) -> None:
    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_text("<html>app</html>")
    (static / "assets" / "main.js").write_text("console.log(1)")
    settings = UISettings(
        token=TOKEN, roots=[root], allowed_hosts=frozenset({"testserver"}), static_dir=static
    )
    web = TestClient(create_app(settings))
    assert web.get("/").text == "<html>app</html>"
    assert web.get("/assets/main.js").text == "console.log(1)"
    assert web.get("/wizard/step/2").text == "<html>app</html>"
    assert web.get("/../../etc/passwd").text == "<html>app</html>"
    assert web.get("/api/unknown", headers=AUTH).status_code == 404


def test_cross_origin_writes_are_refused(client: TestClient) -> None:
    body = {"spec": {"name": "x"}}
    evil = client.post("/api/spec/validate", json=body, headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403
    referer = client.post(
        "/api/spec/validate", json=body, headers={"Referer": "http://evil.example/page"}
    )
    assert referer.status_code == 403
    same = client.post("/api/spec/validate", json=body, headers={"Origin": "http://testserver"})
    assert same.status_code == 200


def test_foreign_host_is_refused(client: TestClient) -> None:
    response = client.get("/api/info", headers={"Host": "attacker.example:8000"})
    assert response.status_code == 403
    assert client.get("/", headers={"Host": "attacker.example"}).status_code == 403


def test_the_token_is_never_taken_from_an_api_url(client: TestClient, root: Path) -> None:
    # scripts send the header, browsers the cookie set by the landing page (see
    # test_api_security.py); a token in an API URL would end up in logs and links
    bare = TestClient(client.app)  # no default header at all
    assert bare.get(f"/api/info?token={TOKEN}").status_code == 401
    assert bare.get(f"/api/preview/thumbnail?path=missing.dcm&token={TOKEN}").status_code == 401
    assert bare.post(f"/api/spec/validate?token={TOKEN}", json={"spec": {}}).status_code == 401


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_paths_outside_the_roots_are_refused(
    client: TestClient, root: Path, tmp_path: Path, kind: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.dcm").write_bytes(b"x")
    value = {
        "dotdot": "../../outside/secret.dcm",
        "absolute": str(outside / "secret.dcm"),
        "symlink": "link/secret.dcm",
    }[kind]
    if kind == "symlink":
        (root / "link").symlink_to(outside)
    response = client.get("/api/preview/header", params={"path": value})
    assert response.status_code == 400
    assert issues_of(response)[0]["path"] == "path"
    assert "outside the allowed folders" in response.json()["detail"]["message"]
    gen = client.post("/api/generate", json={"scenarios": ["bits_consistent"], "output": value})
    assert gen.status_code == 400
    assert issues_of(gen)[0]["path"] == "output"


# ── library, specs, dictionary ───────────────────────────────────────────────────────────


def test_info(client: TestClient, root: Path) -> None:
    info = client.get("/api/info").json()
    assert info["roots"] == [str(root.resolve())]
    assert info["output"] == str(root.resolve() / "out")
    assert info["runs_dir"] == str(root.resolve() / "runs")
    assert {"version", "config"} <= set(info)


def test_scenarios_list_card_and_spec(client: TestClient) -> None:
    rows = client.get("/api/scenarios").json()
    by_name = {r["name"]: r for r in rows}
    row = by_name["bits_consistent"]
    assert {
        "name",
        "title",
        "category",
        "tags",
        "expected",
        "description",
        "why",
        "aliases",
    } <= set(row)
    card = client.get("/api/scenarios/bits_consistent").json()
    assert card["name"] == "bits_consistent"
    assert "image_size" in card["parameters"]
    assert {"default", "description"} <= set(card["parameters"]["image_size"])
    missing = client.get("/api/scenarios/bits_consistnt")
    assert missing.status_code == 404
    assert "bits_consistent" in missing.json()["detail"]["message"]
    spec = client.get(
        "/api/scenarios/bits_consistent/spec", params={"set": ["image_size=small"]}
    ).json()["spec"]
    assert spec["name"] == "bits_consistent"
    assert spec["defaults"]["pixels"]["size"] == "small"
    assert client.post("/api/spec/validate", json={"spec": spec}).json()["ok"] is True


def test_sites(client: TestClient) -> None:
    sites = client.get("/api/sites").json()
    assert sites
    assert {"name", "patient_name", "birth_date", "patient_id"} <= set(sites[0])


def test_schema(client: TestClient) -> None:
    schema = client.get("/api/spec/schema").json()
    assert "properties" in schema and "patients" in schema["properties"]


def test_validate_good_and_bad_specs(client: TestClient) -> None:
    good = client.post("/api/spec/validate", json={"spec": SMALL_SPEC}).json()
    assert good["ok"] is True
    assert good["summary"] == {"patients": 1, "studies": 1, "series": 1, "instances": 4}
    bad_spec = {"name": "bad", "defaults": {"tags": {"PatientNme": "Doe^Jane"}}}
    bad = client.post("/api/spec/validate", json={"spec": bad_spec}).json()
    assert bad["ok"] is False
    issue = bad["issues"][0]
    assert issue["path"] == "defaults.tags.PatientNme"
    assert issue["suggestion"] == "PatientName"


def test_import_yaml_json_and_legacy(client: TestClient) -> None:
    yaml_text = "name: imported\npatients:\n  - studies:\n      - role: current\n"
    got = client.post("/api/spec/import", json={"text": yaml_text, "filename": "a.yaml"}).json()
    assert got["spec"]["name"] == "imported"
    assert got["notes"] == []
    as_json = client.post(
        "/api/spec/import", json={"text": json.dumps(SMALL_SPEC), "filename": "s.json"}
    ).json()
    assert as_json["spec"] == SMALL_SPEC
    legacy = client.post(
        "/api/spec/import", json={"text": LEGACY.read_text(), "filename": LEGACY.name}
    )
    assert legacy.status_code == 200
    body = legacy.json()
    assert "current_study" not in body["spec"] and body["spec"]["patients"]
    assert any("power-customize" in n for n in body["notes"])
    assert client.post("/api/spec/validate", json={"spec": body["spec"]}).json()["ok"]
    broken = client.post("/api/spec/import", json={"text": "a: [1,", "filename": "x.yaml"})
    assert broken.status_code == 422
    assert "invalid YAML" in issues_of(broken)[0]["message"]
    for empty in (
        "",
        "~",
        "null\n",
        "# only a comment\n",
    ):  # as in the CLI: {} asks for the default
        refused = client.post("/api/spec/import", json={"text": empty, "filename": "e.yaml"})
        assert refused.status_code == 422, empty
        assert "is empty" in issues_of(refused)[0]["message"]


@pytest.mark.parametrize("name", ["power_config.json", "wizard_config.json"])
def test_import_accepts_every_old_config(client: TestClient, name: str) -> None:
    """The predecessor's sample and a config in its wizard's exact shape (study ``type``, image
    ``cancerous``, ``force_*`` flags, Laterality "R", SeriesInstanceUIDs) import as the CLI reads
    them (tests/cli/test_legacy_configs.py checks what they generate)."""
    path = REPO / "tests" / "data" / "legacy" / name
    answer = client.post("/api/spec/import", json={"text": path.read_text(), "filename": name})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["spec"] == legacy.convert(json.loads(path.read_text()))
    assert any('type "external_screening" is accepted' in n for n in body["notes"])
    checked = client.post("/api/spec/validate", json={"spec": body["spec"]}).json()
    assert checked["ok"], checked["issues"]
    assert checked["summary"]["studies"] == len(body["spec"]["patients"][0]["studies"])
    typo = path.read_text().replace('"type": "external_screening"', '"typo": "external_screening"')
    refused = client.post("/api/spec/import", json={"text": typo, "filename": name})
    assert refused.status_code == 422
    issue = issues_of(refused)[0]
    assert (issue["path"], issue["suggestion"]) == ("external_priors[0].typo", "type")


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_export_round_trip(client: TestClient, fmt: str) -> None:
    text = client.post("/api/spec/export", json={"spec": SMALL_SPEC, "format": fmt}).json()["text"]
    back = client.post("/api/spec/import", json={"text": text, "filename": f"spec.{fmt}"}).json()
    assert back["spec"] == SMALL_SPEC


def test_dictionary(client: TestClient) -> None:
    hits = client.get("/api/dictionary", params={"q": "PatientNa"}).json()
    assert hits[0] == {
        "keyword": "PatientName",
        "tag": "(0010,0010)",
        "vr": "PN",
        "vm": "1",
        "name": "Patient's Name",
    }
    for q in ("0010,0010", "00100010", "(0010,0010)"):
        assert client.get("/api/dictionary", params={"q": q}).json()[0]["keyword"] == "PatientName"
    assert len(client.get("/api/dictionary", params={"q": "date", "limit": 5}).json()) == 5


# ── generating and previews ──────────────────────────────────────────────────────────────


def test_generate_scenarios_then_browse_and_preview(client: TestClient, root: Path) -> None:
    started = client.post(
        "/api/generate",
        json={
            "scenarios": ["bits_consistent", "pr_bits_mismatch"],
            "params": {"image_size": "small"},
            "output": "out",
        },
    )
    assert started.status_code == 202, started.text
    job = wait_for(client, started.json()["job"])
    assert job["state"] == "done", job["error"]
    assert job["kind"] == "generate"
    assert {r["name"] for r in job["result"]} == {"bits_consistent", "pr_bits_mismatch"}
    assert all(r["files"] > 0 and r["bytes"] > 0 for r in job["result"])
    assert [e["event"] for e in job["events"]][-2:] == ["stage", "done"]

    datasets = client.get("/api/datasets", params={"output": "out"}).json()
    assert {d["scenario"] for d in datasets} == {"bits_consistent", "pr_bits_mismatch"}
    assert all(d["instances"] > 0 for d in datasets)

    tree = client.get("/api/datasets/tree", params={"path": "out/bits_consistent"}).json()
    assert tree["kind"] == "dir"
    dicoms = next(c for c in tree["children"] if c["name"] == "dicoms")
    study = dicoms["children"][0]
    file = study["children"][0]
    assert file["kind"] == "file" and file["size"] > 0

    thumb = client.get("/api/preview/thumbnail", params={"path": file["path"], "size": 96})
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(thumb.content))
    assert image.format == "PNG" and max(image.size) <= 96

    header = client.get("/api/preview/header", params={"path": file["path"]}).json()
    keywords = {e["keyword"]: e for e in header["elements"]}
    assert keywords["PatientName"]["vr"] == "PN"
    assert keywords["PixelData"]["value"].endswith("bytes>")
    assert all(len(e["value"]) <= 200 for e in header["elements"])

    again = client.post("/api/generate", json={"scenarios": ["bits_consistent"], "output": "out"})
    assert again.status_code == 409
    assert issues_of(again)[0]["path"] == "output"


def test_generate_spec_with_a_private_tag(client: TestClient, root: Path) -> None:
    started = client.post("/api/generate-spec", json={"spec": SMALL_SPEC, "output": "specs"})
    assert started.status_code == 202, started.text
    # streamed while it runs: the response ends with the job
    live = client.get(f"/api/jobs/{started.json()['job']['id']}/events")
    assert re.findall(r"^event: (\w+)$", live.text, flags=re.M)[-1] == "done"
    job = wait_for(client, started.json()["job"])
    assert job["state"] == "done", job["error"]
    (result,) = job["result"]
    assert result["name"] == "small-private"
    files = sorted((root / "specs" / "small-private" / "dicoms").rglob("*.dcm"))
    assert len(files) == result["files"] == 4
    ds = pydicom.dcmread(files[0])
    element = ds.private_block(0x0029, "ACME 1.0")[0x10]
    assert element.value == "hello"
    header = client.get("/api/preview/header", params={"path": str(files[0])}).json()
    assert any(e["value"] == "ACME 1.0" for e in header["elements"])


def test_a_bad_spec_is_refused_before_a_job_starts(client: TestClient) -> None:
    bad = {**SMALL_SPEC, "defaults": {"tags": {"PatientNme": "x"}}}
    response = client.post("/api/generate-spec", json={"spec": bad})
    assert response.status_code == 422
    assert issues_of(response)[0]["suggestion"] == "PatientName"
    unknown_param = client.post(
        "/api/generate", json={"scenarios": ["bits_consistent"], "params": {"imag_size": "small"}}
    )
    assert unknown_param.status_code == 422


def test_a_private_tag_without_its_vr_is_explained(client: TestClient) -> None:
    spec = {**SMALL_SPEC, "defaults": {"tags": {'(0029,"ACME 1.0",10)': "hello"}}}
    answer = client.post("/api/spec/validate", json={"spec": spec}).json()
    assert answer["ok"] is False
    assert "give its VR" in answer["issues"][0]["message"]


def test_quiet_streams_get_heartbeats(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from dicomfab.web.routes import jobs as api

    monkeypatch.setattr(api, "HEARTBEAT", 0.1)
    monkeypatch.setattr(api, "_WAIT", 0.05)
    job = client.app.state.jobs.submit("generate", lambda _progress: time.sleep(0.6) or [])  # type: ignore[attr-defined]
    text = client.get(f"/api/jobs/{job.id}/events").text
    assert ": heartbeat" in text
    assert text.rstrip().endswith('data: {"result": []}')


def test_a_failing_job_reports_its_error(client: TestClient) -> None:
    from dicomfab.errors import OutputError

    def fail(_progress: object) -> None:
        raise OutputError("disk full")

    job = client.app.state.jobs.submit("generate", fail)  # type: ignore[attr-defined]
    text = client.get(f"/api/jobs/{job.id}/events").text
    assert "event: failed" in text and "disk full" in text
    state = client.get(f"/api/jobs/{job.id}").json()
    assert state["state"] == "failed" and state["error"] == "disk full"


def test_unknown_job(client: TestClient) -> None:
    assert client.get("/api/jobs/nope").status_code == 404
    assert client.get("/api/jobs/nope/events").status_code == 404


# ── runs ─────────────────────────────────────────────────────────────────────────────────


def test_run_embedded_then_list_and_report(client: TestClient, root: Path) -> None:
    started = client.post(
        "/api/runs",
        json={"scenarios": ["bits_consistent"], "image_size": "small", "target": None},
    )
    assert started.status_code == 202, started.text
    job = wait_for(client, started.json()["job"])
    assert job["state"] == "done", job["error"]
    assert job["kind"] == "run"
    assert job["result"]["passed"] is True
    stages = [e["data"]["stage"] for e in job["events"] if e["event"] == "stage"]
    assert stages[0] == "generate" and "verify" in stages

    runs = client.get("/api/runs").json()
    assert len(runs) == 1
    run = runs[0]
    assert run["id"] == job["result"]["id"]
    assert run["passed"] is True and run["scenarios"] == 1 and run["scenarios_failed"] == 0
    assert run["target"].startswith("embedded")
    report = client.get(f"/api/runs/{run['id']}/report").json()
    assert report["summary"]["passed"] is True
    assert [s["name"] for s in report["scenarios"]] == ["bits_consistent"]
    # the embedded target's two verifiers: one record per instance, with both verdicts
    (scenario,) = report["scenarios"]
    files = [i["file"] for i in scenario["instances"]]
    assert len(files) == len(set(files)) == scenario["counts"]["instances"]
    for record in [*scenario["instances"], *scenario["studies"]]:
        assert [e["verifier"] for e in record["evidence"]] == ["sql", "c-find"]
    # started without a seed: a fresh one, recorded (the run can be replayed with it)
    seed = job["result"]["seed"]
    assert isinstance(seed, int) and report["summary"]["seed"] == seed
    browser = TestClient(client.app)  # a browser: the cookie the landing page sets, no header
    browser.cookies.set("dicomfab-token-0", TOKEN)
    html = browser.get(f"/api/runs/{run['id']}/report.html")
    assert html.status_code == 200 and "<html" in html.text.lower()
    assert client.get("/api/runs/nope/report").status_code == 404
    assert client.get("/api/runs/..%2F..%2Fetc/report").status_code == 404

    # the event stream of a finished job: every event replayed, ending with `done`
    stream = browser.get(f"/api/jobs/{job['id']}/events")
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    names = re.findall(r"^event: (\w+)$", stream.text, flags=re.M)
    assert names[-1] == "done" and "progress" in names and "stage" in names
    last = stream.text.strip().split("\n\n")[-1]
    data = json.loads(last.split("data: ", 1)[1])
    assert data["result"]["passed"] is True
    # an EventSource reconnecting after the end gets 204 (and stops)
    last_id = len(job["events"]) - 1
    after = client.get(f"/api/jobs/{job['id']}/events", headers={"Last-Event-ID": str(last_id)})
    assert after.status_code == 204


def test_run_with_an_unknown_target_or_scenario_is_refused(client: TestClient) -> None:
    target = client.post("/api/runs", json={"scenarios": ["bits_consistent"], "target": "orthnc"})
    assert target.status_code == 422
    scenario = client.post("/api/runs", json={"scenarios": ["bits_consistnt"]})
    assert scenario.status_code == 422


def test_targets(client: TestClient) -> None:
    targets = client.get("/api/targets").json()
    assert targets["targets"][0]["name"] == "embedded"


# ── the command ──────────────────────────────────────────────────────────────────────────


def test_ui_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dicomfab", "ui", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "--no-browser" in done.stdout and "--root" in done.stdout


def test_ui_serves_with_a_token(tmp_path: Path) -> None:
    with running_ui(tmp_path) as ui:
        ok = httpx.get(ui.base + "api/info", headers={"X-Dicomfab-Token": ui.token}, timeout=20)
        assert ok.status_code == 200
        assert ok.json()["roots"] == [str(tmp_path.resolve())]
        assert httpx.get(ui.base + "api/info", timeout=20).status_code == 401
        assert httpx.get(ui.base, timeout=20).status_code == 200


def test_export_legacy(client: TestClient) -> None:
    spec = {"seed": 3, "patients": [{"name": "Doe^Jane", "studies": [{"role": "current"}]}]}
    answer = client.post("/api/spec/export", json={"spec": spec, "format": "legacy"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    old = json.loads(body["text"])
    assert "current_study" in old and body["notes"]
    back = client.post("/api/spec/import", json={"text": body["text"], "filename": "old.json"})
    assert back.status_code == 200, back.text
    assert back.json()["spec"]["patients"][0]["name"] == "Doe^Jane"
    refused = client.post(
        "/api/spec/export",
        json={"spec": {**SMALL_SPEC, "patients": [{}, {"iod": "dx"}]}, "format": "legacy"},
    )
    assert refused.status_code == 422
    issues = refused.json()["detail"]["issues"]
    assert {i["path"] for i in issues} == {
        "patients",
        "patients[1].iod",
        'defaults.tags.(0029,"ACME 1.0",10)',
    }
    assert all("the old format cannot express" in i["message"] for i in issues)
