"""UIDs and generated IDs belong to one dataset: its identity (``uid_namespace``, else a digest of
the spec) and its seed. Different specs never share one, whatever their seeds; the same spec and
seed give the same bytes; a pinned ``uid_namespace`` keeps them across edits."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from dicomfab import generate, make_plan, parse_spec
from dicomfab.builder.dataset import IMPLEMENTATION_CLASS_UID
from dicomfab.builder.plan_model import Plan
from dicomfab.builder.uids import UIDFactory, dataset_identity
from dicomfab.errors import SpecError
from dicomfab.output.manifest import Manifest
from dicomfab.scenarios import compose, params, scenarios
from dicomfab.scenarios.generate import ScenarioRequest, generate_one
from dicomfab.scenarios.profiles import load_profiles
from dicomfab.studyspec.uid import is_uid, uid_problem

# the three unrelated specs of the issue, all with the default seed
ISSUE_SPECS: list[dict[str, Any]] = [
    {},
    {"patients": [{"name": "Other^Person", "studies": [{"iod": "dx"}]}]},
    {"name": "third", "defaults": {"pixels": {"rows": 64, "columns": 64}}},
]
SMALL = {"rows": 64, "columns": 64}


def identifiers(plan: Plan) -> dict[str, set[str]]:
    """Every UID and generated ID of a plan, by kind."""
    return {
        "StudyInstanceUID": {s.uid for s in plan.studies},
        "SeriesInstanceUID": {se.uid for s in plan.studies for se in s.series},
        "SOPInstanceUID": {i.sop_instance_uid for i in plan.instances},
        "PatientID": {p.patient_id for p in plan.patients},
        "AccessionNumber": {s.accession_number for s in plan.studies},
    }


def plan_of(data: dict[str, Any], seed: int | None = None) -> Plan:
    return make_plan(parse_spec({**data, "seed": seed} if seed is not None else data))


def assert_disjoint(plans: list[Plan]) -> None:
    seen: dict[str, int] = {}
    for n, plan in enumerate(plans):
        for kind, values in identifiers(plan).items():
            for value in values:
                other = seen.setdefault(f"{kind}={value}", n)
                assert other == n, f"{kind} {value} is in datasets {other} and {n}"


def test_the_issue_specs_share_no_identifier() -> None:
    plans = [plan_of(spec) for spec in ISSUE_SPECS]
    assert_disjoint(plans)
    people = {(p.name, p.birth_date) for plan in plans for p in plan.patients}
    assert len(people) == 3  # never one generated person under two IDs


def test_different_specs_with_one_seed_are_disjoint() -> None:
    one = {"patients": [{"studies": [{}, {"role": "prior"}]}], "defaults": {"pixels": SMALL}}
    two = {**one, "patients": [{"studies": [{}, {"role": "prior"}]}, {}]}
    assert_disjoint([plan_of(one, seed=77), plan_of(two, seed=77)])


def _generated_uids(ds: Dataset) -> set[str]:
    """Every UID value in a data set (sequences included) that dicomfab generated."""
    found: set[str] = set()
    for element in ds.iterall():
        if element.VR == "UI" and element.value:
            values = element.value if element.VM > 1 else [element.value]
            found |= {str(v) for v in values if str(v).startswith("2.25.")}
    return found - {IMPLEMENTATION_CLASS_UID}


def test_written_files_of_two_specs_with_one_seed_share_no_uid(tmp_path: Path) -> None:
    """Every generated UID in the files (frame of reference and the like included)."""
    specs = [
        {"seed": 77, "defaults": {"pixels": SMALL}},
        {"seed": 77, "defaults": {"pixels": SMALL}, "patients": [{"name": "Other^Person"}]},
    ]
    uids: list[set[str]] = []
    for n, data in enumerate(specs):
        result = generate(parse_spec(data), tmp_path / str(n), workers=1)
        found: set[str] = set()
        for entry in result.manifest.instances():
            ds = pydicom.dcmread(result.path / entry.file)
            found |= _generated_uids(ds) | _generated_uids(ds.file_meta)
        assert len(found) > 4
        uids.append(found)
    assert uids[0].isdisjoint(uids[1])


def test_same_spec_and_seed_give_the_same_bytes(tmp_path: Path) -> None:
    spec = parse_spec({"seed": 5, "defaults": {"pixels": SMALL}})
    first = generate(spec, tmp_path / "a", workers=1)
    second = generate(spec, tmp_path / "b", workers=1)
    assert first.manifest.to_json() == second.manifest.to_json()
    for entry in first.manifest.instances():
        assert (first.path / entry.file).read_bytes() == (second.path / entry.file).read_bytes()


def test_the_manifest_records_the_identity_and_pinning_it_keeps_the_uids(tmp_path: Path) -> None:
    data: dict[str, Any] = {"seed": 3, "defaults": {"pixels": SMALL}}
    result = generate(parse_spec(data), tmp_path / "a", workers=1)
    recorded = Manifest.model_validate_json((result.path / "manifest.json").read_text())
    assert recorded.uid_namespace == dataset_identity(parse_spec(data))
    # edited (other rows), with the recorded identity pinned: the same UIDs and IDs
    edited = {**data, "defaults": {"pixels": {"rows": 96, "columns": 64}}}
    pinned = plan_of({**edited, "uid_namespace": recorded.uid_namespace})
    assert identifiers(pinned) == identifiers(plan_of(data))
    assert [p.name for p in pinned.patients] == [p.name for p in plan_of(data).patients]
    assert_disjoint([plan_of(edited), plan_of(data)])  # not pinned: an edit is another dataset


def test_a_pinned_namespace_keeps_uids_across_an_edit_and_the_seed_still_counts() -> None:
    base = {"uid_namespace": "site-a/phantoms", "defaults": {"pixels": {"rows": 64}}}
    edited = {**base, "defaults": {"pixels": {"rows": 128}}}
    assert identifiers(plan_of(base, seed=1)) == identifiers(plan_of(edited, seed=1))
    assert_disjoint([plan_of(base, seed=1), plan_of(base, seed=2)])
    other = {**base, "uid_namespace": "site-b/phantoms"}
    assert_disjoint([plan_of(base, seed=1), plan_of(other, seed=1)])


def test_the_digest_ignores_key_order_and_defaults_written_out() -> None:
    one = parse_spec({"name": "x", "defaults": {"pixels": {"rows": 64, "columns": 80}}})
    two = parse_spec(
        {
            "defaults": {"pixels": {"columns": 80, "rows": 64}, "tags": {}},
            "version": 1,
            "name": "x",
            "patients": [{}],
            "seed": 9,  # the seed is not part of the identity
        }
    )
    assert dataset_identity(one) == dataset_identity(two)
    assert len(dataset_identity(one)) <= 64


@pytest.mark.parametrize("bad", ["", "x" * 65, "tab\there"])
def test_uid_namespace_is_a_short_line_of_text(bad: str) -> None:
    assert parse_spec({"uid_namespace": "x" * 64}).uid_namespace == "x" * 64
    with pytest.raises(SpecError) as info:
        parse_spec({"uid_namespace": bad})
    assert info.value.issues[0].path == "uid_namespace"


@pytest.mark.parametrize("length", [8, 43, 44, 45, 46, 64, 65, 68, 120])
def test_named_uids_of_an_exact_length(length: int) -> None:
    factory = UIDFactory(11, namespace="n")
    uid = factory.named("x", length)
    assert len(uid) == length
    assert uid.startswith("2.25.")
    problem = uid_problem(uid)
    assert (problem is None) == (length <= 64), (uid, problem)
    assert factory.named("x", length) == uid  # derived, not random
    assert UIDFactory(12, namespace="n").named("x", length) != uid


@pytest.mark.parametrize("bad", ["${uid:x:3}", "${uid:x:300}", "${uuid:x:40}", "${num:x}"])
def test_a_uid_placeholder_of_impossible_size_is_refused(bad: str) -> None:
    factory = UIDFactory(1, namespace="n")
    with pytest.raises(SpecError) as info:
        params.render_uids({"a": [bad]}, lambda kind, name, n: factory.named(name, n))
    assert info.value.issues[0].path == bad


def test_uid_placeholders_render_inside_longer_text() -> None:
    factory = UIDFactory(1, namespace="n")
    out = params.render_uids(
        {"file_name": "${uid:a}_1.dcm", "uids": ["${uid:a}", "2.25.${uuid:a}"]},
        lambda kind, name, n: factory.named_hex(name) if kind == "uuid" else factory.named(name),
    )
    assert out["file_name"] == factory.named("a") + "_1.dcm"
    assert out["uids"] == [factory.named("a"), "2.25." + factory.named_hex("a")]


# ------------------------------------------------------------------ scenarios


def test_a_scenario_and_its_twin_share_a_namespace_set_by_its_parameters() -> None:
    scenario = scenarios()["bits_consistent"]
    first = compose(scenario, {}, load_profiles())
    assert first.spec.uid_namespace == first.twin.uid_namespace
    assert first.spec.uid_namespace is not None and len(first.spec.uid_namespace) <= 64
    again = compose(scenario, {}, load_profiles())
    assert identifiers(again.plan) == identifiers(first.plan)
    other = compose(scenario, {"patient.sex": "O"}, load_profiles())
    assert other.spec.uid_namespace != first.spec.uid_namespace
    assert_disjoint([first.plan, other.plan])


@pytest.mark.parametrize("name", ["duplicate_sop", "duplicate_sop_uid_different_content"])
def test_duplicate_sop_shares_a_uid_derived_from_the_seed(name: str) -> None:
    shared = []
    for seed in (2001, 7002):
        composed = compose(scenarios()[name], {}, load_profiles(), seed=seed)
        current = composed.plan.patients[0].studies[0].series[0].instances
        first, last = current[0].sop_instance_uid, current[-1].sop_instance_uid
        assert first == last and is_uid(first)  # still the defect: two images, one UID
        assert current[0].view != current[-1].view
        twin_plan = make_plan(composed.twin)  # the twin is clean: every UID its own
        twin_uids = [i.sop_instance_uid for i in twin_plan.instances]
        assert len(set(twin_uids)) == len(twin_uids)
        assert first not in twin_uids
        shared.append(first)
    assert shared[0] != shared[1]


def test_duplicate_sop_files_share_a_uid_that_changes_with_the_seed(tmp_path: Path) -> None:
    """The issue's case: the scenario's shared UID was fixed, so a target that kept the first
    run's data judged the second by it. Now each seed writes another shared UID."""
    shared = []
    for seed in (2001, 7002):
        result = generate_one(ScenarioRequest("duplicate_sop", seed=seed), tmp_path / str(seed))
        current = result.manifest.patients[0].studies[0].series[0].instances
        first, last = (pydicom.dcmread(result.path / e.file) for e in (current[0], current[-1]))
        assert first.SOPInstanceUID == last.SOPInstanceUID
        assert first.file_meta.MediaStorageSOPInstanceUID == first.SOPInstanceUID
        assert last.file_meta.MediaStorageSOPInstanceUID == first.SOPInstanceUID
        assert first.ImageLaterality != last.ImageLaterality  # two different images
        shared.append({str(pydicom.dcmread(result.path / e.file).SOPInstanceUID) for e in current})
    assert shared[0].isdisjoint(shared[1])


