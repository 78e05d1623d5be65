"""The UI's spec import reads text with the command line's bounded loader: an alias bomb, deep
nesting or an oversized text is a JSON 413 with the loader's message, never a 500, a
RecursionError or a MemoryError, and no error quotes a long value whole."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from apiclient import TestClient


def refused(response: httpx.Response, *fragments: str, status: int = 413) -> str:
    """An answer in the API's error shape whose message holds every fragment."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()["detail"]
    message: str = body["message"]
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message[:500]!r}"
    return message


def bomb() -> str:
    lines = ["name: bomb", "patients:", "- &a0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"- &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def test_import_refuses_an_alias_bomb(client: TestClient) -> None:
    text = bomb()
    assert len(text) < 1100
    for filename in ("bomb.yaml", ""):
        answer = client.post("/api/spec/import", json={"text": text, "filename": filename})
        refused(answer, "line 8, column 8: its aliases expand to more than")


@pytest.mark.parametrize("levels", [600, 50_000])
def test_import_refuses_deep_nesting(client: TestClient, levels: int) -> None:
    flow = "[" * levels + "]" * levels
    cases = [
        ("deep.yaml", f"name: deep\npatients: {flow}\n", "deep.yaml: line 2, column "),
        ("deep.json", f'{{"name": "deep", "patients": {flow}}}', "deep.json: line 1, column 93: "),
        ("", f'{{"patients": {flow}}}', "the imported text: line 1, column 77: "),
    ]
    for filename, text, where in cases:
        answer = client.post("/api/spec/import", json={"text": text, "filename": filename})
        refused(answer, where, "nested more than 64 levels deep")


@pytest.mark.parametrize("mib", [10, 60])
def test_import_refuses_a_large_text_quickly(client: TestClient, mib: int) -> None:
    """10 MiB passes the app's request-size bound and is refused by the loader; 60 MiB is
    refused by the request-size bound before it is read."""
    text = '{"name": "' + "x" * (mib * 2**20) + '"}'
    answer = client.post("/api/spec/import", json={"text": text, "filename": "big.json"})
    message = refused(answer, "MiB")
    if mib == 10:
        assert message == "big.json: is 10.0 MiB; the limit is 8 MiB"
    assert len(message) < 300


def test_import_does_not_echo_a_long_value(client: TestClient) -> None:
    value = "R" * 5_000_000
    spec = {"name": "long", "patients": [{"studies": [{"series": [{"views": [value]}]}]}]}
    for filename, text in (("long.json", json.dumps(spec)), ("long.yaml", json.dumps(spec))):
        answer = client.post("/api/spec/import", json={"text": text, "filename": filename})
        assert len(answer.content) < 2000, len(answer.content)
        refused(answer, "series[0].views: unknown view 'RRRR", status=422)
