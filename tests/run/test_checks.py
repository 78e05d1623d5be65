"""Expectation checks and reports: real generated manifests against hand-made observations."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from dicomfab.errors import TargetError
from dicomfab.output.manifest import InstanceEntry, Manifest
from dicomfab.output.merge import DatasetEntry, MergedManifest
from dicomfab.run.checks import ScenarioResult, check, check_merged, combine, strict
from dicomfab.run.report import console_table, junit_tree, write_json, write_junit
from dicomfab.scenarios import ScenarioRequest
from dicomfab.scenarios.generate import generate_one
from dicomfab.targets.observations import (
    Observations,
    ObservedInstance,
    studies_from_instances,
)
from dicomfab.targets.receipt import InstanceResult, Receipt

SMALL = {"image_size": "small"}


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Manifest]:
    out = tmp_path_factory.mktemp("scenarios")
    return {
        name: generate_one(ScenarioRequest(name, SMALL), out / name).manifest
        for name in ("pr_bits_mismatch", "bits_consistent", "cu_missing_dicom")
    }


def observed(entry: InstanceEntry, **changes: str | None) -> ObservedInstance:
    a = entry.attributes
    values: dict[str, str | None] = {
        "study_instance_uid": a.get("StudyInstanceUID"),
        "series_instance_uid": a.get("SeriesInstanceUID"),
        "patient_id": a.get("PatientID"),
    }
    values.update(changes)
    return ObservedInstance(entry.sop_instance_uid, **values)


def observe(entries: Iterable[InstanceEntry]) -> Observations:
    """What an archive that files each study under its first instance's PatientID shows."""
    found = {e.sop_instance_uid: observed(e) for e in entries}
    return Observations(found, source="test", studies=studies_from_instances(found.values()))


def by_outcome(manifest: Manifest, outcome: str) -> list[InstanceEntry]:
    return [i for i in manifest.instances() if i.expectation == outcome]


def rejected(manifest: Manifest) -> InstanceEntry:
    (entry,) = by_outcome(manifest, "reject")
    return entry


# ── checks ───────────────────────────────────────────────────────────────────────────────────


def test_all_present_but_the_rejected_one_passes(manifests: dict[str, Manifest]) -> None:
    m = manifests["pr_bits_mismatch"]
    bad = rejected(m)
    result = check(m, observe(i for i in m.instances() if i is not bad))
    assert result.passed, result.failures()
    assert result.name == "pr_bits_mismatch" and result.category == "pixel-encoding"
    assert result.counts["instances"] == 8 and result.counts["failed"] == 0
    (rej,) = [c for c in result.instances if c.sop_instance_uid == bad.sop_instance_uid]
    assert rej.expected_present is False and rej.observed_present is False and rej.passed
    assert rej.expected_outcome == "reject" and "absent as expected" in rej.reason
    assert result.failures() == []


def test_rejected_instance_found_fails_with_a_diff_line(manifests: dict[str, Manifest]) -> None:
    m = manifests["pr_bits_mismatch"]
    bad = rejected(m)
    result = check(m, observe(m.instances()))
    assert not result.passed
    assert result.counts["failed"] == 1
    (line,) = [ln for ln in result.failures() if bad.sop_instance_uid in ln]
    assert line == f"prior LMLO {bad.sop_instance_uid} expected absent (reject), found in the index"
    # the prior study's own outcome is link, decided by where it was filed, not by its instances
    prior = next(s for s in result.studies if s.role == "prior")
    assert prior.status == "pass" and prior.expected_outcome == "link"
    assert not any("study" in line for line in result.failures())


def test_accepted_instance_missing_fails(manifests: dict[str, Manifest]) -> None:
    m = manifests["bits_consistent"]
    missing = m.instances()[0]
    result = check(m, observe(m.instances()[1:]))
    assert not result.passed
    (failed,) = [c for c in result.instances if not c.passed]
    assert failed.sop_instance_uid == missing.sop_instance_uid
    assert failed.expected_present and not failed.observed_present
    (line, *_) = result.failures()
    assert line.endswith(
        f"{missing.sop_instance_uid} expected present (accept), not found in the index"
    )


def test_wrong_study_uid_observed_fails_with_the_mismatch(manifests: dict[str, Manifest]) -> None:
    m = manifests["bits_consistent"]
    target = m.instances()[2]
    obs = observe(m.instances())
    obs.instances[target.sop_instance_uid] = observed(target, study_instance_uid="2.25.999")
    result = check(m, obs)
    assert not result.passed
    (failed,) = [c for c in result.instances if not c.passed]
    (mm,) = failed.mismatches
    assert mm.keyword == "StudyInstanceUID" and mm.observed == "2.25.999"
    expected_uid = target.attributes["StudyInstanceUID"]
    assert f"study UID 2.25.999 ≠ expected {expected_uid}" in result.failures()[0]


