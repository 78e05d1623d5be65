"""A scenario that shares a UID between two of its files on purpose (duplicate_sop) is run twice
against the same Orthanc, which keeps its data, with two seeds (C-STORE + SQL, then STOW-RS +
QIDO-RS + C-FIND): both runs pass, and each says Orthanc kept the first copy. Before, the
shared UID was fixed in the scenario, so the second run met the first run's instance under it
and failed (the issue's seeds 2001 and 7002)."""

from __future__ import annotations

from pathlib import Path

from test_run_targets import ORTHANC_TOML, assert_passed, env, run

__all__ = ["env"]  # the fixture, used by name

SCENARIO = "duplicate_sop"


def _shared_uid(run_dir: Path) -> str:
    import json

    merged = json.loads((run_dir / "merged_dataset" / "manifest.json").read_text("utf-8"))
    uids = [
        i["sop_instance_uid"]
        for d in merged["datasets"]
        for p in d["manifest"]["patients"]
        for s in p["studies"]
        for se in s["series"]
        for i in se["instances"]
    ]
    shared = {u for u in uids if uids.count(u) > 1}
    assert len(shared) == 1, shared
    return shared.pop()


def _copies(report: dict[str, object]) -> list[dict[str, object]]:
    scenarios = report["scenarios"]
    assert isinstance(scenarios, list)
    return [i for s in scenarios for i in s["instances"] if i.get("copies")]


def test_duplicate_sop_passes_twice_against_one_orthanc_with_two_seeds(
    env: dict[str, str], tmp_path: Path
) -> None:
    first = run(ORTHANC_TOML, "orthanc", 2001, env, tmp_path / "first", SCENARIO)
    report = assert_passed(first, SCENARIO)
    # Orthanc (OverwriteInstances false) keeps the copy that came first: the scenario's rule
    kept, dropped = _copies(report)
    assert (kept["status"], dropped["status"]) == ("pass", "pass")
    assert str(kept["reason"]).startswith("stored as expected: this copy (the first of 2")
    assert "the index holds the first copy (InstanceNumber 1) (copies: first)" in str(
        dropped["reason"]
    )
    # the second run goes through DICOMweb: QIDO-RS and C-FIND tell the copies apart too
    second = run(ORTHANC_TOML, "orthanc-dicomweb", 7002, env, tmp_path / "second", SCENARIO)
    report = assert_passed(second, SCENARIO)
    kept, dropped = _copies(report)
    assert "(qido-rs, c-find agree)" in str(kept["reason"]), kept["reason"]
    assert "the index holds the first copy (InstanceNumber 1)" in str(dropped["reason"])
    assert first.run_dir is not None and second.run_dir is not None
    assert _shared_uid(first.run_dir) != _shared_uid(second.run_dir)
