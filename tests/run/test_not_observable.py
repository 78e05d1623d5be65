"""Expectations no index can show: a scenario's ``expect.not_observable`` marks are reported as
``not observable`` (with the scenario's reason) in every report format, never as a pass or a
fail, and not as a failure under --strict."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import pytest
from rich.console import Console

from dicomfab.cli.run import link_summary, not_observable_summary
from dicomfab.output.manifest import InstanceEntry, Manifest
from dicomfab.run.checks import NOT_OBSERVABLE, ScenarioResult, check, combine, strict
from dicomfab.run.connect import load_targets, open_target
from dicomfab.run.expect import resolve
from dicomfab.run.html import render_html
from dicomfab.run.pipeline import EXIT_FAILED, RunRequest, execute
from dicomfab.run.report import console_table, junit_tree, summary, write_json
from dicomfab.scenarios import ScenarioRequest, get, scenarios
from dicomfab.scenarios.generate import generate_one
from dicomfab.targets.config import Targets
from dicomfab.targets.memory import MemoryStore
from dicomfab.targets.observations import Observations, ObservedInstance, studies_from_instances
from dicomfab.targets.registry import kinds

SMALL = {"image_size": "small"}
PIXELS = "the outcome is in the pixels"
ORDER = "the outcome depends on the arrival order"


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Manifest]:
    out = tmp_path_factory.mktemp("scenarios")
    return {
        name: generate_one(ScenarioRequest(name, SMALL), out / name).manifest
        for name in ("orientation_flipped", "series_uid_spans_studies")
    }


def observe(entries: Iterable[InstanceEntry], **changes: str) -> Observations:
    """An archive that stores every file, under the attributes the file carries."""
    found = {
        e.sop_instance_uid: ObservedInstance(
            e.sop_instance_uid,
            **{
                "study_instance_uid": e.attributes.get("StudyInstanceUID"),
                "series_instance_uid": e.attributes.get("SeriesInstanceUID"),
                "patient_id": e.attributes.get("PatientID"),
                **changes,
            },
        )
        for e in entries
    }
    return Observations(found, source="test", studies=studies_from_instances(found.values()))


def lcc(m: Manifest) -> InstanceEntry:
    (entry,) = [i for i in m.instances() if i.not_observable is not None]
    return entry


@pytest.fixture
def flipped(manifests: dict[str, Manifest]) -> ScenarioResult:
    """orientation_flipped on an archive that stores everything: the current LCC (declared
    quarantine) is found, which a correct product that warns would show too."""
    m = manifests["orientation_flipped"]
    return check(m, observe(m.instances()), ingest="cstore")


# ── the scenario data ────────────────────────────────────────────────────────────────────────


def test_the_manifest_carries_the_marks(manifests: dict[str, Manifest]) -> None:
    m = manifests["orientation_flipped"]
    entry = lcc(m)
    assert entry.view == "LCC" and entry.expectation == "quarantine"
    assert entry.not_observable is not None and entry.not_observable.reason.startswith(PIXELS)
    assert entry.not_observable.ingest == []
    assert all(s.not_observable is None for p in m.patients for s in p.studies)
    m = manifests["series_uid_spans_studies"]
    marks = [i.not_observable for i in m.instances()]
    assert len(marks) == 8 and all(x is not None and x.ingest == ["command"] for x in marks)
    prior = [s for s in m.patients[0].studies if s.role == "prior"]
    assert [s.not_observable is not None for s in prior] == [True]


def test_every_mark_in_the_library_is_well_formed() -> None:
    """A mark has a reason that says where the outcome is, and names only known ingest kinds."""
    known = set(kinds("ingest"))
    marked = {}
    for name in scenarios():
        for key, mark in get(name).expect.unobservable().items():
            assert mark.reason.strip(), (name, key)
            assert set(mark.ingest) <= known, (name, key, mark.ingest)
            marked[name] = marked.get(name, 0) + 1
    assert marked == {"orientation_flipped": 1, "series_uid_spans_studies": 3}


# ── the check ────────────────────────────────────────────────────────────────────────────────


def test_a_marked_instance_is_neither_passed_nor_failed(
    manifests: dict[str, Manifest], flipped: ScenarioResult
) -> None:
    entry = lcc(manifests["orientation_flipped"])
    (record,) = [c for c in flipped.instances if c.file == entry.file]
    assert record.status == NOT_OBSERVABLE and not record.passed
    assert record.reason.startswith(f"not observable on this target: {PIXELS}")
    assert "found in the index" in record.reason  # what the index did show is kept
    assert record.observed_present is True
    assert flipped.passed and flipped.failures() == []
    c = flipped.counts
    assert (c["not_observable"], c["failed"], c["passed"]) == (1, 0, 7)
    assert c["studies_not_observable"] == 0
    assert flipped.not_observable() == [
        f"{record.label} {record.sop_instance_uid}: {record.reason}"
    ]


def test_ignoring_the_mark_fails_the_scenario(manifests: dict[str, Manifest]) -> None:
    """The same manifest without the mark: the stored current LCC fails (quarantine expected),
    which is what the mark exists to avoid."""
    m = manifests["orientation_flipped"].model_copy(deep=True)
    lcc(m).not_observable = None
    result = check(m, observe(m.instances()))
    assert not result.passed and result.counts["not_observable"] == 0
    assert "expected absent (quarantine), found in the index" in result.failures()[0]


def test_a_misfiled_marked_instance_still_fails(manifests: dict[str, Manifest]) -> None:
    """The mark covers the outcome; an instance indexed under another patient is a fault any
    index shows."""
    m = manifests["orientation_flipped"]
    entry = lcc(m)
    found = observe(m.instances())
    wrong = observe([entry], patient_id="SOMEONE-ELSE").instances[entry.sop_instance_uid]
    found.instances[entry.sop_instance_uid] = wrong
    result = check(m, found)
    (record,) = [c for c in result.instances if c.file == entry.file]
    assert record.status == "fail" and "patient ID SOMEONE-ELSE" in record.reason
    assert not result.passed


def test_strict_leaves_not_observable_alone(flipped: ScenarioResult) -> None:
    (hard,) = strict([flipped])
    assert hard.passed and hard.counts["not_observable"] == 1 and hard.counts["failed"] == 0


def test_two_verifiers_keep_one_not_observable_record(
    manifests: dict[str, Manifest], flipped: ScenarioResult
) -> None:
    m = manifests["orientation_flipped"]
    other = check(m, observe(m.instances()), ingest="cstore")
    (both,) = combine([[flipped], [replace_source(other, "c-find")]])
    assert both.passed and both.counts["not_observable"] == 1
    (record,) = [c for c in both.instances if c.status == NOT_OBSERVABLE]
    assert [e.status for e in record.evidence] == [NOT_OBSERVABLE, NOT_OBSERVABLE]


def replace_source(result: ScenarioResult, source: str) -> ScenarioResult:
    from dataclasses import replace

    return replace(result, source=source)


def test_an_order_mark_holds_only_for_its_ingest_kind(manifests: dict[str, Manifest]) -> None:
    """series_uid_spans_studies on an archive that stores the prior's images: sent in manifest
    order (C-STORE) the declared outcome is checked and fails; imported as a folder by a
    command, which study is held is the product's choice, so nothing is decided."""
    m = manifests["series_uid_spans_studies"]
    found = observe(m.instances())
    sent = check(m, found, ingest="cstore")
    assert not sent.passed and sent.counts["not_observable"] == 0
    assert sent.counts["failed"] == 4
    imported = check(m, found, ingest="command")
    assert imported.passed, imported.failures()
    c = imported.counts
    assert (c["not_observable"], c["studies_not_observable"], c["passed"]) == (8, 2, 0)
    assert (c["links"], c["links_not_observable"], c["links_failed"]) == (1, 1, 0)
    prior = next(s for s in imported.studies if s.role == "prior")
    assert prior.reason.startswith(f"not observable on this target: {ORDER}")
    current = next(s for s in imported.studies if s.role == "current")
    assert current.reason.endswith("as are all 4 of its instances (accept)")
    # an unknown ingest kind cannot be assumed to keep the order: every mark holds
    assert check(m, found).counts["not_observable"] == 8


