"""Scenario + parameters → the spec to build, its clean twin, and what to break after writing.

The clean twin is the same spec without the defects, built with the same seed and the same
``uid_namespace`` (derived from the scenario's name and parameter values): a scenario and its twin
differ in exactly the declared defects (``tests/scenarios`` checks that for every scenario).
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dicomfab.builder.plan import make_plan
from dicomfab.builder.plan_model import InstancePlan, Plan, StudyPlan
from dicomfab.builder.uids import UIDFactory, uid_name
from dicomfab.errors import Issue, SpecError, shorten_text
from dicomfab.output import direct
from dicomfab.output.files import digests, kept, write_bytes
from dicomfab.output.generate import instance_relpath
from dicomfab.output.manifest import Copies, Manifest, NotObservable
from dicomfab.output.paths import confined
from dicomfab.output.records import patient_records, planned_values, record_owner, record_text
from dicomfab.scenarios import mutations, params, selectors
from dicomfab.scenarios.library import base_spec
from dicomfab.scenarios.media import media_study_uids, write_media_part
from dicomfab.scenarios.model import COPY_JOIN, Defect, Expectation, Outcome, Parameter, Scenario
from dicomfab.scenarios.profiles import SiteProfile
from dicomfab.studyspec.loading import parse_spec
from dicomfab.studyspec.models import Spec
from dicomfab.studyspec.uid import uid_root_problem

_SETTINGS_FIELDS = ("iod", "transfer_syntax", "skip_writing", "file_name", "sop_instance_uid")

#: parameters every scenario has: they set the (first) patient's details
UNIVERSAL = {
    "patient.name": Parameter(description="PatientName, Family^Given (default: from the seed)"),
    "patient.id": Parameter(description="PatientID (default: from the seed)"),
    "patient.birth_date": Parameter(description="YYYY-MM-DD, or relative such as -62y"),
    "patient.sex": Parameter(description="PatientSex: F, M, O or empty"),
}
_PATIENT_FIELDS = {
    "patient.name": "name",
    "patient.id": "id",
    "patient.birth_date": "birth_date",
    "patient.sex": "sex",
}


def declared_parameters(scenario: Scenario) -> dict[str, Parameter]:
    """Every parameter of a scenario: the universal ones, its base's, then its own."""
    declared = dict(UNIVERSAL)
    if scenario.base:
        declared.update(base_spec(scenario.base).parameters)
    declared.update(scenario.parameters)
    return declared


@dataclass
class Composed:
    scenario: Scenario
    values: dict[str, Any]
    spec: Spec
    twin: Spec
    plan: Plan
    targets: list[tuple[Defect, list[InstancePlan], list[StudyPlan]]] = field(default_factory=list)
    expect: Expectation | None = None
    """the scenario's expectation for these parameter values (its ``when`` cases decided)"""

    @property
    def expectation(self) -> Expectation:
        return self.expect if self.expect is not None else self.scenario.expect


