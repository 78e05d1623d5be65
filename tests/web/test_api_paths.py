"""The web UI's generate, validate and import refuse a spec that names a path outside the output
(a JSON 400 naming the field, before any job starts), as the command line does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from apiclient import TestClient


def _spec(**instance: Any) -> dict[str, Any]:
    return {
        "name": "ds",
        "defaults": {"pixels": {"size": "small"}},
        "patients": [{"studies": [{"series": [{"count": 1, "instances": [instance]}]}]}],
    }


HOSTILE = [
    (_spec(file_name="../../../../outside/x.dcm"), "file_name"),
    (_spec(file_name="/tmp/dicomfab-web-abs.dcm"), "file_name"),
    (_spec(sop_instance_uid="../../../.."), "sop_instance_uid"),
    ({"name": "..", "defaults": {"pixels": {"size": "small"}}}, "name"),
    ({"name": ".", "defaults": {"pixels": {"size": "small"}}}, "name"),
]


@pytest.mark.parametrize(("spec", "field"), HOSTILE)
def test_generate_spec_refuses_paths_outside(
    client: TestClient, root: Path, tmp_path: Path, spec: dict[str, Any], field: str
) -> None:
    (root / "out").mkdir()
    (root / "out" / "sentinel").write_text("keep")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    response = client.post(
        "/api/generate-spec", json={"spec": spec, "output": "out", "overwrite": True}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/json")
    issues = response.json()["detail"]["issues"]
    assert any(field in issue["path"] for issue in issues), issues
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert not Path("/tmp/dicomfab-web-abs.dcm").exists()


@pytest.mark.parametrize(("spec", "field"), HOSTILE)
def test_validate_and_import_report_the_field(
    client: TestClient, spec: dict[str, Any], field: str
) -> None:
    answer = client.post("/api/spec/validate", json={"spec": spec}).json()
    assert answer["ok"] is False
    assert any(field in issue["path"] for issue in answer["issues"]), answer
    imported = client.post(
        "/api/spec/import", json={"text": yaml.safe_dump(spec), "filename": "x.yaml"}
    )
    assert imported.status_code == 422, imported.text
    assert any(field in i["path"] for i in imported.json()["detail"]["issues"])
