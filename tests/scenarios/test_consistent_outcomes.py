"""The same defect gets the same outcome everywhere in the library (issue 13 §5).

Scenarios are grouped by the class of their defect — the file-level mutation that makes it, or
the change it declares — and every broken instance of one class must expect the class's one
outcome, whichever scenario it is in. A new scenario that breaks a file the same way and expects
something else fails here, naming both. The outcomes are severity-ordered
(accept < normalise < warn < exclude < quarantine < reject): a defect that strictly contains
another (no plane position at all ⊃ two missing) is never milder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from dicomfab import generate
from dicomfab.builder.plan_model import InstancePlan
from dicomfab.errors import SpecError
from dicomfab.output.generate import instance_relpath
from dicomfab.scenarios import compose, scenarios
from dicomfab.scenarios.compose import Composed, defect_files, finish, instance_expectations
from dicomfab.scenarios.generate import ScenarioRequest, generate_one
from dicomfab.scenarios.model import INSTANCE_OUTCOMES, Defect, Expectation, Scenario
from dicomfab.scenarios.profiles import load_profiles

SEVERITY = {outcome: rank for rank, outcome in enumerate(INSTANCE_OUTCOMES)}


Belongs = Callable[[Defect, InstancePlan], bool]


def _mutation(*names: str) -> Belongs:
    return lambda d, _i: d.mutation is not None and d.mutation.name in names


def _drops_positions(defect: Defect, _inst: InstancePlan | None = None) -> bool:
    mutation = defect.mutation
    return (
        mutation is not None
        and mutation.name == "functional_groups"
        and "PlanePositionSequence" in (mutation.args.get("drop") or {})
    )


_VIEWS = {"CC", "MLO", "ML", "LM", "LMO", "XCCL", "XCCM", "FB", "SIO", "AT"}


def _laterality_conflict(defect: Defect, inst: InstancePlan) -> bool:
    """After the defect, two laterality sources of the image name different sides: the image's
    side (ImageLaterality as written, else its view's), the series Laterality, and the side in
    a ViewPosition such as "RCC". A source left out or reading B ("both") on its own is not a
    conflict with a missing one — B beside a one-sided source is."""
    own = defect.tags.get("ImageLaterality", inst.view.laterality if inst.view else None)
    if "ImageLaterality" in defect.remove_tags:
        own = None
    sources = {own, defect.tags.get("Laterality")}
    position = defect.tags.get("ViewPosition")
    if isinstance(position, str) and position[:1] in ("R", "L") and position[1:] in _VIEWS:
        sources.add(position[:1])  # "RCC" names a side; "LM" (lateromedial) does not
    touched = {"ImageLaterality", "Laterality", "ViewPosition"} & {*defect.tags}
    return bool(touched) and len(sources - {None}) > 1


# defect class → (which defects belong to it, its one outcome, why)
CLASSES: dict[str, tuple[Belongs, str, str]] = {
    "garbled compressed codestream": (
        _mutation("corrupt_codestream"),
        "quarantine",
        "the header is valid, so a store takes the file; only decoding finds the fault",
    ),
    "file or Pixel Data cut short": (
        lambda d, i: (
            _mutation("truncate", "truncate_in", "pixel_data_short")(d, i)
            or i.truncate_pixel_data is not None  # the spec's own cut (power-customize files)
        ),
        "reject",
        "found without decoding (the file cannot be parsed to its end, or the length is short); "
        "catalogue A.6 / G.76",
    ),
    "plane positions missing": (
        _drops_positions,
        "warn",
        "slices still view in frame order; no volume from them (catalogue I.88)",
    ),
    "laterality conflict": (
        _laterality_conflict,
        "quarantine",
        "two sources disagree about the side: never guess (catalogue D.45)",
    ),
}


@cache
def _composed(name: str) -> Composed:
    return compose(scenarios()[name], {}, load_profiles())


def _members(klass: str) -> list[tuple[str, str, str, str]]:
    """(scenario, defect, file, expected outcome) of every broken instance of a class."""
    belongs = CLASSES[klass][0]
    found = []
    for name in sorted(scenarios()):
        composed = _composed(name)
        expected = instance_expectations(composed)
        for defect, broken in defect_files(composed):
            found += [
                (name, defect.at, instance_relpath(i), expected[instance_relpath(i)])
                for i in broken
                if belongs(defect, i)
            ]
    return found


@pytest.mark.parametrize("klass", sorted(CLASSES))
def test_one_defect_class_has_one_outcome_everywhere(klass: str) -> None:
    members = _members(klass)
    outcome, why = CLASSES[klass][1:]
    assert len(members) >= 2, f"{klass}: {members}"  # the class is not empty
    wrong = [f"{s} {at}: {got}" for s, at, _f, got in members if got != outcome]
    assert not wrong, f"{klass} is {outcome} everywhere ({why}); these differ: {wrong}"


def test_the_classes_catch_what_the_issue_names() -> None:
    members = {(s, at) for k in CLASSES for s, at, _f, _o in _members(k)}
    for named in [
        ("cu_corrupted_pixel_jpeg2000", "current.last"),
        ("pr_large_scale_shallow", "prior[2].last"),
        ("cu_corrupted_pixel", "current.last"),
        ("aachen_truncated_duplicates", "current.4"),
        ("truncated_file", "prior.last"),
        ("faulty_prior", "prior.all"),
        ("dbt_not_mpr_capable_geometry", "current.RCC"),
        ("dbt_functional_group_placement", "current.RMLO"),
        ("laterality_missing_or_conflicting", "current.LCC"),
        ("laterality_missing_or_conflicting", "current.LMLO"),
    ]:
        assert named in members, named
    assert ("laterality_missing_or_conflicting", "current.RCC") not in members  # missing ≠ conflict


def test_no_plane_position_at_all_is_never_milder_than_some_missing() -> None:
    drops: list[tuple[Any, str]] = []
    for name, scenario in sorted(scenarios().items()):
        if not any(_drops_positions(d) for d in scenario.defects):
            continue
        composed = _composed(name)
        expected = instance_expectations(composed)
        for defect, broken in defect_files(composed):
            if _drops_positions(defect) and defect.mutation is not None:
                which = defect.mutation.args["drop"]["PlanePositionSequence"]
                drops += [(which, expected[instance_relpath(i)]) for i in broken]
    every = [SEVERITY[o] for which, o in drops if which == "all"]
    some = [SEVERITY[o] for which, o in drops if which != "all"]
    assert every and some, drops
    assert min(every) >= max(some), drops


# ------------------------------------------------------------------ expectations per parameter


def test_a_when_case_replaces_the_outcomes_for_its_parameter_values() -> None:
    scenario = scenarios()["prior_missing_issuer_same_pid"]
    assert scenario.parameters["single_id_domain"].default is True
    declared = compose(scenario, {}, load_profiles())
    undeclared = compose(scenario, {"single_id_domain": False}, load_profiles())
    assert declared.expectation.studies == {"prior": "link"}
    assert undeclared.expectation.studies == {"prior": "no-link"}
    assert "candidate for a human" in undeclared.expectation.note
    assert not declared.expectation.when and not undeclared.expectation.when


def test_cases_lay_over_in_order_and_need_every_parameter() -> None:
    expect = Expectation.model_validate(
        {
            "instances": {"current.last": "reject"},
            "studies": {"prior": "link"},
            "when": [
                {"parameters": {"a": 1}, "studies": {"prior": "no-link"}, "default": "warn"},
                {"parameters": {"a": 1, "b": "x"}, "instances": {"current.last": "quarantine"}},
            ],
        }
    )
    assert expect.for_values({"a": 2, "b": "x"}).studies == {"prior": "link"}
    one = expect.for_values({"a": 1, "b": "y"})
    assert (one.default, one.studies, one.instances) == (
        "warn",
        {"prior": "no-link"},
        {"current.last": "reject"},
    )
    both = expect.for_values({"a": 1, "b": "x"})
    assert both.instances == {"current.last": "quarantine"} and both.default == "warn"


def test_a_case_naming_an_unknown_parameter_is_a_spec_error() -> None:
    scenario = scenarios()["prior_missing_issuer_same_pid"]
    data = scenario.model_dump()
    data["expect"]["when"] = [{"parameters": {"single_id_domian": False}}]
    bad = Scenario.model_validate(data)
    with pytest.raises(SpecError) as caught:
        compose(bad, {}, load_profiles())
    assert "expect.when[0].parameters.single_id_domian" in str(caught.value)
    data["expect"]["when"] = [
        {"parameters": {"single_id_domain": False}, "studies": {"prior[3]": "no-link"}}
    ]
    with pytest.raises(SpecError) as caught:
        compose(Scenario.model_validate(data), {}, load_profiles())  # the case does not match
    assert "expect.when[0].studies.prior[3]" in str(caught.value)


def test_the_manifest_records_the_expectation_of_the_values_given(tmp_path: Path) -> None:
    scenario = scenarios()["prior_missing_issuer_same_pid"]
    composed = compose(scenario, {"single_id_domain": False, "image_size": "small"})
    result = generate(
        composed.spec,
        tmp_path,
        workers=1,
        plan=composed.plan,
        finish=lambda root, manifest: finish(composed, root, manifest),
    )
    studies = {s.role: s.expectation for p in result.manifest.patients for s in p.studies}
    assert studies == {"current": "accept", "prior": "no-link"}


# ------------------------------------------------------------------ links through the record


@pytest.mark.parametrize(
    "name", ["external_prior_other_pid_issuer", "external_prior_unqualified_pid"]
)
def test_an_external_prior_linked_through_its_record_is_listed_there(
    tmp_path: Path, name: str
) -> None:
    """The link is expected because the current study's companion record lists the external
    prior (StudyInstanceUID, accession, PatientID as in its files): the cross-reference the
    catalogue (D.35) says allows linking, though the files' PatientIDs differ."""
    composed = compose(scenarios()[name], {"image_size": "small"}, load_profiles())
    assert composed.expectation.studies["external_prior"] == "link"
    result = generate_one(ScenarioRequest(name, {"image_size": "small"}), tmp_path)
    (patient,) = result.manifest.patients
    by_role = {s.role: s for s in patient.studies}
    current, external = by_role["current"], by_role["external_prior"]
    files = external.series[0].instances[0].attributes
    assert files["PatientID"] != current.series[0].instances[0].attributes["PatientID"]
    assert current.record is not None
    record = json.loads((result.path / current.record).read_text(encoding="utf-8"))
    (listed,) = record["external_priors"]
    assert listed["study_instance_uid"] == external.study_instance_uid
    assert listed["accession_number"] == external.accession_number
    assert listed["patient_id"] == files["PatientID"]