def deep_merge(base: Any, over: Any) -> Any:
    """Mappings merge key by key; lists merge item by item (extra items are appended)."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(over, list):
        merged = [deep_merge(b, o) for b, o in zip(base, over, strict=False)]
        return merged + copy.deepcopy(base[len(over) :]) + copy.deepcopy(over[len(base) :])
    return copy.deepcopy(over)


def _slot(spec: dict[str, Any], key: str, index: int) -> dict[str, Any]:
    items = spec.setdefault(key, [])
    while len(items) <= index:
        items.append({})
    node: dict[str, Any] = items[index]
    return node


def _study_node(spec: dict[str, Any], study: StudyPlan) -> dict[str, Any]:
    return _slot(_slot(spec, "patients", study.patient.index), "studies", study.index)


def _instance_node(spec: dict[str, Any], inst: InstancePlan) -> dict[str, Any]:
    series = _slot(_study_node(spec, inst.study), "series", inst.series.index)
    # list every instance of the series: a shorter list would make the series shorter
    _slot(series, "instances", len(inst.series.instances) - 1)
    return _slot(series, "instances", inst.index)


def _patch(node: dict[str, Any], defect: Defect) -> None:
    if defect.tags:
        node["tags"] = {**node.get("tags", {}), **defect.tags}
    if defect.remove_tags:
        node["remove_tags"] = [*node.get("remove_tags", []), *defect.remove_tags]
    if defect.pixels is not None:
        node["pixels"] = {**node.get("pixels", {}), **defect.pixels.model_dump(exclude_none=True)}
    if defect.content is not None:
        node["content"] = {
            **node.get("content", {}),
            **defect.content.model_dump(mode="json", exclude_none=True),
        }
    if defect.references is not None:
        node["references"] = [
            r if isinstance(r, str) else r.model_dump(exclude_none=True) for r in defect.references
        ]
    for name in _SETTINGS_FIELDS:
        value = getattr(defect, name)
        if value is not None:
            node[name] = value
    if defect.permissive:
        node["permissive"] = True


def _render_defect(
    defect: Defect,
    values: Mapping[str, Any],
    make_uid: params.UidMaker,
    where: str,
    placed: params.Placements,
) -> Defect:
    """The defect with its ``${param}`` and ``${uid:NAME}`` templates rendered, e.g.
    ``tags: {Rows: "${rows}"}``."""
    data = defect.model_dump(exclude_unset=True)
    try:
        rendered = params.render_uids(params.render(data, values, placed), make_uid)
    except SpecError as exc:
        raise SpecError(exc.issues, source=where) from None
    if rendered == data:
        return defect
    try:
        return Defect.model_validate(rendered)
    except ValidationError as exc:
        issues = [Issue(".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
        raise SpecError(issues, source=where) from None


def _has_spec_change(defect: Defect) -> bool:
    changes = (defect.pixels, defect.content, defect.references, defect.study_uid)
    return (
        bool(defect.tags or defect.remove_tags)
        or any(value is not None for value in changes)
        or any(getattr(defect, name) is not None for name in _SETTINGS_FIELDS)
    )


def scenario_seed(name: str, seed: int) -> int:
    """The seed a scenario is built with: ``seed`` mixed with the scenario's name, so that two
    scenarios never share UIDs or generated identities (their data can be merged into one
    folder and ingested together), while each stays reproducible from ``seed``."""
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def scenario_namespace(name: str, values: Mapping[str, Any]) -> str:
    """The ``uid_namespace`` a scenario is built with (its spec and its clean twin alike): the
    scenario's name and a digest of its resolved parameter values, so that other ``--set`` values
    give other UIDs and generated IDs, while the twin keeps every UID a defect does not change."""
    try:
        text = json.dumps(values, sort_keys=True, default=str, ensure_ascii=False)
    except TypeError:  # keys of mixed types cannot be sorted: their order is the YAML's
        text = json.dumps(values, default=str, ensure_ascii=False)
    digest = hashlib.sha256(f"{name}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"{name[:39]}:{digest[:24]}"


def _uid_maker(data: Mapping[str, Any]) -> params.UidMaker:
    """What ``${uid:NAME}`` becomes in this spec: a UID derived from its identity and seed."""
    root = data.get("uid_root")
    if not isinstance(root, str) or uid_root_problem(root):
        root = None  # parse_spec reports it
    factory = UIDFactory(int(data["seed"]), root, namespace=str(data["uid_namespace"]))

    def make(kind: str, name: str, length: int | None) -> str:
        if kind == "uuid":
            return factory.named_hex(name)
        if kind == "num":
            return factory.named_number(name, length or 1)
        return factory.named(name, length)

    return make


def compose(
    scenario: Scenario,
    overrides: Mapping[str, Any] | None = None,
    profiles: Mapping[str, SiteProfile] | None = None,
    *,
    seed: int | None = None,
    name: str | None = None,
) -> Composed:
    """Resolve parameters, merge the base spec, and apply the defects at their selectors."""
    base = base_spec(scenario.base) if scenario.base else None
    declared = {k: p.default for k, p in declared_parameters(scenario).items()}
    values = params.resolve(declared, overrides or {}, profiles or {})
    placed: params.Placements = {}  # where each parameter's value went: errors name it
    base_data = params.render(base.spec, values, placed) if base else {}
    data = deep_merge(base_data, params.render(scenario.spec, values, placed))
    for key, spec_field in _PATIENT_FIELDS.items():
        if values.get(key) is not None:
            _slot(data, "patients", 0)[spec_field] = values[key]
            placed[f"patients[0].{spec_field}"] = (key,)
    data["name"] = name or scenario.name
    data["seed"] = scenario_seed(scenario.name, seed if seed is not None else data.get("seed", 0))
    data.setdefault("uid_namespace", scenario_namespace(scenario.name, values))
    source = f"scenario {scenario.name}"
    if overrides:  # a bad value most likely came from the command line: say which
        sets = (f"--set {shorten_text(f'{k}={v}')}" for k, v in overrides.items())
        source += " (" + ", ".join(sets) + ")"
    make_uid = _uid_maker(data)
    try:
        data = params.render_uids(data, make_uid)
    except SpecError as exc:
        raise SpecError(exc.issues, source=source) from None
    try:
        twin = parse_spec(copy.deepcopy(data))
        twin_plan = make_plan(twin)
    except SpecError as exc:
        issues = params.blame(exc.issues, placed, overrides or {})
        raise SpecError(issues, source=source) from None

    targets: list[tuple[Defect, list[InstancePlan], list[StudyPlan]]] = []
    for i, raw_defect in enumerate(scenario.defects):
        in_defect: params.Placements = {}
        defect = _render_defect(raw_defect, values, make_uid, f"{source}: defects[{i}]", in_defect)
        try:
            selector = selectors.parse(defect.at)
            studies = selectors.studies(selector, twin_plan)
            instances = [] if selector.is_study else selectors.instances(selector, twin_plan)
        except selectors.SelectorError as exc:
            raise SpecError(Issue(f"defects[{i}].at", str(exc)), source=source) from None
        if defect.study_uid is not None and not selector.is_study:
            message = f"{shorten_text(defect.at)} selects instances: study_uid needs a study"
            raise SpecError(Issue(f"defects[{i}].study_uid", message), source=source)
        if _has_spec_change(defect):
            if selector.is_study:
                for study in studies:
                    node = _study_node(data, study)
                    _patch(node, defect)
                    if defect.study_uid is not None:
                        node["uid"] = defect.study_uid
            for inst in instances:
                _patch(_instance_node(data, inst), defect)
            for node_path in [s.path for s in studies if selector.is_study] + [
                inst.path for inst in instances
            ]:
                placed.update({f"{node_path}.{k}": names for k, names in in_defect.items()})
        targets.append((defect, instances, studies))
    if not any(_has_spec_change(defect) for defect, _, _ in targets):
        spec, plan = twin, twin_plan  # no defect changed the spec (84 of the library's 204)
    else:
        try:
            spec = parse_spec(data)
            plan = make_plan(spec)
        except SpecError as exc:
            issues = params.blame(exc.issues, placed, overrides or {})
            raise SpecError(issues, source=source) from None
    for key in scenario.expect.copies:
        copy_group(key, plan, source)
    _check_cases(scenario, values, plan, source)
    if scenario.media is not None:
        media_study_uids(scenario.media, plan, source)
    expect = scenario.expect.for_values(values)
    return Composed(scenario, values, spec, twin, plan, targets, expect)


def _check_cases(scenario: Scenario, values: Mapping[str, Any], plan: Plan, source: str) -> None:
    """Each ``expect.when`` case names parameters the scenario has and selectors that select,
    whether it matches these values or not (a typo must not wait for the other value)."""
    for i, case in enumerate(scenario.expect.when):
        for name in case.parameters:
            if name not in values:
                known = ", ".join(sorted(scenario.parameters)) or "none"
                issue = Issue(
                    f"expect.when[{i}].parameters.{shorten_text(name)}",
                    f"not a parameter of this scenario (its own: {known})",
                )
                raise SpecError(issue, source=source)
        for kind, keys in (("studies", case.studies), ("instances", case.instances)):
            for key in keys:
                try:
                    selector = selectors.parse(key)
                    if kind == "studies":
                        selectors.studies(selector, plan)
                    else:
                        selectors.instances(selector, plan)
                except selectors.SelectorError as exc:
                    path = f"expect.when[{i}].{kind}.{shorten_text(key)}"
                    raise SpecError(Issue(path, str(exc)), source=source) from None


def copy_group(key: str, plan: Plan, source: str = "") -> list[InstancePlan]:
    """The instances of one ``expect.copies`` group (``current.first+current.last``), in plan
    order; a :class:`SpecError` unless they are two or more instances sharing one SOP Instance
    UID."""
    path = f"expect.copies.{shorten_text(key)}"
    found: list[InstancePlan] = []
    for text in key.split(COPY_JOIN):
        try:
            selector = selectors.parse(text)
            chosen = selectors.instances(selector, plan)
        except selectors.SelectorError as exc:
            raise SpecError(Issue(path, str(exc)), source=source) from None
        found += [i for i in chosen if all(i is not f for f in found)]
    if len(found) < 2:
        message = f"names {len(found)} instance: join two or more selectors with {COPY_JOIN}"
        raise SpecError(Issue(path, message), source=source)
    uids = {i.sop_instance_uid for i in found}
    if len(uids) > 1:
        message = (
            f"the {len(found)} instances carry {len(uids)} SOP Instance UIDs: copies share one "
            "(give them the same sop_instance_uid in a defect)"
        )
        raise SpecError(Issue(path, message), source=source)
    studies = (study for patient in plan.patients for study in patient.studies)
    every = (i for study in studies for series in study.series for i in series.instances)
    return [i for i in every if any(i is f for f in found)]


# ------------------------------------------------------------------ after the files are written


def finish(composed: Composed, root: Path, manifest: Manifest) -> None:
    """Annotate the manifest, put studies on a medium, apply file mutations (to the files on
    the medium: the DICOMDIR names the intact files) and record changes."""
    # by file as planned (dicoms/…), not by SOP Instance UID: a scenario may give two files one
    # UID on purpose; the entries follow their files onto a medium
    by_file = {i.file: i for i in manifest.instances()}
    _annotate(composed, manifest)
    media = composed.scenario.media
    if media is not None:
        uids = media_study_uids(media, composed.plan, f"scenario {composed.scenario.name}")
        write_media_part(root, composed.plan, manifest, uids, junk=media.junk)
    rng = random.Random(f"{composed.spec.seed}/{composed.scenario.name}")
    with warnings.catch_warnings():  # broken files make pydicom warn: that is the point
        warnings.simplefilter("ignore")
        _break_files(composed, root, by_file, rng)
    if composed.scenario.datasets:
        _split(composed, root, manifest)
    entries = {s.study_instance_uid: (p, s) for p in manifest.patients for s in p.studies}
    records = sorted({s.record for p in manifest.patients for s in p.studies if s.record})
    for defect, _instances, studies in composed.targets:
        for study in studies:
            changes = dict(defect.record)
            if defect.record_keeps:
                planned = planned_values(*entries[study.uid])
                changes.update({name: planned[name] for name in defect.record_keeps})
            if changes:
                _patch_records(root, records, study.uid, changes)


def _break_files(
    composed: Composed, root: Path, by_file: dict[str, Any], rng: random.Random
) -> None:
    handed: set[Path] = set()  # rewritten through the background writer, maybe not yet on disk
    with direct.written():
        for defect, instances, _studies in composed.targets:
            if defect.mutation is None:
                continue
            for inst in instances:
                entry = by_file[_file(composed.plan, inst)]
                if not entry.written:
                    continue
                path = confined(root, entry.file)
                if path in handed:  # broken twice: the first result on disk before the next
                    direct.flush()
                    handed.clear()
                data = kept(entry.file)  # as written (generate_one kept them), else from disk
                data = path.read_bytes() if data is None else data
                ctx = mutations.MutationContext(rng, entry.sop_instance_uid)
                new = mutations.apply(defect.mutation.name, data, ctx, defect.mutation.args)
                if new is None:
                    path.unlink()
                    entry.written, entry.size = False, None
                    entry.header_blake3 = entry.pixel_blake3 = None
                else:
                    write_bytes(path, new)
                    handed.add(path)
                    digest = digests(new)
                    entry.size, entry.header_blake3 = digest.size, digest.header_blake3
                    entry.pixel_blake3 = digest.pixel_blake3


def _split(composed: Composed, root: Path, manifest: Manifest) -> None:
    """Move each study into the sub-dataset its selectors name (the predecessor's dual output:
    ``external_priors_only/`` and ``current_study_only/``), each with its own manifest; the
    top-level manifest keeps listing everything, with paths into the sub-datasets."""
    part_of: dict[str, str] = {}
    for part, texts in composed.scenario.datasets.items():
        for text in texts:
            for planned in selectors.studies(selectors.parse(text), composed.plan):
                part_of[planned.uid] = part
    part_records: dict[str, str] = {}  # StudyInstanceUID → a record written for a part
    for part in composed.scenario.datasets:
        part_manifest = manifest.model_copy(deep=True)
        part_manifest.dataset = f"{manifest.dataset}/{part}"
        for patient in part_manifest.patients:
            patient.studies = [
                s for s in patient.studies if part_of.get(s.study_instance_uid) == part
            ]
        part_manifest.patients = [p for p in part_manifest.patients if p.studies]
        for patient in part_manifest.patients:
            for entry in patient.studies:
                name = uid_name(entry.study_instance_uid)  # the study's folder (a safe name)
                for folder in ("dicoms", "jsons"):
                    confined(root, part, folder).mkdir(parents=True, exist_ok=True)
                if confined(root, "dicoms", name).exists():
                    confined(root, "dicoms", name).rename(confined(root, part, "dicoms", name))
                if entry.record and confined(root, entry.record).exists():
                    confined(root, entry.record).rename(confined(root, part, entry.record))
        for patient in part_manifest.patients:
            # a part without the patient's current study gets the record of its studies alone
            owner = record_owner(patient)
            if owner is not None and owner.record is None:
                owner.record = f"jsons/{uid_name(owner.study_instance_uid)}.json"
                text = record_text(patient_records(patient)[owner.study_instance_uid])
                confined(root, part, owner.record).write_text(text, "utf-8")
                part_records[owner.study_instance_uid] = f"{part}/{owner.record}"
        confined(root, part, "manifest.json").write_text(part_manifest.to_json(), "utf-8")
    for patient in manifest.patients:
        for entry in patient.studies:
            where = part_of.get(entry.study_instance_uid)
            if where is None:
                continue
            if entry.record:
                entry.record = f"{where}/{entry.record}"
            elif entry.study_instance_uid in part_records:
                entry.record = part_records[entry.study_instance_uid]
            for series in entry.series:
                for inst in series.instances:
                    inst.file = f"{where}/{inst.file}"
    for folder in ("dicoms", "jsons"):
        if (root / folder).exists() and not any((root / folder).iterdir()):
            (root / folder).rmdir()


def _built(plan: Plan, twin_inst: InstancePlan) -> InstancePlan:
    """The built instance at the twin instance's place."""
    study = plan.patients[twin_inst.patient.index].studies[twin_inst.study.index]
    return study.series[twin_inst.series.index].instances[twin_inst.index]


