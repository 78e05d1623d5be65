"""Copies of one SOP Instance UID (``expect.copies``): decided as a group, by the InstanceNumber
of the one record a system holds for the UID. Real generated manifests against hand-made
observations, then a real run on the embedded target."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dicomfab.errors import SpecError, TargetError
from dicomfab.output.manifest import InstanceEntry, Manifest
from dicomfab.run.checks import InstanceCheck, ScenarioResult, check, strict
from dicomfab.run.expect import resolve, rule_issues
from dicomfab.run.pipeline import EXIT_PASSED, RunRequest, execute
from dicomfab.scenarios import Scenario, ScenarioRequest, compose, get
from dicomfab.scenarios.generate import generate_one
from dicomfab.targets.observations import Observations, ObservedInstance, studies_from_instances

SMALL = {"image_size": "small"}
NAME = "duplicate_sop_uid_different_content"
GROUP = "current.first+current.last"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    out = tmp_path_factory.mktemp("copies")
    return generate_one(ScenarioRequest(NAME, SMALL), out / NAME).manifest


def copies(manifest: Manifest) -> list[InstanceEntry]:
    return [i for i in manifest.instances() if i.copies is not None]


def holding(manifest: Manifest, number: str | None, *, stored: bool = True) -> Observations:
    """An archive holding every instance; for the shared UID, one record with InstanceNumber
    ``number`` (None: a verifier that does not return it), or none (``stored=False``)."""
    found: dict[str, ObservedInstance] = {}
    for entry in manifest.instances():
        if entry.copies is not None and not stored:
            continue
        a = entry.attributes
        found.setdefault(
            entry.sop_instance_uid,
            ObservedInstance(
                entry.sop_instance_uid,
                study_instance_uid=a["StudyInstanceUID"],
                series_instance_uid=a["SeriesInstanceUID"],
                patient_id=a["PatientID"],
                instance_number=str(a["InstanceNumber"]),
            ),
        )
    if stored:
        uid = copies(manifest)[0].sop_instance_uid
        found[uid] = replace(found[uid], instance_number=number)
    return Observations(found, "test", studies=studies_from_instances(found.values()))


def verdicts(result: ScenarioResult) -> list[InstanceCheck]:
    return [c for c in result.instances if c.copies is not None]


def with_rule(manifest: Manifest, rule: str) -> Manifest:
    changed = manifest.model_copy(deep=True)
    for entry in copies(changed):
        assert entry.copies is not None
        entry.copies.rule = rule
    return changed


# ── the manifest ─────────────────────────────────────────────────────────────────────────────


def test_the_manifest_marks_both_copies_with_their_group_and_rule(manifest: Manifest) -> None:
    first, second = copies(manifest)
    assert first.sop_instance_uid == second.sop_instance_uid
    assert (first.view, second.view) == ("RCC", "LMLO")
    assert (first.attributes["InstanceNumber"], second.attributes["InstanceNumber"]) == (1, 4)
    assert {(e.copies.group, e.copies.rule) for e in (first, second) if e.copies} == {
        (GROUP, "first")
    }
    assert len(manifest.instances()) == 8


# ── the rule ─────────────────────────────────────────────────────────────────────────────────


def test_the_first_copy_stored_passes_and_says_which(manifest: Manifest) -> None:
    result = check(manifest, holding(manifest, "1"))
    assert result.passed, result.failures()
    kept, dropped = verdicts(result)
    assert (kept.status, kept.observed_present, kept.expected_present) == ("pass", True, True)
    assert (dropped.status, dropped.observed_present, dropped.expected_present) == (
        "pass",
        False,
        False,
    )
    assert "stored as expected: this copy (the first of 2, InstanceNumber 1)" in kept.reason
    assert "the index holds the first copy (InstanceNumber 1)" in dropped.reason
    assert result.counts["present"] == 7  # one record for the shared UID, not two


def test_the_second_copy_stored_fails_both_copies(manifest: Manifest) -> None:
    result = check(manifest, holding(manifest, "4"))
    assert not result.passed
    kept, dropped = verdicts(result)
    assert kept.status == dropped.status == "fail"
    lines = result.failures()
    assert len(lines) == 3 and lines[2].startswith("current study ")  # 2 of 4 instances failed
    assert lines[0].startswith(f"current RCC {kept.sop_instance_uid} expected this copy")
    assert "the index holds the second copy (InstanceNumber 4) (copies: first)" in lines[0]
    assert "expected this copy (the second of 2, InstanceNumber 4) not stored" in lines[1]


def test_no_copy_stored_fails_the_one_to_keep(manifest: Manifest) -> None:
    result = check(manifest, holding(manifest, None, stored=False))
    kept, dropped = verdicts(result)
    assert kept.status == "fail" and "no copy found in the index" in kept.reason
    assert dropped.status == "pass"


def test_a_record_that_is_no_copy_fails(manifest: Manifest) -> None:
    result = check(manifest, holding(manifest, "7"))
    kept, _ = verdicts(result)
    assert kept.status == "fail"
    assert "a record that is none of the copies (InstanceNumber 7)" in kept.reason


def test_second_and_one(manifest: Manifest) -> None:
    second = with_rule(manifest, "second")
    assert check(second, holding(second, "4")).passed
    assert not check(second, holding(second, "1")).passed
    one = with_rule(manifest, "one")
    for number in ("1", "4", " 04"):  # IS compares as a number
        assert check(one, holding(one, number)).passed, number
    for observations in (holding(one, "7"), holding(one, None, stored=False)):
        result = check(one, observations)
        assert [c.status for c in verdicts(result)] == ["fail", "fail"]
        assert "expected one of the 2 copies stored" in verdicts(result)[0].reason


def test_a_verifier_that_cannot_tell_the_copies_apart_never_passes(manifest: Manifest) -> None:
    result = check(manifest, holding(manifest, None))
    assert [c.status for c in verdicts(result)] == ["not checked", "not checked"]
    assert "cannot tell the copies apart" in verdicts(result)[0].reason
    assert result.counts["not_checked"] == 2
    assert not strict([result])[0].passed  # --strict: a failure


def test_copies_the_target_held_before_ingest_are_not_credited(manifest: Manifest) -> None:
    uid = copies(manifest)[0].sop_instance_uid
    result = check(manifest, holding(manifest, "1"), pre_existing={uid})
    assert [c.status for c in verdicts(result)] == ["pre-existing", "pre-existing"]
    assert not result.passed and result.counts["present"] == 6


def test_a_target_pins_the_copy_it_keeps(manifest: Manifest) -> None:
    pinned = resolve({GROUP: "second"}, manifest, where=f"expect.{NAME}")
    assert pinned.copies == {GROUP: "second"}
    result = check(manifest, holding(manifest, "4"), pinned=pinned)
    assert result.passed, result.failures()
    assert "[target expects second, scenario declares first]" in verdicts(result)[0].reason


@pytest.mark.parametrize(
    ("rules", "fragment"),
    [
        ({GROUP: "frist"}, "unknown copy rule"),
        ({"current.last+current.first": "first"}, "no such group of copies"),
    ],
)
def test_bad_copy_rules_of_a_target(
    manifest: Manifest, rules: dict[str, str], fragment: str
) -> None:
    with pytest.raises(TargetError, match=fragment):
        resolve(rules, manifest, where=f"targets.x.expect.{NAME}")
    (issue,) = rule_issues({NAME: rules}, "targets.x.expect")
    assert issue.path.startswith(f"targets.x.expect.{NAME}.")
    assert issue.suggestion in ("first", GROUP)


# ── the scenario ─────────────────────────────────────────────────────────────────────────────


def _scenario(copies: dict[str, str]) -> Scenario:
    data = get(NAME).model_dump()
    data["expect"]["copies"] = copies
    return Scenario.model_validate(data)


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("current.first", "names 1 instance"),
        ("current.first+current.2", "carry 2 SOP Instance UIDs"),
        ("current.firts+current.last", "not a selector"),
    ],
)
def test_a_bad_group_of_copies_is_a_spec_error(key: str, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment) as info:
        compose(_scenario({key: "first"}), SMALL)
    assert info.value.issues[0].path == f"expect.copies.{key}"


def test_an_unknown_copy_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="'one', 'first' or 'second'"):
        _scenario({GROUP: "last"})


# ── a real run ───────────────────────────────────────────────────────────────────────────────


def test_the_embedded_target_keeps_the_copy_sent_last(tmp_path: Path) -> None:
    """qrscp updates its index row with each copy: its policy pins "second", and the C-STORE
    ingestor sends both copies on one association, in manifest order, so the verdict holds for
    every run (without that, parallel associations let either copy arrive last)."""
    requests = [ScenarioRequest(n, SMALL) for n in ("duplicate_sop", NAME)]
    outcome = execute(RunRequest(requests, runs_dir=tmp_path, seed=1))
    assert outcome.exit_code == EXIT_PASSED, [r.failures() for r in outcome.results]
    for result in outcome.results:
        kept, dropped = verdicts(result)
        assert kept.observed_present is False and dropped.observed_present is True
        assert "the index holds the second copy (InstanceNumber 4)" in kept.reason
        assert "(sql, c-find agree)" in kept.reason  # both verifiers return InstanceNumber