@pytest.mark.parametrize(
    ("name", "lengths"), [("uid_too_long", {68, 65}), ("uid_padding_space_or_bad_chars", {43})]
)
def test_invalid_uid_scenarios_keep_their_defect_with_derived_values(
    name: str, lengths: set[int]
) -> None:
    found = []
    for seed in (1, 2):
        composed = compose(scenarios()[name], {}, load_profiles(), seed=seed)
        twin_uids = {i.sop_instance_uid for i in make_plan(composed.twin).instances}
        built = [i.sop_instance_uid for i in composed.plan.instances]
        changed = [uid for uid in built if uid not in twin_uids]
        assert lengths <= {len(u) for u in changed}
        found.append(set(changed))
    assert found[0].isdisjoint(found[1])


def test_leading_zero_scenario_keeps_its_components_with_derived_uids() -> None:
    found = []
    for seed in (4, 5):
        composed = compose(
            scenarios()["uid_leading_zero_component"], {}, load_profiles(), seed=seed
        )
        uids = [i.sop_instance_uid for i in composed.plan.instances]
        zero = {u for u in uids if ".0042." in u or ".00727." in u}
        assert len(zero) == 2
        assert all("leading zero" in (uid_problem(u) or "") for u in zero), zero
        found.append(zero)
    assert found[0].isdisjoint(found[1])