def _file(plan: Plan, twin_inst: InstancePlan) -> str:
    """The file (relative to the dataset) of the built instance at the twin instance's place."""
    return instance_relpath(_built(plan, twin_inst))


def _patch_records(root: Path, records: list[str], study_uid: str, changes: dict[str, Any]) -> None:
    """Change the fields of ``study_uid``'s entry wherever it is, in each of ``records``."""
    for name in records:
        path = confined(root, name)
        if not path.exists():
            continue
        record = json.loads(path.read_text(encoding="utf-8"))
        if _patch_record(record, study_uid, changes):
            path.write_text(record_text(record), "utf-8")


def _patch_record(record: dict[str, Any], study_uid: str, changes: dict[str, Any]) -> bool:
    changed = False
    if record.get("study_instance_uid") == study_uid:
        record.update(changes)
        changed = True
    prior = record.get("prior_study_data")
    if isinstance(prior, dict):
        changed = _patch_record(prior, study_uid, changes) or changed
    for external in record.get("external_priors") or []:
        changed = _patch_record(external, study_uid, changes) or changed
    return changed


def _annotate(composed: Composed, manifest: Manifest) -> None:
    scenario, plan, expect = composed.scenario, composed.plan, composed.expectation
    manifest.scenario = scenario.name
    study_outcome = {
        planned.uid: outcome
        for text, outcome in expect.studies.items()
        for planned in selectors.studies(selectors.parse(text), plan)
    }
    instance_outcome = instance_expectations(composed)
    copies = _copies(composed, manifest)
    study_mark: dict[str, NotObservable] = {}
    instance_mark: dict[str, NotObservable] = {}
    for text, mark in scenario.expect.unobservable().items():
        selector = selectors.parse(text)
        if selector.is_study:
            study_mark.update((s.uid, mark) for s in selectors.studies(selector, plan))
        else:
            found = selectors.instances(selector, plan)
            instance_mark.update((instance_relpath(i), mark) for i in found)
    defects: dict[str, list[dict[str, Any]]] = {}
    # a study-level defect (selector without .which) is a defect of every instance in it
    for defect, broken in defect_files(composed):
        for planned in broken:
            note = {"what": defect.what, "at": defect.at}
            if defect.mutation:
                note["mutation"] = defect.mutation.name
            defects.setdefault(instance_relpath(planned), []).append(note)
    for patient in manifest.patients:
        for study in patient.studies:
            study.expectation = study_outcome.get(study.study_instance_uid, expect.study_default)
            study.not_observable = study_mark.get(study.study_instance_uid)
            for series in study.series:
                for inst in series.instances:
                    inst.expectation = instance_outcome[inst.file]
                    inst.copies = copies.get(inst.file)
                    inst.not_observable = instance_mark.get(inst.file)
                    inst.defects = defects.get(inst.file, [])


