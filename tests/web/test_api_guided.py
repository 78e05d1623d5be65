"""The guided wizard's API: the spec preview (what generate will write, before it writes) and the
folder picker, confined to the roots like every other path."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pydicom
from apiclient import TestClient


def _text(value: Any) -> str:
    if isinstance(value, pydicom.multival.MultiValue):
        return "\\".join(map(str, value))
    return str(value)


def _spec(seed: int = 7) -> dict[str, Any]:
    return {
        "name": "guided",
        "seed": seed,
        "defaults": {"pixels": {"size": "small"}},
        "patients": [
            {
                "studies": [
                    {"role": "current", "pixels": {"lesion": "mass"}},
                    {"role": "prior", "date": "-1y"},
                ]
            }
        ],
    }


def test_preview_shows_what_generate_writes(client: TestClient, root: Path) -> None:
    answer = client.post("/api/spec/preview", json={"spec": _spec()})
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert (preview["patients"], preview["studies"], preview["instances"]) == (1, 2, 8)
    rows = preview["rows"]
    assert [r["lesion"] for r in rows] == ["mass"] * 4 + [None] * 4
    current, prior = rows[0]["tags"], rows[4]["tags"]
    assert prior["PatientID"] == current["PatientID"]
    assert prior["StudyDate"] < current["StudyDate"]
    assert [r["tags"]["ViewPosition"] for r in rows[:4]] == ["CC", "CC", "MLO", "MLO"]

    job = client.post("/api/generate-spec", json={"spec": _spec(), "output": "out"})
    assert job.status_code == 202, job.text
    job_id = job.json()["job"]["id"]
    for _ in range(600):
        state = client.get(f"/api/jobs/{job_id}").json()
        if state["state"] != "running":
            break
        time.sleep(0.2)
    assert state["state"] == "done", state
    for row in rows:  # every attribute shown, as the file has it (absent: null)
        ds = pydicom.dcmread(root / "out" / "guided" / row["file"], stop_before_pixels=True)
        for keyword, shown in row["tags"].items():
            written = _text(ds[keyword].value) if keyword in ds else None
            assert written == shown, (row["path"], keyword)


def test_preview_follows_the_seed_and_reports_a_bad_spec(client: TestClient) -> None:
    one = client.post("/api/spec/preview", json={"spec": _spec(1), "limit": 1}).json()
    two = client.post("/api/spec/preview", json={"spec": _spec(2), "limit": 1}).json()
    assert one["truncated"] and len(one["rows"]) == 1
    assert one["rows"][0]["tags"]["PatientID"] != two["rows"][0]["tags"]["PatientID"]
    bad = client.post("/api/spec/preview", json={"spec": {"patients": [{"studies": "x"}]}})
    assert bad.status_code == 422, bad.text
    assert any("studies" in i["path"] for i in bad.json()["detail"]["issues"])


def test_folder_picker_lists_sub_folders_inside_the_roots(client: TestClient, root: Path) -> None:
    (root / "b").mkdir()
    (root / "a" / "deep").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "file.txt").write_text("x")
    top = client.get("/api/folders").json()
    assert [f["path"] for f in top["folders"]] == [str(root.resolve())]
    listed = client.get("/api/folders", params={"path": str(root)}).json()
    assert [f["name"] for f in listed["folders"]] == ["a", "b"]
    assert listed["parent"] is None  # a root: nothing above it
    inner = client.get("/api/folders", params={"path": "a"}).json()  # relative to the root
    assert [f["name"] for f in inner["folders"]] == ["deep"]
    assert inner["parent"] == str(root.resolve())


def test_folder_picker_refuses_dotdot_and_files(client: TestClient, root: Path) -> None:
    (root / "a").mkdir()
    (root / "f.txt").write_text("x")
    for path in ("..", f"{root}/..", "a/../..", "/etc"):
        answer = client.get("/api/folders", params={"path": path})
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["detail"]["issues"][0]["path"] == "path"
        assert "outside the allowed folders" in answer.text
    not_folder = client.get("/api/folders", params={"path": "f.txt"})
    assert not_folder.status_code == 400 and "is not a folder" in not_folder.text


def test_folder_picker_hides_and_refuses_a_symlink_outside(
    client: TestClient, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    (outside / "secret").mkdir(parents=True)
    os.symlink(outside, root / "link")
    (root / "inside").mkdir()
    os.symlink(root / "inside", root / "alias")
    listed = client.get("/api/folders", params={"path": str(root)}).json()
    assert [f["name"] for f in listed["folders"]] == ["alias", "inside"]
    assert listed["folders"][0]["path"] == str((root / "inside").resolve())  # resolved
    answer = client.get("/api/folders", params={"path": "link"})
    assert answer.status_code == 400 and "outside the allowed folders" in answer.text
    assert "secret" not in answer.text