def test_a_target_rule_for_the_record_makes_it_observable(manifests: dict[str, Manifest]) -> None:
    """A target that pins an outcome on a marked record says what its index shows: checked."""
    m = manifests["orientation_flipped"]
    pinned = resolve({"current.LCC": "accept"}, m)
    result = check(m, observe(m.instances()), pinned=pinned)
    assert result.counts["not_observable"] == 0 and result.passed
    pinned = resolve({"current.LCC": "reject"}, m)
    assert not check(m, observe(m.instances()), pinned=pinned).passed


# ── every report format ──────────────────────────────────────────────────────────────────────


def test_report_json_counts_and_lists_it(flipped: ScenarioResult, tmp_path: Path) -> None:
    data = json.loads(write_json([flipped], tmp_path / "report.json").read_text())
    (scenario,) = data["scenarios"]
    assert scenario["passed"] is True and scenario["counts"]["not_observable"] == 1
    assert scenario["not_observable"] == flipped.not_observable()
    (record,) = [i for i in scenario["instances"] if i["status"] == NOT_OBSERVABLE]
    assert record["passed"] is False and PIXELS in record["reason"]
    assert data["summary"]["counts"]["not_observable"] == 1 and data["summary"]["passed"]


def test_junit_puts_it_in_system_out_not_in_a_failure(flipped: ScenarioResult) -> None:
    root = junit_tree([flipped]).getroot()
    assert root is not None and root.get("failures") == "0"
    case = root.find("testcase")
    assert case is not None and case.find("failure") is None
    out = case.findtext("system-out") or ""
    (line,) = [x for x in out.splitlines() if x.startswith("not observable: ")]
    assert f"not observable on this target: {PIXELS}" in line
    ET.fromstring(ET.tostring(root))  # well formed


