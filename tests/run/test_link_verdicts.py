"""Link verdicts: every ``link`` / ``no-link`` expectation ends pass or fail with its evidence, by
the patient record each study was filed under or by the product's own relation; only a target
with ``links = "none"`` leaves them not checked, and ``--strict`` fails those."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dicomfab.output.manifest import Manifest
from dicomfab.run.connect import load_targets
from dicomfab.run.links import Anchor, Relation, SamePatient, decide, link_anchors
from dicomfab.run.pipeline import EXIT_FAILED, EXIT_PASSED, RunRequest, execute
from dicomfab.scenarios import ScenarioRequest
from dicomfab.scenarios.generate import generate_one
from dicomfab.targets.links import LinkPairs
from dicomfab.targets.memory import MemoryStore
from dicomfab.targets.observations import Observations, ObservedStudy

SMALL = {"image_size": "small"}


def _targets(tmp_path: Path, store: str, links: str = "") -> object:
    config = tmp_path / "dicomfab.toml"
    config.write_text(
        "[targets.mem]\n"
        f'ingest = {{ kind = "memory", store = "{store}" }}\n'
        f'verify = {{ kind = "memory", store = "{store}" }}\n' + links
    )
    return load_targets(config, {})


def _run(tmp_path: Path, store: str, links: str = "", strict: bool = False, *names: str):
    MemoryStore.named(store).clear()
    scenarios = [ScenarioRequest(n, SMALL) for n in names or ("bits_consistent",)]
    request = RunRequest(
        scenarios,
        "mem",
        _targets(tmp_path, store, links),  # type: ignore[arg-type]
        runs_dir=tmp_path / "runs",
        strict=strict,
    )
    return execute(request)


# ── judges ───────────────────────────────────────────────────────────────────────────────────


def test_same_patient_compares_the_patient_record_with_its_issuer() -> None:
    judge = SamePatient(
        {
            "1": ObservedStudy("1", patient_id="P-1", issuer_of_patient_id="SITE_A"),
            "2": ObservedStudy("2", patient_id="P-1", issuer_of_patient_id="SITE_A"),
            "3": ObservedStudy("3", patient_id="P-1", issuer_of_patient_id="SITE_B"),
            "4": ObservedStudy("4", patient_id="P-9", patient_entity="abc"),
            "5": ObservedStudy("5", patient_id="P-8", patient_entity="abc"),
        }
    )
    assert judge.linked("2", Anchor("1")) == (
        True,
        "filed under patient P-1 (issuer SITE_A), current 1 under patient P-1 (issuer SITE_A)",
    )
    assert judge.linked("3", Anchor("1"))[0] is False  # same ID, another issuer
    assert judge.linked("5", Anchor("4"))[0] is True  # the system's own record decides
    assert judge.linked("7", Anchor("1")) == (False, "not in the index")
    assert judge.linked("1", Anchor(patient_id="P-1"))[0] is True
    assert judge.linked("1", Anchor(patient_id="P-2"))[0] is False


def test_same_patient_id_keys_a_record_it_cannot_see_by_patient_id_alone() -> None:
    """``same-patient-id``: Orthanc through QIDO-RS files both under one patient resource (keyed
    by PatientID alone) but the verifier shows no resource, only each study's issuer."""
    studies = {
        "1": ObservedStudy("1", patient_id="A-1", issuer_of_patient_id="HOSP_A"),
        "2": ObservedStudy("2", patient_id="A-1", issuer_of_patient_id="HOSP_B"),
        "3": ObservedStudy("3", patient_id="B-1", issuer_of_patient_id="HOSP_A"),
        "4": ObservedStudy("4", patient_id="A-1", patient_entity="x"),
        "5": ObservedStudy("5", patient_id="B-1", patient_entity="x"),
    }
    observations = Observations({}, "qido", studies=studies)
    assert SamePatient.of(observations).linked("2", Anchor("1"))[0] is False
    by_id = SamePatient.of(observations, "same-patient-id")
    assert by_id.linked("2", Anchor("1")) == (
        True,
        "filed under patient A-1 (issuer HOSP_B), current 1 under patient A-1 (issuer HOSP_A)"
        " (keyed by PatientID alone)",
    )
    assert by_id.linked("3", Anchor("1"))[0] is False  # another PatientID
    assert by_id.linked("5", Anchor("4"))[0] is True  # the system's own record still decides


def test_decide_passes_and_fails_with_the_evidence() -> None:
    judge = SamePatient({"1": ObservedStudy("1", "P-1"), "2": ObservedStudy("2", "P-1")})
    assert decide("link", "prior", "2", [Anchor("1")], judge) == (
        "pass",
        "prior filed under patient P-1, current 1 under patient P-1: linked (expected link)",
    )
    status, reason = decide("no-link", "prior", "2", [Anchor("1")], judge)
    assert status == "fail" and reason.endswith(": linked (expected no-link)")
    assert decide("link", "prior", "2", [Anchor("1")], None)[0] == "not checked"
    assert decide("link", "prior", "2", [], judge)[0] == "not checked"
    blind = SamePatient({}, blind=True)
    assert decide("no-link", "prior", "2", [Anchor("1")], blind)[0] == "not checked"


