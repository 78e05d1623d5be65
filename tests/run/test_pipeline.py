"""The run pipeline on the embedded target (a real qrscp), and the logic around it: target
expectations by selector, waiting for stable counts, reports of a run that stopped."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import pytest

from dicomfab.errors import SpecError, TargetError
from dicomfab.output.manifest import Manifest
from dicomfab.run import report
from dicomfab.run.connect import embedded_policy
from dicomfab.run.expect import resolve
from dicomfab.run.pipeline import (
    EXIT_FAILED,
    EXIT_PASSED,
    EXIT_TARGET,
    RunRequest,
    check_expect_names,
    execute,
    wait_until_stable,
)
from dicomfab.scenarios import ScenarioRequest, compose, get
from dicomfab.targets.config import Target, Targets, Wait
from dicomfab.targets.embedded import free_port
from dicomfab.targets.observations import Observations, ObservedInstance

SMALL = {"image_size": "small"}


def _requests(*names: str) -> list[ScenarioRequest]:
    return [ScenarioRequest(n, SMALL if "image_size" in _params(n) else {}) for n in names]


def _params(name: str) -> set[str]:
    from dicomfab.scenarios.compose import declared_parameters

    return set(declared_parameters(get(name)))


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    runs = tmp_path_factory.mktemp("runs")
    return execute(RunRequest(_requests("bits_consistent", "pr_bits_mismatch"), runs_dir=runs))


def test_embedded_run_meets_every_expectation(embedded_run) -> None:  # type: ignore[no-untyped-def]
    outcome = embedded_run
    assert outcome.exit_code == EXIT_PASSED, [r.failures() for r in outcome.results]
    assert [r.name for r in outcome.results] == ["bits_consistent", "pr_bits_mismatch"]
    for result in outcome.results:
        assert "sql " in result.source and "c-find " in result.source
        records = [*result.instances, *result.studies]  # one verdict each, from both verifiers
        assert {tuple(e.verifier for e in c.evidence) for c in records} == {("sql", "c-find")}
    # pr_bits_mismatch declares its broken prior "reject"; the embedded archive stores it
    (mismatch,) = [r for r in outcome.results if r.name == "pr_bits_mismatch"]
    flipped = [c for c in mismatch.instances if c.declared_outcome != c.expected_outcome]
    assert flipped and all(c.observed_present for c in flipped)
    assert set(outcome.stages) >= {"generate", "merge", "ingest", "wait", "verify"}


def test_run_folder_keeps_everything(embedded_run) -> None:  # type: ignore[no-untyped-def]
    root: Path = embedded_run.run_dir
    for part in ("generated/bits_consistent/manifest.json", "merged_dataset/manifest.json",
                 "logs/run.log", "embedded-pacs/instances.sqlite",
                 "reports/report.json", "reports/junit.xml", "reports/report.html"):  # fmt: skip
        assert (root / part).is_file(), part
    data = json.loads((root / "reports/report.json").read_text())
    assert data["summary"]["passed"] is True and data["summary"]["error"] is None
    assert data["run"]["target"].startswith("embedded")
    # two verifiers (SQL, C-FIND), one record per study and per instance of the manifest
    merged = json.loads((root / "merged_dataset/manifest.json").read_text())
    for scenario, dataset in zip(data["scenarios"], merged["datasets"], strict=True):
        studies = [s for p in dataset["manifest"]["patients"] for s in p["studies"]]
        files = [i["file"] for s in studies for se in s["series"] for i in se["instances"]]
        assert [s["study_instance_uid"] for s in scenario["studies"]] == [
            s["study_instance_uid"] for s in studies
        ]
        assert [i["file"] for i in scenario["instances"]] == files
        assert scenario["counts"]["instances"] == len(files)
        assert all(len(i["evidence"]) == 2 for i in scenario["instances"])
        assert len(scenario["not_checked"]) == len(set(scenario["not_checked"]))
    suite = ET.parse(root / "reports/junit.xml").getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "0"
    log = (root / "logs/run.log").read_text()
    assert "ingest: 16 files" in log or "ingest: " in log
    assert "verify:" in log


def test_a_target_that_is_down_stops_the_run_and_keeps_the_data(tmp_path: Path) -> None:
    port = free_port()
    target = Target.model_validate(
        {
            "ingest": {"kind": "cstore", "port": port, "called_ae": "NOBODY"},
            "verify": {"kind": "cfind", "port": port, "called_ae": "NOBODY"},
        }
    )
    targets = Targets({"down": target}, set(), None)
    outcome = execute(
        RunRequest(_requests("bits_consistent"), "down", targets, runs_dir=tmp_path / "runs")
    )
    assert outcome.exit_code == EXIT_TARGET
    # the verifier is the first to meet the dead target: it looks for the run's UIDs before ingest
    assert outcome.error is not None and outcome.error.startswith("pre-check: ")
    assert str(port) in outcome.error and "\n" not in outcome.error
    root = outcome.run_dir
    assert (root / "merged_dataset/manifest.json").is_file()
    assert any((root / "generated/bits_consistent/dicoms").rglob("*.dcm"))
    data = json.loads((root / "reports/report.json").read_text())
    assert data["summary"]["passed"] is False and data["summary"]["error"] == outcome.error
    suite = ET.parse(root / "reports/junit.xml").getroot()
    assert suite.get("errors") == "1" and suite.find("testcase/error") is not None
    assert html.escape(outcome.error) in (root / "reports/report.html").read_text()


def test_the_embedded_policy_names_real_scenarios() -> None:
    check_expect_names(embedded_policy().expect, "embedded-policy.yaml")


def test_expect_names_are_checked_against_the_library() -> None:
    with pytest.raises(SpecError) as info:
        check_expect_names({"pr_bits_mismatc": {"reject": "accept"}}, "targets.x.expect")
    assert info.value.issues[0].suggestion == "pr_bits_mismatch"


# ── target expectations by selector ─────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    from dicomfab.output.generate import generate

    composed = compose(get("pr_bits_mismatch"), SMALL)
    out = tmp_path_factory.mktemp("gen")
    return generate(composed.spec, out, workers=1, plan=composed.plan).manifest


def test_resolve_selectors_and_outcomes(manifest: Manifest) -> None:
    prior = next(s for p in manifest.patients for s in p.studies if s.role == "prior")
    last = [i for se in prior.series for i in se.instances][-1]
    rules = resolve({"prior.last": "accept", "quarantine": "reject", "prior": "link"}, manifest)
    assert rules.instances == {last.sop_instance_uid: "accept"}
    assert rules.policy == {"quarantine": "reject"}
    assert rules.studies == {prior.study_instance_uid: "link"}
    every = resolve({"prior.all": "warn"}, manifest)
    assert len(every.instances) == sum(len(se.instances) for se in prior.series)


@pytest.mark.parametrize(
    ("rules", "fragment"),
    [
        ({"prior[3]": "accept"}, "prior studies"),
        ({"current.RXCC": "accept"}, "no such instance"),
        ({"prior.last": "maybe"}, "unknown outcome"),
        ({"prior.last": "link"}, "study outcome"),
        ({"sideways": "accept"}, "not a selector"),
    ],
)
def test_bad_expect_rules_name_themselves(
    manifest: Manifest, rules: dict[str, str], fragment: str
) -> None:
    with pytest.raises(TargetError, match=fragment) as info:
        resolve(rules, manifest, where="targets.x.expect.pr_bits_mismatch")
    assert str(info.value).startswith("targets.x.expect.pr_bits_mismatch.")


# ── waiting (our logic, with a scripted verifier) ───────────────────────────────────────────


class Scripted:
    """Answers with the next count of found instances on each poll."""

    def __init__(self, counts: list[int]) -> None:
        self.counts = counts
        self.polls = 0

    def observe(self, sop_instance_uids: Iterable[str]) -> Observations:
        uids = list(sop_instance_uids)
        n = self.counts[min(self.polls, len(self.counts) - 1)]
        self.polls += 1
        return Observations({u: ObservedInstance(u) for u in uids[:n]}, "scripted")


class Counting:
    def __init__(self) -> None:
        self.total = 0

    def begin(self, stage: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        self.total += n

    def end(self, summary: str) -> None:
        pass


UIDS = [f"1.2.3.{i}" for i in range(10)]


def test_wait_stops_when_counts_hold() -> None:
    verifier, progress = Scripted([0, 3, 7, 7, 7, 9]), Counting()
    seen, why = wait_until_stable(
        verifier, UIDS, Wait(timeout=30, interval=0.01, stable=3), progress
    )
    assert len(seen.instances) == 7 and verifier.polls == 5
    assert "stable" in why and progress.total == 7


def test_wait_stops_at_once_when_everything_is_there() -> None:
    verifier = Scripted([10])
    seen, why = wait_until_stable(
        verifier, UIDS, Wait(timeout=30, interval=5, stable=3), Counting()
    )
    assert verifier.polls == 1 and len(seen.instances) == 10 and why.startswith("all 10")


def test_wait_is_bounded() -> None:
    verifier = Scripted(list(range(1, 10)))  # never stable
    _seen, why = wait_until_stable(
        verifier, UIDS, Wait(timeout=0.05, interval=0.02, stable=2), Counting()
    )
    assert "timeout" in why and verifier.polls <= 4


def test_junit_of_a_run_stopped_before_checking() -> None:
    tree = report.junit_tree([], error="ingest: cannot connect", scenarios=["a", "b"])
    root = tree.getroot()
    assert root.get("tests") == "2" and root.get("errors") == "2"
    assert [e.get("message") for e in root.iter("error")] == ["ingest: cannot connect"] * 2
    assert report.summary([], "ingest: cannot connect")["passed"] is False


def test_exit_codes() -> None:
    assert (EXIT_PASSED, EXIT_FAILED, EXIT_TARGET) == (0, 1, 3)