def test_attributes_a_verifier_cannot_see_are_skipped(manifests: dict[str, Manifest]) -> None:
    m = manifests["bits_consistent"]
    obs = Observations(
        {i.sop_instance_uid: ObservedInstance(i.sop_instance_uid) for i in m.instances()}
    )
    result = check(m, obs)
    assert result.passed
    # nor where its studies landed: the link verdict is not checked, never passed nor failed
    (verdict,) = [s for s in result.studies if s.expected_outcome == "link"]
    assert verdict.status == "not checked" and "shows no study" in verdict.reason


def test_overrides_flip_quarantine(manifests: dict[str, Manifest]) -> None:
    m = manifests["pr_bits_mismatch"]
    bad = rejected(m)
    quarantined = m.model_copy(deep=True)
    for inst in quarantined.instances():
        if inst.sop_instance_uid == bad.sop_instance_uid:
            inst.expectation = "quarantine"
    everything = observe(quarantined.instances())
    assert not check(quarantined, everything).passed  # quarantine: held outside the index
    result = check(quarantined, everything, overrides={"quarantine": "accept"})
    assert result.passed, result.failures()
    (c,) = [c for c in result.instances if c.declared_outcome == "quarantine"]
    assert c.expected_outcome == "accept" and c.expected_present
    assert "target expects accept, scenario declares quarantine" in c.reason
    assert result.overrides == {"quarantine": "accept"}
    with pytest.raises(TargetError, match="unknown outcome"):
        check(quarantined, everything, overrides={"quarantine": "maybe"})


def test_link_and_no_link_are_decided_by_the_patient_record(
    manifests: dict[str, Manifest],
) -> None:
    m = manifests["bits_consistent"].model_copy(deep=True)
    current = m.patients[0].studies[0]
    assert current.role == "current"
    prior = next(s for s in m.patients[0].studies if s.role == "prior")
    result = check(m, observe(m.instances()))
    assert result.passed, result.failures()
    (verdict,) = [s for s in result.studies if s.expected_outcome == "link"]
    pid = m.patients[0].patient_id
    assert verdict.status == "pass"
    assert verdict.reason == (
        f"prior filed under patient {pid}, current {current.study_instance_uid} under patient "
        f"{pid}: linked (expected link)"
    )
    assert result.counts["links"] == result.counts["links_passed"] == 1
    # the same observations fail a no-link expectation: the check can fail
    prior.expectation = "no-link"
    failed = check(m, observe(m.instances()))
    assert not failed.passed
    assert failed.counts["links_failed"] == 1
    (line,) = [ln for ln in failed.failures() if "prior study" in ln]
    assert line.endswith("linked (expected no-link)")
    # filed under another patient: not linked, and the evidence names both records
    prior_files = {i.file for se in prior.series for i in se.instances}
    moved = [
        observed(e, patient_id="OTHER-1") if e.file in prior_files else observed(e)
        for e in m.instances()
    ]
    obs = Observations(
        {o.sop_instance_uid: o for o in moved}, "test", studies=studies_from_instances(moved)
    )
    apart = check(m, obs)
    (verdict,) = [s for s in apart.studies if s.expected_outcome == "no-link"]
    assert verdict.status == "pass"
    assert "filed under patient OTHER-1" in verdict.reason and "not linked" in verdict.reason


def test_links_none_is_not_checked_and_strict_fails_it(manifests: dict[str, Manifest]) -> None:
    m = manifests["bits_consistent"]
    result = check(m, observe(m.instances()), links=None)
    assert result.passed  # not checked is not a failure ...
    (verdict,) = [s for s in result.studies if s.expected_outcome == "link"]
    assert verdict.status == "not checked" and 'links = "none"' in verdict.reason
    assert result.counts["links_not_checked"] == 1 and result.counts["links_passed"] == 0
    (hard,) = strict([result])  # ... unless the run is strict
    assert not hard.passed
    assert any("a failure under --strict" in line for line in hard.failures())


def test_file_not_written_cannot_be_present(manifests: dict[str, Manifest]) -> None:
    m = manifests["cu_missing_dicom"]
    (skipped,) = [i for i in m.instances() if not i.written]
    assert skipped.expectation == "exclude"
    result = check(m, observe(i for i in m.instances() if i.written))
    assert result.passed, result.failures()
    (c,) = [c for c in result.instances if not c.written]
    assert c.expected_present is False and "not written" in c.reason
    # found anyway (the system invented it): that is a failure
    assert not check(m, observe(m.instances())).passed


