"""A scenario that shares a UID between two of its files on purpose (duplicate_sop) is run twice
against the same Orthanc, which keeps its data, with two seeds: both runs pass. Before, the
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


def test_duplicate_sop_passes_twice_against_one_orthanc_with_two_seeds(
    env: dict[str, str], tmp_path: Path
) -> None:
    first = run(ORTHANC_TOML, "orthanc", 2001, env, tmp_path / "first", SCENARIO)
    assert_passed(first, SCENARIO)
    second = run(ORTHANC_TOML, "orthanc", 7002, env, tmp_path / "second", SCENARIO)
    assert_passed(second, SCENARIO)
    assert first.run_dir is not None and second.run_dir is not None
    assert _shared_uid(first.run_dir) != _shared_uid(second.run_dir)