def test_a_bare_number_where_a_uid_belongs_is_derived_too() -> None:
    found = []
    for seed in (1, 2):
        composed = compose(
            scenarios()["pr_tomosynthesis_ris_pacs_mismatch"], {}, load_profiles(), seed=seed
        )
        prior_first = composed.plan.patients[0].studies[1].series[0].instances[0]
        uid = next(v.value for r, v in prior_first.tags.items() if r.keyword == "SOPInstanceUID")
        assert len(uid) == 5 and uid.isdigit() and uid[0] != "0"
        assert prior_first.file_name == f"{uid}.dcm"
        found.append(uid)
    assert found[0] != found[1]


# ------------------------------------------------------------------ property: no collision


@st.composite
def small_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Random small specs within the schema, at plan level (no pixels are made)."""

    def study(role: str) -> dict[str, Any]:
        series = [
            {
                "iod": draw(st.sampled_from(["mg", "dx", "cr", "mr", "sc"])),
                "count": draw(st.integers(1, 3)),
            }
            for _ in range(draw(st.integers(0, 2)))
        ]
        out: dict[str, Any] = {"role": role}
        if series:
            out["series"] = series
        return out

    patients = []
    for _ in range(draw(st.integers(1, 2))):
        studies = [study("current")]
        studies += [study("prior") for _ in range(draw(st.integers(0, 1)))]
        patient: dict[str, Any] = {"studies": studies}
        if draw(st.booleans()):
            patient["name"] = draw(st.sampled_from(["Doe^Jane", "Roe^Ann", "Other^Person"]))
        patients.append(patient)
    spec: dict[str, Any] = {
        "name": draw(st.sampled_from(["power_customized_dataset", "a", "third"])),
        "seed": draw(st.integers(0, 2**32)),
        "defaults": {"pixels": {"rows": draw(st.integers(16, 96)), "columns": 64}},
        "patients": patients,
    }
    if draw(st.integers(0, 4)) == 0:
        spec["uid_root"] = draw(st.sampled_from(["1.2.3", "1.2.826.0.1.3680043.10.999.1234567"]))
    return spec


@pytest.mark.slow
def test_ten_thousand_random_datasets_share_no_uid() -> None:
    """10^4 datasets (DICOMFAB_UID_DATASETS to change it) from random small specs and seeds:
    no UID, PatientID or AccessionNumber is in two datasets (the same spec and seed drawn twice
    is one dataset)."""
    wanted = int(os.environ.get("DICOMFAB_UID_DATASETS", "10000"))
    owner: dict[str, tuple[str, int]] = {}  # identifier → (identity, seed) of its dataset
    datasets: set[tuple[str, int]] = set()
    started = time.perf_counter()

    @settings(
        max_examples=wanted + wanted // 10,  # a few draws repeat a spec and seed
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=small_specs())
    def one(data: dict[str, Any]) -> None:
        plan = make_plan(parse_spec(data))
        key = (plan.uid_namespace, plan.spec.seed)
        if key in datasets:
            return
        datasets.add(key)
        for kind, values in identifiers(plan).items():
            for value in values:
                first = owner.setdefault(f"{kind}={value}", key)
                assert first == key, f"{kind} {value} in two datasets: {first} and {key}"

    one()
    elapsed = time.perf_counter() - started
    print(f"{len(datasets)} datasets, {len(owner)} identifiers, {elapsed:.1f} s")
    assert len(datasets) >= wanted