def test_receipt_outcome_is_attached_by_path_or_uid(manifests: dict[str, Manifest]) -> None:
    m = manifests["pr_bits_mismatch"]
    bad = rejected(m)
    first = m.instances()[0]
    receipt = Receipt(
        [
            InstanceResult(Path("/somewhere/merged") / first.file, None, "success", True, 0),
            InstanceResult(Path("/x/other.dcm"), bad.sop_instance_uid, "failure", True, 0xA900,
                           "cannot understand"),
        ]
    )  # fmt: skip
    result = check(m, observe(m.instances()), receipt)
    by_uid = {c.sop_instance_uid: c for c in result.instances}
    assert by_uid[first.sop_instance_uid].ingest is not None
    assert by_uid[first.sop_instance_uid].ingest.outcome == "success"  # type: ignore[union-attr]
    ing = by_uid[bad.sop_instance_uid].ingest
    assert ing is not None and ing.outcome == "failure" and ing.status == "0xA900"
    assert by_uid[m.instances()[1].sop_instance_uid].ingest is None
    assert any("ingest failure 0xA900" in line for line in result.failures())


def test_check_merged_gives_one_result_per_dataset(manifests: dict[str, Manifest]) -> None:
    merged = MergedManifest(
        datasets=[DatasetEntry(name=n, manifest=m) for n, m in manifests.items()]
    )
    everything = observe(merged.instances())
    results = check_merged(merged, everything)
    assert [r.dataset for r in results] == list(manifests)
    assert [r.passed for r in results] == [False, True, False]


# ── pre-existing: only what this run sent is credited ──────────────────────────────────────


def test_a_pre_existing_instance_is_never_passed(manifests: dict[str, Manifest]) -> None:
    m = manifests["bits_consistent"]
    everything = observe(m.instances())
    assert check(m, everything).passed  # found, and ours: passed
    old = m.instances()[1]
    result = check(m, everything, pre_existing={old.sop_instance_uid})
    assert not result.passed and result.status == "fail"
    (c,) = [c for c in result.instances if c.sop_instance_uid == old.sop_instance_uid]
    assert c.status == "pre-existing" and not c.passed and c.observed_present
    assert "already in the target before ingest" in c.reason
    counts = result.counts
    assert counts["pre_existing"] == 1 and counts["passed"] == 7 and counts["failed"] == 0
    assert counts["present"] == 7  # not credited as stored
    assert result.pre_existing == 1
    assert result.failures()[0] == (
        "1 instance was already in the target before ingest: this run cannot tell whether it "
        "stored them (replayed --seed or a UID collision)"
    )
    assert f"{old.sop_instance_uid} was already in the target" in result.failures()[1]
    (study,) = [s for s in result.studies if s.study_instance_uid == c.study_instance_uid]
    assert study.status == "pre-existing"


@pytest.mark.parametrize("outcome", ["accept", "reject", "quarantine", "exclude", "link"])
def test_pre_existing_wins_over_every_outcome(manifests: dict[str, Manifest], outcome: str) -> None:
    """Whatever an instance should do and whatever is found after ingest, an instance that was
    there before never passes."""
    m = manifests["pr_bits_mismatch"].model_copy(deep=True)
    for inst in m.instances():
        inst.expectation = outcome
    uids = {i.sop_instance_uid for i in m.instances()}
    for observations in (observe(m.instances()), Observations()):
        result = check(m, observations, pre_existing=uids)
        assert {c.status for c in result.instances} == {"pre-existing"}
        assert not result.passed and result.counts["pre_existing"] == 8
        assert result.counts["passed"] == 0 and result.counts["present"] == 0


def test_pre_existing_counts_once_across_verifiers(manifests: dict[str, Manifest]) -> None:
    m = manifests["bits_consistent"]
    old = {m.instances()[0].sop_instance_uid}
    results = [
        check(m, replace(observe(m.instances()), source=source), pre_existing=old)
        for source in ("sql x", "c-find y")
    ]
    (combined,) = combine([[r] for r in results])
    assert combined.counts["pre_existing"] == 1 and combined.counts["instances"] == 8
    assert not combined.passed and len(combined.instances) == 8
    # the note, then the instance's one line (not one per verifier)
    assert sum("already in the target" in line for line in combined.failures()) == 2


def two_verifiers(m: Manifest, sql: Observations, cfind: Observations) -> ScenarioResult:
    """``m`` checked by an ``sql`` and a ``c-find`` verifier, combined as a run does."""
    results = [
        [check(m, replace(obs, source=source))]
        for obs, source in ((sql, "sql db"), (cfind, "c-find pacs"))
    ]
    (combined,) = combine(results)
    return combined


