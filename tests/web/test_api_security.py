"""The web UI's security in process: the token cookie, the security headers, errors as JSON
(bodies too large or too deep, unexpected exceptions) and paths that must not leave the roots."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apiclient import TOKEN, TestClient, make_settings
from ui_server import running_ui

from dicomfab.run.html import write_html
from dicomfab.web.app import create_app

COOKIE = "dicomfab-token-0"  # the settings' port is 0 in process
ORIGIN = {"Origin": "http://testserver"}
SPEC: dict[str, Any] = {
    "name": "small",
    "seed": 1,
    "defaults": {"pixels": {"size": "small"}},
    "patients": [{"name": "Doe^Jane", "studies": [{"role": "current"}]}],
}


@pytest.fixture
def static(tmp_path: Path) -> Path:
    folder = tmp_path / "static"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text('<html><script src="/assets/app.js"></script></html>')
    (folder / "assets" / "app.js").write_text("console.log(1)")
    return folder


@pytest.fixture
def app(root: Path, static: Path) -> Any:
    return create_app(make_settings(root, static.parent, static_dir=static))


def browser(app: Any) -> TestClient:
    """A client with no credential at all, as a browser before the landing; exceptions the app
    lets through become 500 answers instead of being raised into the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return TestClient(app, raise_server_exceptions=False, follow_redirects=False)


@pytest.fixture
def signed_in(app: Any) -> TestClient:
    """A browser that opened the printed link (and so holds the cookie)."""
    client = browser(app)
    assert client.get(f"/?token={TOKEN}").status_code == 303
    return client


def api(app: Any) -> TestClient:
    """A script: the token in the header."""
    client = browser(app)
    client.headers["X-Dicomfab-Token"] = TOKEN
    return client


def message_of(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    body = response.json()
    assert set(body["detail"]) == {"message", "issues"}
    text: str = body["detail"]["message"]
    return text


def nested(levels: int) -> Any:
    value: Any = "x"
    for n in range(levels):
        value = [value] if n % 2 else {"a": value}
    return value


# ── the token: once in the URL, then an HttpOnly cookie ──────────────────────────────────


def test_landing_with_the_token_sets_the_cookie_and_drops_it_from_the_url(app: Any) -> None:
    client = browser(app)
    landing = client.get(f"/runs?token={TOKEN}&tab=2")
    assert landing.status_code == 303
    assert landing.headers["location"] == "/runs?tab=2"
    cookie = landing.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={TOKEN};")
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert "secure" not in attributes  # plain http on 127.0.0.1: see security.token_cookie
    # from now on the cookie alone opens the API, event streams and reports
    info = client.get("/api/info")
    assert info.status_code == 200, info.text
    assert client.get("/api/jobs/nope/events").status_code == 404  # past the token check
    assert client.get("/api/runs/nope/report.html").status_code == 404
    # and the page itself, reached by the redirect
    assert client.get("/runs?tab=2").status_code == 200


def test_a_wrong_token_on_the_landing_sets_no_cookie(app: Any) -> None:
    client = browser(app)
    landing = client.get("/?token=wrong")
    assert landing.status_code == 303 and landing.headers["location"] == "/"
    assert "set-cookie" not in landing.headers
    assert client.get("/api/info").status_code == 401


def test_the_landing_redirect_stays_on_this_server(app: Any) -> None:
    for path in ("//evil.example/", "/\\evil.example/"):
        landing = browser(app).get(f"{path}?token={TOKEN}")
        assert landing.status_code == 303
        location = landing.headers["location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), location


def test_the_cookie_opens_the_api_and_a_wrong_one_does_not(app: Any) -> None:
    client = browser(app)
    client.cookies.set(COOKIE, TOKEN)
    assert client.get("/api/info").status_code == 200
    client.cookies.clear()
    client.cookies.set(COOKIE, "wrong")
    assert client.get("/api/info").status_code == 401
    client.cookies.set("dicomfab-token-1234", TOKEN)  # another server's cookie name
    assert client.get("/api/info").status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/api/info",
        "/api/runs/x/report.html",
        "/api/jobs/x/events",
        "/api/preview/thumbnail?path=missing.dcm",
    ],
)
def test_the_token_in_an_api_url_is_refused(app: Any, signed_in: TestClient, path: str) -> None:
    url = f"{path}{'&' if '?' in path else '?'}token={TOKEN}"
    for client in (browser(app), signed_in, api(app)):
        refused = client.get(url)
        assert refused.status_code == 401, (path, refused.status_code)
        assert "not accepted in a URL" in message_of(refused)


