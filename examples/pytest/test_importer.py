"""Testing the toy importer (importer.py) with dicomfab's pytest fixtures.

Run: ``pytest examples/pytest`` (the fixtures come with dicomfab: nothing to configure).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from importer import create_index, import_folder

from dicomfab.testing import DatasetCache, DicomfabOutcome, EmbeddedTarget

IMPORTER = Path(__file__).with_name("importer.py")
Run = Callable[..., DicomfabOutcome]


def test_rejects_the_broken_prior_and_stores_the_rest(
    dicomfab_generate: DatasetCache, tmp_path: Path
) -> None:
    # generated once per session, whichever test asks first
    dataset = dicomfab_generate("pr_bits_mismatch", image_size="small")
    results = import_folder(dataset.path / "dicoms", tmp_path / "index.sqlite")

    rejected = {path for path, result in results.items() if result.startswith("rejected")}
    expected = {
        dataset.path / i.file for i in dataset.manifest.instances() if i.expectation == "reject"
    }
    assert rejected == expected
    assert len(results) == len(dataset.files)


def test_a_clean_exam_is_stored_whole(dicomfab_generate: DatasetCache, tmp_path: Path) -> None:
    dataset = dicomfab_generate("bits_consistent", image_size="small")
    results = import_folder(dataset.path / "dicoms", tmp_path / "index.sqlite")
    assert set(results.values()) == {"stored"}


def test_importer_end_to_end(dicomfab_run: Run, tmp_path: Path) -> None:
    # the importer as the system under test: dicomfab runs it on the merged folder, then looks
    # each instance up in its index and checks every scenario's expectations record by record
    index = tmp_path / "index.sqlite"
    create_index(index)  # a fresh installation: the run looks in it before ingesting
    importer = {
        "ingest": {
            "kind": "command",
            "command": [sys.executable, str(IMPORTER), "{dicoms}", str(index)],
        },
        "verify": {
            "kind": "sql",
            "url": f"sqlite:///{index}",
            "query": "SELECT sop_instance_uid, study_instance_uid, series_instance_uid,"
            " patient_id FROM instance WHERE sop_instance_uid IN :uids",
        },
        "wait": {"timeout": 30, "interval": 0.2, "stable": 2},
    }
    outcome = dicomfab_run(importer, ["bits_consistent", "pr_bits_mismatch"], image_size="small")
    outcome.assert_passed()  # on failure: each scenario's record-level diff
    assert outcome.scenarios["pr_bits_mismatch"].counts["absent"] == 1


def test_scenarios_reach_the_embedded_pacs(
    dicomfab_embedded_pacs: EmbeddedTarget, dicomfab_run: Run
) -> None:
    pacs = dicomfab_embedded_pacs  # one qrscp for the whole session, on a free loopback port
    outcome = dicomfab_run(pacs.target, "bits_consistent", image_size="small")
    outcome.assert_passed()
    assert outcome.scenarios["bits_consistent"].counts["present"] == 8