def test_two_verifiers_that_agree_give_one_record(manifests: dict[str, Manifest]) -> None:
    m = manifests["bits_consistent"]
    result = two_verifiers(m, observe(m.instances()), observe(m.instances()))
    assert result.passed and result.source == "sql db + c-find pacs"
    assert [c.file for c in result.instances] == [i.file for i in m.instances()]
    assert [s.study_instance_uid for s in result.studies] == [
        s.study_instance_uid for p in m.patients for s in p.studies
    ]
    first = result.instances[0]
    assert first.reason == "present as expected (accept) (sql, c-find agree)"
    assert [(e.verifier, e.status) for e in first.evidence] == [("sql", "pass"), ("c-find", "pass")]
    assert result.counts["instances"] == 8 and result.counts["present"] == 8
    assert result.to_dict()["instances"][0]["evidence"][1] == {
        "verifier": "c-find",
        "status": "pass",
        "reason": "present as expected (accept)",
    }


def test_two_verifiers_that_disagree_give_one_failing_record(
    manifests: dict[str, Manifest],
) -> None:
    m = manifests["bits_consistent"]
    missing = m.instances()[0]
    result = two_verifiers(m, observe(m.instances()), observe(m.instances()[1:]))
    assert not result.passed and len(result.instances) == 8
    (failed,) = [c for c in result.instances if not c.passed]
    assert failed.sop_instance_uid == missing.sop_instance_uid and failed.status == "fail"
    assert failed.reason == (
        "sql: present as expected (accept); "
        "c-find: expected present (accept), not found in the index — verifiers disagree"
    )
    (line,) = [ln for ln in result.failures() if missing.sop_instance_uid in ln]
    assert line.endswith(f"{missing.sop_instance_uid} {failed.reason}")
    study = next(s for s in result.studies if s.study_instance_uid == failed.study_instance_uid)
    assert study.status == "fail" and "verifiers disagree" in study.reason
    assert [e.status for e in study.evidence] == ["pass", "fail"]
    assert result.counts["failed"] == 1 and result.counts["studies_failed"] == 1


def test_mismatches_both_verifiers_found_are_kept_once(manifests: dict[str, Manifest]) -> None:
    m = manifests["bits_consistent"]
    target = m.instances()[2]
    obs = observe(m.instances())
    obs.instances[target.sop_instance_uid] = observed(target, study_instance_uid="2.25.999")
    result = two_verifiers(m, obs, obs)
    (failed,) = [c for c in result.instances if not c.passed]
    (mm,) = failed.mismatches
    assert mm.observed == "2.25.999" and result.counts["mismatches"] == 1
    (line,) = [ln for ln in result.failures() if target.sop_instance_uid in ln]
    assert line.endswith("(sql, c-find agree)")


def test_junit_and_console_show_a_disagreement_once(manifests: dict[str, Manifest]) -> None:
    m = manifests["bits_consistent"]
    missing = m.instances()[0]
    result = two_verifiers(m, observe(m.instances()), observe(m.instances()[1:]))
    (case,) = junit_tree([result]).getroot().findall("testcase")
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    assert failure.get("message") == "1 of 8 instances failed, 1 of 2 studies failed"
    (line,) = [ln for ln in failure.text.splitlines() if missing.sop_instance_uid in ln]
    assert line.endswith("not found in the index — verifiers disagree")
    out = case.find("system-out")
    assert out is not None and out.text is not None
    assert sum("prior study" in ln for ln in out.text.splitlines()) == 1
    console = Console(width=300, record=True)
    console.print(console_table([result]))
    text = console.export_text()
    assert "7/8" in text and "verifiers disagree" in text


def test_a_link_study_is_one_verdict_with_two_verifiers(
    manifests: dict[str, Manifest],
) -> None:
    m = manifests["bits_consistent"]
    result = two_verifiers(m, observe(m.instances()), observe(m.instances()))
    (verdict,) = [s for s in result.studies if s.expected_outcome == "link"]
    assert verdict.status == "pass" and verdict.reason.endswith("(sql, c-find agree)")
    assert [e.verifier for e in verdict.evidence] == ["sql", "c-find"]
    assert result.counts["links"] == 1  # one verdict, whatever the number of verifiers


def test_two_verifiers_of_one_kind_are_told_apart(manifests: dict[str, Manifest]) -> None:
    m = manifests["bits_consistent"]
    obs = observe(m.instances())
    results = [[check(m, replace(obs, source=f"sql {db}"))] for db in ("a", "b")]
    (combined,) = combine(results)
    assert [e.verifier for e in combined.instances[0].evidence] == ["sql", "sql#2"]