def test_writes_by_cookie_must_name_this_origin(signed_in: TestClient) -> None:
    body = {"spec": SPEC}
    assert signed_in.post("/api/spec/validate", json=body, headers=ORIGIN).status_code == 200
    assert signed_in.post("/api/spec/validate", json=body).status_code == 403
    other = {"Origin": "http://127.0.0.1:9"}  # same site, another origin
    assert signed_in.post("/api/spec/validate", json=body, headers=other).status_code == 403


def test_the_real_server_sets_the_cookie(tmp_path: Path) -> None:
    with running_ui(tmp_path) as ui, httpx.Client(timeout=20) as client:
        landing = client.get(f"{ui.base}?token={ui.token}", follow_redirects=False)
        assert landing.status_code == 303 and landing.headers["location"] == "/"
        assert f"dicomfab-token-{ui.port}=" in landing.headers["set-cookie"]
        assert client.get(ui.base + "api/info").status_code == 200
        assert httpx.get(ui.base + "api/info", timeout=20).status_code == 401


# ── security headers on every answer ─────────────────────────────────────────────────────


def assert_secured(response: httpx.Response) -> str:
    headers = response.headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    policy = headers["content-security-policy"]
    for directive in ("frame-ancestors 'none'", "base-uri 'none'"):
        assert directive in policy, policy
    return policy


def test_security_headers_on_pages_assets_api_and_errors(app: Any, signed_in: TestClient) -> None:
    for path in ("/", "/wizard", "/assets/app.js", "/favicon.ico"):
        policy = assert_secured(signed_in.get(path))
        assert "default-src 'self'" in policy and "form-action 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    answer = signed_in.get("/api/info")
    assert_secured(answer)
    assert answer.headers["cache-control"] == "no-store"
    for missing in (signed_in.get("/api/nope"), signed_in.get("/api/runs/nope/report")):
        assert missing.status_code == 404
        assert_secured(missing)
        assert missing.headers["cache-control"] == "no-store"
        message_of(missing)
    for refused in (browser(app).get("/api/info"), browser(app).get("/", headers={"Host": "x"})):
        assert refused.status_code in (401, 403)
        assert_secured(refused)
    assert_secured(signed_in.get("/?token=wrong"))  # the landing redirect


def test_the_html_report_has_its_own_policy(signed_in: TestClient, root: Path) -> None:
    report = write_html([], root / "runs" / "20260101T000000Z" / "reports" / "report.html")
    assert "<style>" in report.read_text()  # the real report, with its inline style
    answer = signed_in.get("/api/runs/20260101T000000Z/report.html")
    assert answer.status_code == 200
    policy = assert_secured(answer)
    assert "default-src 'none'" in policy and "style-src 'unsafe-inline'" in policy
    assert "script-src" not in policy and "sandbox" in policy
    assert answer.headers["cache-control"] == "no-store"


# ── errors are JSON ──────────────────────────────────────────────────────────────────────


def test_a_bad_spec_is_422_with_its_issues(signed_in: TestClient) -> None:
    bad = {**SPEC, "defaults": {"tags": {"PatientNme": "x"}}}
    answer = signed_in.post("/api/generate-spec", json={"spec": bad}, headers=ORIGIN)
    assert answer.status_code == 422
    message_of(answer)
    (issue,) = answer.json()["detail"]["issues"]
    assert issue == {
        "path": "defaults.tags.PatientNme",
        "message": issue["message"],
        "suggestion": "PatientName",
    }


def test_a_body_over_the_limit_is_413_before_it_is_parsed(signed_in: TestClient) -> None:
    big = json.dumps({"spec": {"name": "x" * (20 * 1024 * 1024)}}).encode()
    answer = signed_in.post(
        "/api/spec/validate",
        content=big,
        headers={**ORIGIN, "Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert "larger than 16 MiB" in message_of(answer)
    assert len(answer.content) < 2000  # nothing of the body echoed
    assert_secured(answer)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes are counted as they come
        for n in range(0, len(big), 1 << 20):
            yield big[n : n + (1 << 20)]

    streamed = signed_in.post(
        "/api/spec/import",
        content=chunks(),
        headers={**ORIGIN, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    assert "larger than 16 MiB" in message_of(streamed)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/spec/validate", lambda deep: {"spec": deep}),
        ("/api/spec/export", lambda deep: {"spec": deep, "format": "yaml"}),
        ("/api/generate-spec", lambda deep: {"spec": deep}),
        ("/api/generate", lambda deep: {"scenarios": ["bits_consistent"], "params": {"a": deep}}),
    ],
)
def test_600_levels_of_nesting_are_a_json_4xx(signed_in: TestClient, path: str, body: Any) -> None:
    deep = {**SPEC, "defaults": {"tags": {"PatientName": nested(600)}}}
    answer = signed_in.post(path, json=body(deep), headers=ORIGIN)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:200])
    assert "nested more than" in str(answer.json()), answer.text[:300]
    assert_secured(answer)