def test_console_table_and_summary_line_count_it(flipped: ScenarioResult) -> None:
    console = Console(width=240, record=True)
    console.print(console_table([flipped]))
    text = console.export_text()
    assert "Not observable" in text
    row = next(line for line in text.splitlines() if "orientation_flipped" in line)
    assert "pass" in row and " 1 " in row
    counts = summary([flipped])["counts"]
    assert not_observable_summary(counts) == " · not observable on this target: 1 instance"
    assert "not observable" not in link_summary(counts)


def test_summary_line_names_studies_and_links(manifests: dict[str, Manifest]) -> None:
    m = manifests["series_uid_spans_studies"]
    counts = summary([check(m, observe(m.instances()), ingest="command")])["counts"]
    line = not_observable_summary(counts)
    assert line == " · not observable on this target: 8 instances, 2 studies"
    assert link_summary(counts) == " · link verdicts: 0 passed, 1 not observable"
    assert not_observable_summary({"not_observable": 0}) == ""


def test_console_table_has_no_column_without_it(manifests: dict[str, Manifest]) -> None:
    m = manifests["series_uid_spans_studies"]
    console = Console(width=240, record=True)
    console.print(console_table([check(m, observe(m.instances()), ingest="cstore")]))
    assert "Not observable" not in console.export_text()


def test_html_shows_it_for_a_scenario_that_passed(flipped: ScenarioResult) -> None:
    page = render_html([flipped])
    assert "<th>Not observable</th>" in page
    assert "1 not observable on this target" in page
    assert "Not observable on this target: what the scenarios that passed cannot show" in page
    assert f"not observable on this target: {PIXELS}" in page


# ── through a run ────────────────────────────────────────────────────────────────────────────


def _targets(tmp_path: Path, ingest: str, store: str) -> Targets:
    config = tmp_path / "dicomfab.toml"
    config.write_text(
        f'[targets.t]\ningest = {ingest}\nverify = {{ kind = "memory", store = "{store}" }}\n',
        encoding="utf-8",
    )
    return load_targets(config, {})


def test_a_session_knows_its_ingest_kind(tmp_path: Path) -> None:
    targets = _targets(tmp_path, '{ kind = "command", command = ["true"] }', "kind")
    with open_target("t", targets, tmp_path / "work", folder=tmp_path) as session:
        assert session.ingest_kind == "command"
    with open_target(None, targets, tmp_path / "embedded", folder=tmp_path) as session:
        assert session.ingest_kind == "cstore"


def test_a_run_checks_an_order_mark_when_its_ingest_keeps_the_order(tmp_path: Path) -> None:
    """The memory ingestor stores in manifest order and keeps everything: the prior's images
    are found where the scenario wants them quarantined, and the run says so (a run that did not
    pass its ingest kind to the check would call them not observable and pass)."""
    MemoryStore.named("order").clear()
    targets = _targets(tmp_path, '{ kind = "memory", store = "order" }', "order")
    scenarios = [ScenarioRequest("series_uid_spans_studies", SMALL)]
    outcome = execute(RunRequest(scenarios, "t", targets, runs_dir=tmp_path / "runs"))
    assert outcome.exit_code == EXIT_FAILED
    (result,) = outcome.results
    assert result.counts["not_observable"] == 0 and result.counts["failed"] == 4