def test_entries_sharing_a_uid_stay_apart_when_combined(manifests: dict[str, Manifest]) -> None:
    m = manifests["bits_consistent"].model_copy(deep=True)
    a, b = m.instances()[:2]
    b.attributes["SOPInstanceUID"] = a.sop_instance_uid  # two files, one UID
    result = two_verifiers(m, observe(m.instances()), observe(m.instances()))
    shared = [c for c in result.instances if c.sop_instance_uid == a.sop_instance_uid]
    assert [c.file for c in shared] == [a.file, b.file]
    assert len(result.instances) == result.counts["instances"] == 8


# ── reports ──────────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def results(manifests: dict[str, Manifest]) -> list[ScenarioResult]:
    good = manifests["bits_consistent"]
    bad = manifests["pr_bits_mismatch"]
    return [check(good, observe(good.instances())), check(bad, observe(bad.instances()))]


def test_junit_xml_parses_with_failure_text(results: list[ScenarioResult], tmp_path: Path) -> None:
    path = write_junit(results, tmp_path / "junit.xml")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuite" and root.get("tests") == "2" and root.get("failures") == "1"
    cases = root.findall("testcase")
    assert [c.get("name") for c in cases] == ["bits_consistent", "pr_bits_mismatch"]
    assert [c.get("classname") for c in cases] == ["dicomfab.clean", "dicomfab.pixel-encoding"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None and failure.text is not None
    uid = next(c.sop_instance_uid for c in results[1].instances if c.declared_outcome == "reject")
    assert f"prior LMLO {uid} expected absent (reject), found in the index" in failure.text
    assert "1 of 8 instances failed" in (failure.get("message") or "")
    out = cases[1].find("system-out")
    assert out is not None and "link verdict: prior study" in (out.text or "")
    assert "linked (expected link)" in (out.text or "")


def test_junit_tree_of_nothing_is_an_empty_suite() -> None:
    root = junit_tree([]).getroot()
    assert root.get("tests") == "0" and root.findall("testcase") == []


def test_report_json_round_trips(results: list[ScenarioResult], tmp_path: Path) -> None:
    path = write_json(results, tmp_path / "reports" / "report.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["kind"] == "dicomfab-run-report"
    assert data["summary"]["scenarios"] == 2 and data["summary"]["scenarios_failed"] == 1
    assert data["summary"]["passed"] is False and data["summary"]["counts"]["instances"] == 16
    names = [s["name"] for s in data["scenarios"]]
    assert names == ["bits_consistent", "pr_bits_mismatch"]
    assert [len(s["instances"]) for s in data["scenarios"]] == [8, 8]
    first = data["scenarios"][1]["instances"][0]
    keys = {"sop_instance_uid", "file", "expected_outcome", "expected_present"}
    keys |= {"observed_present", "mismatches", "ingest", "passed", "reason"}
    assert keys <= set(first)
    assert data == json.loads(json.dumps(data))
    assert data["scenarios"][1]["failures"] == results[1].failures()


def test_console_table_renders(results: list[ScenarioResult]) -> None:
    console = Console(width=200, record=True)
    console.print(console_table(results))
    text = console.export_text()
    assert "1 of 2 scenarios passed" in text
    assert "bits_consistent" in text and "pr_bits_mismatch" in text
    assert "FAIL" in text and "expected absent (reject)" in text


def test_reports_show_the_seed_and_what_was_there_before(
    manifests: dict[str, Manifest], tmp_path: Path
) -> None:
    m = manifests["bits_consistent"]
    old = [i.sop_instance_uid for i in m.instances()[:3]]
    results = [check(m, observe(m.instances()), pre_existing=set(old))]
    note = "3 instances were already in the target before ingest"
    root = ET.parse(write_junit(results, tmp_path / "junit.xml", seed=77)).getroot()
    assert [(p.get("name"), p.get("value")) for p in root.iter("property")] == [("seed", "77")]
    failure = root.find("testcase/failure")
    assert failure is not None and (failure.get("message") or "").startswith(note)
    data = json.loads(write_json(results, tmp_path / "report.json", seed=77).read_text())
    assert data["summary"]["seed"] == 77 and data["summary"]["passed"] is False
    assert data["summary"]["counts"]["pre_existing"] == 3
    assert {i["status"] for i in data["scenarios"][0]["instances"] if i["passed"] is False} == {
        "pre-existing"
    }
    console = Console(width=250, record=True)
    console.print(console_table(results))
    text = console.export_text()
    assert "Pre-existing" in text and "FAIL" in text and note in text