def instance_expectations(composed: Composed) -> dict[str, Outcome]:
    """Each planned instance's file (as the manifest names it) → its expected outcome."""
    expect, plan = composed.expectation, composed.plan
    out: dict[str, Outcome] = {instance_relpath(i): expect.default for i in plan.instances}
    for text, outcome in expect.instances.items():
        out.update(
            (instance_relpath(i), outcome) for i in selectors.instances(selectors.parse(text), plan)
        )
    return out


def mutated_files(composed: Composed) -> set[str]:
    """The files (relative to the dataset, as planned) that a defect of ``composed`` mutates."""
    return {
        _file(composed.plan, inst)
        for defect, instances, _studies in composed.targets
        if defect.mutation is not None
        for inst in instances
    }


def defect_files(composed: Composed) -> list[tuple[Defect, list[InstancePlan]]]:
    """Each defect (rendered) with the built instances it breaks (a study-level defect: every
    instance of its studies)."""
    out = []
    for defect, targets, studies in composed.targets:
        everywhere = [i for study in studies for se in study.series for i in se.instances]
        out.append((defect, [_built(composed.plan, i) for i in targets or everywhere]))
    return out


def _copies(composed: Composed, manifest: Manifest) -> dict[str, Copies]:
    """Each file of an ``expect.copies`` group → its group and rule. The copies must differ in
    InstanceNumber as written (what the verifiers return to tell them apart)."""
    entries = {i.file: i for i in manifest.instances()}
    source = f"scenario {composed.scenario.name}"
    out: dict[str, Copies] = {}
    for key, rule in composed.scenario.expect.copies.items():
        files = [instance_relpath(i) for i in copy_group(key, composed.plan, source)]
        numbers = [entries[f].attributes.get("InstanceNumber") for f in files]
        if None in numbers or len(set(numbers)) < len(numbers):
            message = (
                f"the copies' InstanceNumbers {numbers} do not tell them apart: give each "
                "copy its own (tags: {InstanceNumber: N})"
            )
            raise SpecError(Issue(f"expect.copies.{shorten_text(key)}", message), source=source)
        out.update({f: Copies(group=key, rule=rule) for f in files})
    return out
