"""The API's OpenAPI document: served under /api with the same checks as every API route, and
committed as web/openapi.json (the front end's TypeScript types are generated from it)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from apiclient import TestClient, make_settings

from dicomfab.web.app import OPENAPI_URL, create_app

COMMITTED = Path(__file__).resolve().parents[2] / "web" / "openapi.json"


def document(app: Any) -> str:
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def test_the_committed_openapi_document_is_the_apps(root: Path, tmp_path: Path) -> None:
    text = document(create_app(make_settings(root, tmp_path)))
    if os.environ.get("UPDATE_DOCS"):
        COMMITTED.write_text(text, encoding="utf-8")
    assert COMMITTED.read_text(encoding="utf-8") == text, (
        "the API changed: run UPDATE_DOCS=1 pytest tests/web/test_openapi.py"
    )


def test_the_document_is_served_under_api_with_its_checks(client: TestClient) -> None:
    served = client.get(OPENAPI_URL)
    assert served.status_code == 200
    assert served.json() == client.app.openapi()  # type: ignore[attr-defined]
    assert served.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in served.headers["content-security-policy"]
    anonymous = TestClient(client.app)  # no token header, no cookie
    assert anonymous.get(OPENAPI_URL).status_code == 401
    foreign = client.get(OPENAPI_URL, headers={"Host": "evil.example"})
    assert foreign.status_code == 403
    # no interactive pages: they would be unauthenticated HTML (/docs is the front end's route)
    assert "swagger" not in client.get("/docs").text.lower()


def test_every_json_answer_has_a_model(client: TestClient) -> None:
    """FastAPI checks an answer only against a model: every JSON answer names one (or a list of
    one); the spec's JSON Schema is free-form by nature. The routes that send something else (a
    stream, a PNG, an HTML report) say what."""
    doc = client.app.openapi()  # type: ignore[attr-defined]
    operations = [(path, op) for path, item in doc["paths"].items() for op in item.values()]
    assert len(operations) > 20
    for path, op in operations:
        (status,) = [s for s in op["responses"] if s.startswith("2") and s != "204"]
        content = op["responses"][status]["content"]
        if "application/json" not in content:
            assert content, path
            continue
        schema = content["application/json"]["schema"]
        schema = schema.get("items", schema)
        if path != "/api/spec/schema":
            assert "$ref" in schema, (path, schema)