def test_relation_reads_pairs_both_ways() -> None:
    judge = Relation(LinkPairs(frozenset({("1", "2"), ("3", "4")}), "sql db"))
    assert judge.linked("2", Anchor("1")) == (True, "sql db returned a pair with current 1")
    linked, why = judge.linked("3", Anchor("1"))
    assert linked is False and "(it linked the study to 4)" in why
    assert judge.linked("3", Anchor(patient_id="P"))[0] is None


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Manifest]]:
    out = tmp_path_factory.mktemp("links")
    result: dict[str, list[Manifest]] = {}
    for name in ("dual_output", "masc_ext_prior_pid_mismatch"):
        generate_one(ScenarioRequest(name, SMALL), out / name)
        found = sorted((out / name).rglob("manifest.json"))
        manifests = [Manifest.model_validate_json(p.read_text()) for p in found]
        # a split scenario: its datasets (``dual_output/current_study_only``), not the index
        result[name] = [m for m in manifests if "/" in m.dataset] or manifests
    return result


def test_anchors_cross_datasets_and_fall_back_to_the_patient(
    generated: dict[str, list[Manifest]],
) -> None:
    dual = generated["dual_output"]
    assert len(dual) == 2  # the external prior and the current in two datasets
    anchors = link_anchors(dual)
    current = next(s for m in dual for p in m.patients for s in p.studies if s.role == "current")
    external = next(
        s for m in dual for p in m.patients for s in p.studies if s.role == "external_prior"
    )
    assert anchors[external.study_instance_uid] == (Anchor(current.study_instance_uid),)
    (masc,) = generated["masc_ext_prior_pid_mismatch"]
    study = masc.patients[0].studies[0]
    assert anchors_of(masc)[study.study_instance_uid] == (Anchor(patient_id="MASC-4711"),)


def anchors_of(manifest: Manifest) -> dict[str, tuple[Anchor, ...]]:
    return link_anchors([manifest])


# ── whole runs (the memory target) ───────────────────────────────────────────────────────────


def test_same_patient_is_the_default_and_decides_every_link(tmp_path: Path) -> None:
    outcome = _run(tmp_path, "links-default")
    assert outcome.exit_code == EXIT_PASSED
    (result,) = outcome.results
    assert result.counts["links"] == result.counts["links_passed"] == 1
    assert result.counts["links_not_checked"] == 0


def test_links_none_is_counted_apart_and_strict_fails_it(tmp_path: Path) -> None:
    outcome = _run(tmp_path, "links-none", 'links = "none"\n')
    assert outcome.exit_code == EXIT_PASSED
    (result,) = outcome.results
    assert result.counts["links_not_checked"] == 1 and result.counts["links_passed"] == 0
    assert 'links = "none" on this target' in result.not_checked()[0]
    strict = _run(tmp_path, "links-strict", 'links = "none"\n', True)
    assert strict.exit_code == EXIT_FAILED
    (hard,) = strict.results
    assert any("a failure under --strict" in line for line in hard.failures())


def _relation(tmp_path: Path, script: str) -> str:
    program = tmp_path / "relation.py"
    program.write_text(script)
    return f'links = {{ kind = "command", command = ["{sys.executable}", "{program}"] }}\n'


def test_a_relation_that_links_everything_passes_link_and_fails_no_link(tmp_path: Path) -> None:
    everything = (
        "import json, sys\n"
        "uids = [line.strip() for line in sys.stdin if line.strip()]\n"
        "for a in uids:\n"
        "    for b in uids:\n"
        "        if a != b:\n"
        "            print(json.dumps({'study_uid': a, 'linked_study_uid': b}))\n"
    )
    outcome = _run(tmp_path, "links-all", _relation(tmp_path, everything), False, "bits_consistent")
    assert outcome.exit_code == EXIT_PASSED, [r.failures() for r in outcome.results]
    (result,) = outcome.results
    (verdict,) = [s for s in result.studies if s.expected_outcome == "link"]
    assert "returned a pair with current" in verdict.reason
    assert "links" in outcome.stages


def test_a_relation_without_pairs_fails_every_link_with_its_evidence(tmp_path: Path) -> None:
    nothing = "import sys\nsys.stdin.read()\n"
    outcome = _run(tmp_path, "links-nothing", _relation(tmp_path, nothing))
    assert outcome.exit_code == EXIT_FAILED
    (result,) = outcome.results
    assert result.counts["links_failed"] == result.counts["links"] == 1
    (line,) = [ln for ln in result.failures() if "prior study" in ln]
    assert "returned no pair with current" in line and "(expected link)" in line


def test_a_verifier_that_places_no_study_decides_no_link_verdict() -> None:
    """A verifier that finds the instances (with their study UIDs) but reports no study: the
    studies are stored, so "not in the index: not linked" would be a no-link pass nobody saw."""
    unplaced = SamePatient({}, found=frozenset({"1", "2"}))
    for outcome in ("link", "no-link"):
        status, reason = decide(outcome, "prior", "2", [Anchor("1")], unplaced)
        assert status == "not checked" and "shows no patient record" in reason
    # the current study is placed, the prior is not: still not decided
    half = SamePatient({"1": ObservedStudy("1", "P-1")}, found=frozenset({"1", "2"}))
    assert decide("no-link", "prior", "2", [Anchor("1")], half)[0] == "not checked"
    # and a prior placed while the current is found but not placed: neither
    other = SamePatient({"2": ObservedStudy("2", "P-1")}, found=frozenset({"1", "2"}))
    assert decide("no-link", "prior", "2", [Anchor("1")], other)[0] == "not checked"
