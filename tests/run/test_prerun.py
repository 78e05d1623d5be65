"""The checks a run makes before it writes anything (``dicomfab.run.prerun``), through
``execute`` as the CLI and the UI call it: the embedded target's policy, and the order of the
checks (nothing created when one fails)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomfab.errors import OutputError, SpecError
from dicomfab.run import prerun
from dicomfab.run.connect import EmbeddedPolicy, embedded_policy, load_targets
from dicomfab.run.pipeline import RunRequest, execute
from dicomfab.scenarios import ScenarioRequest, scenarios
from dicomfab.scenarios.compose import declared_parameters


def every_scenario() -> list[ScenarioRequest]:
    return [
        ScenarioRequest(
            n, {"image_size": "small"} if "image_size" in declared_parameters(s) else {}
        )
        for n, s in scenarios().items()
    ]


def test_the_embedded_policy_fits_every_scenario_it_names() -> None:
    """Outcomes known, scenarios real, every selector found in its scenario's plan."""
    prerun.check_expectations(RunRequest(every_scenario()))


@pytest.mark.parametrize(
    ("policy", "fragments"),
    [
        (
            EmbeddedPolicy({"quarantine": "acept"}, {}),
            ["embedded-policy.yaml", "policy.quarantine", "did you mean accept?"],
        ),
        (
            EmbeddedPolicy({}, {"uid_too_long": {"current.lst": "reject"}}),
            ["embedded-policy.yaml", "expect.uid_too_long.current.lst", "current.last"],
        ),
        (
            EmbeddedPolicy({}, {"uid_too_long": {"prior[4].last": "reject"}}),
            ["embedded-policy.yaml", "expect.uid_too_long.prior[4].last", "prior studies"],
        ),
    ],
)
def test_the_embedded_policy_goes_through_the_same_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: EmbeddedPolicy, fragments: list[str]
) -> None:
    monkeypatch.setattr(prerun, "embedded_policy", lambda: policy)
    request = RunRequest([ScenarioRequest("uid_too_long")], runs_dir=tmp_path / "runs")
    with pytest.raises(SpecError) as info:
        execute(request)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert not (tmp_path / "runs").exists()


def test_the_real_embedded_policy_is_unchanged_by_the_check() -> None:
    rules = embedded_policy()
    assert rules.policy == {"reject": "accept", "quarantine": "accept"}


def test_folders_are_checked_after_the_target_and_left_as_found(tmp_path: Path) -> None:
    config = tmp_path / "dicomfab.toml"
    config.write_text(
        "[targets.x]\n"
        'ingest = { kind = "cstore", port = 104, called_ae = "X" }\n'
        'verify = { kind = "cfind", port = 104, called_ae = "X" }\n'
        'policy = { quarantine = "maybe" }\n'
    )
    (tmp_path / "a-file").write_text("")
    targets = load_targets(config, {})
    bad_target = RunRequest(
        [ScenarioRequest("bits_consistent")], "x", targets, runs_dir=tmp_path / "runs"
    )
    with pytest.raises(SpecError, match=r"targets\.x\.policy\.quarantine"):
        execute(bad_target)
    bad_reports = RunRequest(
        [ScenarioRequest("bits_consistent")],
        runs_dir=tmp_path / "new/runs",
        report_dir=tmp_path / "a-file/reports",
    )
    with pytest.raises(OutputError, match=r"--report-dir .*a-file/reports"):
        execute(bad_reports)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "dicomfab.toml"]


def test_an_existing_run_folder_is_refused(tmp_path: Path) -> None:
    request = RunRequest([ScenarioRequest("bits_consistent")], run_dir=tmp_path)
    with pytest.raises(OutputError, match="exists already"):
        execute(request)