@pytest.mark.parametrize("error", [RuntimeError, RecursionError, MemoryError])
def test_an_unexpected_exception_is_a_short_json_500(
    signed_in: TestClient, monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    from dicomfab.web.routes import spec as routes

    def explode(_spec: object) -> None:
        raise error("SECRET-INPUT " * 1000)

    monkeypatch.setattr(routes, "make_plan", explode)
    answer = signed_in.post("/api/spec/validate", json={"spec": SPEC}, headers=ORIGIN)
    assert answer.status_code == 500
    message = message_of(answer)
    assert error.__name__ in message
    assert "SECRET-INPUT" not in answer.text and "Traceback" not in answer.text
    assert_secured(answer)
    assert answer.headers["cache-control"] == "no-store"
    # the server lives on
    assert signed_in.get("/api/info").status_code == 200


# ── paths stay inside the roots and the runs folder ──────────────────────────────────────


def test_a_report_cannot_leave_the_runs_folder(
    signed_in: TestClient, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    write_html([], outside / "run" / "reports" / "report.html")
    (outside / "run" / "reports" / "report.json").write_text('{"summary": {"passed": true}}')
    (outside / "secret.html").write_text("<p>secret</p>")
    runs = root / "runs"
    runs.mkdir()
    (runs / "linked-run").symlink_to(outside / "run")
    (runs / "linked-report" / "reports").mkdir(parents=True)
    (runs / "linked-report" / "reports" / "report.html").symlink_to(outside / "secret.html")
    for run_id in ("linked-run", "linked-report"):
        assert signed_in.get(f"/api/runs/{run_id}/report.html").status_code == 404, run_id
    assert signed_in.get("/api/runs/linked-run/report").status_code == 404
    assert signed_in.get("/api/runs").json() == []


def test_the_default_output_folder_is_confined_too(
    signed_in: TestClient, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "out").symlink_to(outside)
    for answer in (
        signed_in.get("/api/datasets"),
        signed_in.post("/api/generate-spec", json={"spec": SPEC}, headers=ORIGIN),
    ):
        assert answer.status_code == 400, answer.text[:200]
        assert "outside the allowed folders" in message_of(answer)
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("name", [".", "..", "linked"])
def test_a_dataset_name_cannot_leave_the_output_folder(
    signed_in: TestClient, root: Path, tmp_path: Path, name: str
) -> None:
    (root / "out").mkdir()
    (root / "keep.txt").write_text("mine")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "theirs.txt").write_text("theirs")
    (root / "out" / "linked").symlink_to(elsewhere)  # a dataset folder that is a link out
    body = {"spec": {**SPEC, "name": name}, "output": "out", "overwrite": True}
    answer = signed_in.post("/api/generate-spec", json=body, headers=ORIGIN)
    assert 400 <= answer.status_code < 500, answer.text[:200]
    message_of(answer)
    assert signed_in.app.state.jobs.jobs == {}  # type: ignore[attr-defined]
    assert (root / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in root.iterdir()) == ["keep.txt", "out"]
    assert [p.name for p in elsewhere.iterdir()] == ["theirs.txt"]


def test_a_failed_job_does_not_echo_a_huge_value(signed_in: TestClient) -> None:
    def fail(_progress: object) -> None:
        raise ValueError("v" * 1_000_000)

    job = signed_in.app.state.jobs.submit("generate", fail)  # type: ignore[attr-defined]
    text = signed_in.get(f"/api/jobs/{job.id}/events").text
    assert "event: failed" in text and len(text) < 5000
    error = signed_in.get(f"/api/jobs/{job.id}").json()["error"]
    assert error.startswith("internal error: ValueError: vvv") and len(error) <= 2000
