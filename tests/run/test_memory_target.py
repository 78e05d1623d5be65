"""The in-memory target (``kind = "memory"``) runs the whole pipeline without a PACS, from a
targets file or from Python, and fails a run when the archive does not do what a scenario
expects."""

from __future__ import annotations

import json
from pathlib import Path

from dicomfab.run.connect import load_targets
from dicomfab.run.pipeline import EXIT_FAILED, EXIT_PASSED, RunRequest, execute
from dicomfab.run.probe import probe
from dicomfab.scenarios import ScenarioRequest
from dicomfab.targets.config import Target, Targets
from dicomfab.targets.memory import MemoryStore

SMALL = {"image_size": "small"}


def _file(tmp_path: Path, store: str) -> Targets:
    config = tmp_path / "dicomfab.toml"
    config.write_text(
        "[targets.mem]\n"
        f'ingest = {{ kind = "memory", store = "{store}" }}\n'
        f'verify = {{ kind = "memory", store = "{store}" }}\n'
    )
    return load_targets(config, {})


def test_a_run_through_the_memory_target_passes(tmp_path: Path) -> None:
    store = MemoryStore.named("run-passes")
    store.clear()
    targets = _file(tmp_path, "run-passes")
    request = RunRequest(
        [ScenarioRequest("bits_consistent", SMALL)], "mem", targets, runs_dir=tmp_path / "runs"
    )
    outcome = execute(request)
    assert outcome.exit_code == EXIT_PASSED, [r.failures() for r in outcome.results]
    (result,) = outcome.results
    assert result.source == "memory run-passes"
    manifest = json.loads((outcome.run_dir / "merged_dataset/manifest.json").read_text())
    assert "memory store 'run-passes'" in outcome.run_dir.joinpath("logs/run.log").read_text()
    uids = {c.sop_instance_uid for c in result.instances}
    assert uids and uids <= set(store.instances) and manifest
    # what the store indexed is what a verifier reports: the patient of the scenario's files
    (one, *_) = sorted(uids)
    assert store.instances[one].patient_id and store.instances[one].study_instance_uid


def test_a_scenario_expecting_a_rejection_fails_against_a_lenient_store(tmp_path: Path) -> None:
    """pr_bits_mismatch declares its broken prior "reject"; the memory store keeps everything,
    so the run fails on exactly those instances (and passes once the target's policy says the
    archive accepts them)."""
    MemoryStore.named("lenient").clear()
    targets = _file(tmp_path, "lenient")
    scenarios = [ScenarioRequest("pr_bits_mismatch", SMALL)]
    outcome = execute(RunRequest(scenarios, "mem", targets, runs_dir=tmp_path / "runs"))
    assert outcome.exit_code == EXIT_FAILED
    (result,) = outcome.results
    failed = [c for c in result.instances if not c.passed]
    assert failed and all(c.expected_outcome == "reject" and c.observed_present for c in failed)

    lenient = Target.model_validate(
        {
            "ingest": {"kind": "memory", "store": "lenient-policy"},
            "verify": {"kind": "memory", "store": "lenient-policy"},
            "policy": {"reject": "accept"},
        }
    )
    again = Targets({"mem": lenient}, set(), None)
    outcome = execute(RunRequest(scenarios, "mem", again, runs_dir=tmp_path / "runs2"))
    assert outcome.exit_code == EXIT_PASSED, [r.failures() for r in outcome.results]


def test_check_probes_the_memory_target(tmp_path: Path) -> None:
    probes = probe("mem", _file(tmp_path, "probed"), tmp_path)
    assert [(p.part, p.what, p.ok) for p in probes] == [
        ("ingest", "memory store 'probed'", True),
        ("verify", "memory store 'probed'", True),
    ]
    assert probes[1].detail.startswith("memory probed answers")
