"""The output browser's API (issue 16): a missing folder is not an empty one, and a dataset's
tree says what each file and study folder is (from its manifest)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from apiclient import TestClient


def test_a_missing_output_folder_is_404_an_empty_one_lists_nothing(
    client: TestClient, root: Path
) -> None:
    missing = client.get("/api/datasets", params={"output": "nowhere"})
    assert missing.status_code == 404
    detail = missing.json()["detail"]
    assert detail["message"].endswith("nowhere does not exist")
    assert detail["issues"][0]["path"] == "output"
    (root / "empty").mkdir()
    assert client.get("/api/datasets", params={"output": "empty"}).json() == []


def test_the_tree_labels_files_and_study_folders(client: TestClient, root: Path) -> None:
    command = [sys.executable, "-m", "dicomfab", "generate", "-s", "external_prior"]
    subprocess.run(
        [*command, "--output", str(root / "out"), "--set", "image_size=small"],
        check=True,
        capture_output=True,
    )
    manifest = json.loads((root / "out" / "external_prior" / "manifest.json").read_text())
    tree = client.get("/api/datasets/tree", params={"path": "out/external_prior"}).json()
    dicoms = next(c for c in tree["children"] if c["name"] == "dicoms")
    files = {f["name"]: f for study in dicoms["children"] for f in study["children"]}
    labels = {s["name"]: s.get("label", "") for s in dicoms["children"]}
    assert "image" not in tree and "label" not in tree
    for patient in manifest["patients"]:
        for study in patient["studies"]:
            folder = labels[study["study_instance_uid"]]
            assert study["description"] in folder and patient["patient_id"] in folder
            for series in study["series"]:
                for instance in series["instances"]:
                    image = files[Path(instance["file"]).name]["image"]
                    assert image["role"] == study["role"]
                    assert image["view"] == instance["view"]
                    assert image["laterality"] == instance["laterality"]
                    assert image["patient_id"] == patient["patient_id"]
    roles = {f["image"]["role"] for f in files.values()}
    assert roles == {"current", "prior", "external_prior"}
