"""Spec → plan: every patient, study, series and instance resolved to concrete values.

Planning is where a spec is checked as a whole: settings inherited level by level, dates resolved,
UIDs derived from the dataset's identity and the seed, tag keys and values checked against the
dictionary and their VR. Every problem is collected with its path, and all are raised together as
one ``SpecError``. A plan is plain data (``dicomfab.builder.plan_model``): building and writing it
cannot fail on the spec's account.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from dicomfab.builder import constraints, references, vendors
from dicomfab.builder import transfer as encoding
from dicomfab.builder.demographics import (
    accession_number,
    default_study_date,
    default_study_time,
    synthetic_patient,
)
from dicomfab.builder.iods import registry as iod_registry
from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.plan_model import (
    Concatenation,
    InstancePlan,
    PatientPlan,
    Plan,
    SeriesPlan,
    StudyPlan,
    modality_tag,
    tag_text,
)
from dicomfab.builder.transfer import TransferSyntax
from dicomfab.builder.uids import UIDFactory, dataset_identity, uid_name
from dicomfab.builder.vendors import Persona
from dicomfab.builder.vendors import header as vendor_header
from dicomfab.errors import Issue, SpecError, TransferSyntaxError, shorten
from dicomfab.studyspec.dates import parse_date, resolve_relative, time_problem
from dicomfab.studyspec.models import (
    Content,
    InstanceSpec,
    PatientSpec,
    PixelOptions,
    SeriesSpec,
    Settings,
    Spec,
    StudySpec,
)
from dicomfab.studyspec.tags import (
    CoercedValue,
    TagRef,
    ValueContext,
    coerce_value,
    parse_tag_key,
    text_problem,
)
from dicomfab.studyspec.views import VIEWS, View

# Image Pixel attributes given as tags steer the pixel generator instead of being written as-is
_PIXEL_TAGS = {
    "Rows": "rows",
    "Columns": "columns",
    "NumberOfFrames": "frames",
    "PhotometricInterpretation": "photometric",
}
# …and these, unless permissive (then they are written exactly as given: a bits mismatch)
_BITS_TAGS = {"BitsStored": "bits_stored", "BitsAllocated": "bits_allocated"}
_DERIVED_BITS_TAGS = ("HighBit", "PixelRepresentation", "SamplesPerPixel")
#: study fields written as text attributes, checked against their VR
_STUDY_TEXTS = {
    "description": "StudyDescription",
    "accession_number": "AccessionNumber",
    "study_id": "StudyID",
}

Chain = list[tuple[str, Settings]]
"""The settings levels that apply to one instance, shallow to deep, each with its spec path."""


def patient_entries(spec: Spec) -> list[tuple[int, PatientSpec]]:
    """Each ``patients`` entry with the index of its first patient (an entry stands for
    ``count`` patients, numbered on from the entries before it)."""
    out, start = [], 0
    for entry in spec.patients:
        out.append((start, entry))
        start += entry.count
    return out


def patient_count(spec: Spec) -> int:
    """How many patients ``spec`` describes (``count`` expanded)."""
    return sum(entry.count for entry in spec.patients)


def iter_patient_specs(
    spec: Spec, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, PatientSpec]]:
    """(index, entry) of patients ``start`` to ``stop`` (exclusive), ``count`` expanded lazily."""
    stop = patient_count(spec) if stop is None else stop
    for first, entry in patient_entries(spec):
        for index in range(max(start, first), min(stop, first + entry.count)):
            yield index, entry


class _Planner:
    def __init__(self, spec: Spec, *, remember_generated: bool = True) -> None:
        self.spec = spec
        # streaming plans remember only the study UIDs a spec sets (generated ones never repeat)
        self.remember_generated = remember_generated
        self.identity = dataset_identity(spec)  # once per plan: it digests the whole spec
        self.uids = UIDFactory(spec.seed, spec.uid_root, namespace=self.identity)
        self.issues: dict[str, Issue] = {}
        self.tag_paths: dict[TagRef, str] = {}  # where the last tags() call found each tag
        self.remove_paths: dict[TagRef, str] = {}  # …and each tag it removes
        self.pixel_tag_paths: dict[str, str] = {}  # pixel option → the tag folded into it
        self.reference_date = spec.reference_date or default_study_date(spec.seed)
        self.study_uids: dict[str, str] = {}  # each study UID → the path of its first study
        self.study_permissive: dict[str, bool] = {}  # study path → permissive there

    def fail(self, path: str, message: str, suggestion: str | None = None) -> None:
        self.issues.setdefault(f"{path}\0{message}", Issue(path, message, suggestion))

    # ------------------------------------------------------------------ levels
    def plan(self) -> Plan:
        patients = [self.patient(i, p) for i, p in iter_patient_specs(self.spec)]
        plan = Plan(self.spec, patients, self.identity)
        references.resolve(plan, self.fail)  # once every instance a reference may name exists
        self.raise_issues()
        return plan

    def raise_issues(self) -> None:
        if self.issues:
            raise SpecError(list(self.issues.values()))

    def resolved_patient(self, index: int, spec: PatientSpec) -> PatientPlan:
        """One patient, its references resolved (they never leave the patient); raises the
        ``SpecError`` of what it found wrong."""
        patient = self.patient(index, spec)
        references.resolve_instances(_patient_instances(patient), self.fail)
        self.raise_issues()
        return patient

    def patient(self, index: int, spec: PatientSpec) -> PatientPlan:
        path = f"patients[{index}]"
        studies = spec.studies or [StudySpec()]
        anchor = self.anchor_date(path, studies)
        name, patient_id, birth = synthetic_patient(self.identity, self.spec.seed, index, anchor)
        if spec.birth_date is not None:
            birth = self.date(f"{path}.birth_date", spec.birth_date, anchor) or birth
        plan = PatientPlan(
            index=index,
            path=path,
            name=spec.name if spec.name is not None else name,
            patient_id=spec.id if spec.id is not None else patient_id,
            birth_date=birth,
            sex=spec.sex if spec.sex is not None else "F",
            anatomy_seed=hash_seed(self.spec.seed, "anatomy", index),
        )
        permissive = bool(_inherit([("defaults", self.spec.defaults), (path, spec)], "permissive"))
        self.study_permissive.clear()  # read for this patient's studies only
        if spec.count > 1 and spec.id is not None and not permissive:
            self.fail(
                f"{path}.id",
                f"one PatientID for count {spec.count} patients: leave id out for generated IDs, "
                "or set permissive: true to share it on purpose",
            )
        for field_name, attribute in (("name", "PatientName"), ("id", "PatientID")):
            self.check_text(
                f"{path}.{field_name}", attribute, getattr(spec, field_name), permissive
            )
        nth_of_role: dict[str, int] = {}
        for s_index, study in enumerate(studies):
            nth = nth_of_role.get(study.role, 0)
            nth_of_role[study.role] = nth + 1
            chain: Chain = [("defaults", self.spec.defaults), (path, spec)]
            plan.studies.append(self.study(plan, s_index, study, anchor, nth, chain))
        self.check_study_dates(plan, spec, studies)
        return plan

    def check_study_dates(
        self, patient: PatientPlan, spec: PatientSpec, studies: list[StudySpec]
    ) -> None:
        """No study before the patient's birth, no prior after the (latest) current study."""
        currents = [s.date for s in patient.studies if s.role == "current"]
        latest = max(currents) if currents else None
        for study, study_spec in zip(patient.studies, studies, strict=True):
            if self.study_permissive.get(study.path):
                continue
            date_path = f"{study.path}.date"
            birth = patient.birth_date
            if birth is not None and study.date < birth:
                where = date_path if study_spec.date is not None else f"{patient.path}.birth_date"
                self.fail(
                    where,
                    f"the study date {study.date.isoformat()} is before the patient's birth date "
                    f"{birth.isoformat()} (set permissive: true to write it on purpose)",
                )
            if study.role != "current" and latest is not None and study.date > latest:
                self.fail(
                    date_path,
                    f"{_ROLE_NAMES[study.role]} dated {study.date.isoformat()} is after "
                    f"the current study ({latest.isoformat()}): a prior comes before it "
                    "(set permissive: true to write it on purpose)",
                )

    def check_text(self, path: str, keyword: str, value: str | None, permissive: bool) -> None:
        """A spec field written into the text attribute ``keyword`` follows its VR's rules
        (length, characters, one value), unless permissive."""
        if value is None or permissive:
            return
        if "\\" in value:
            self.fail(
                path,
                f"{keyword} has VM 1 (one value), but {shorten(value)} holds a backslash, "
                "which separates values; set permissive: true to write it on purpose",
            )
        elif problem := text_problem(parse_tag_key(keyword).vr or "LO", value):
            if "permissive" not in problem:
                problem += " (set permissive: true to write it on purpose)"
            self.fail(path, f"not a valid {keyword}: {problem}")

    def anchor_date(self, path: str, studies: list[StudySpec]) -> dt.date:
        """The patient's current-study date: what relative dates count from."""
        for index, study in enumerate(studies):
            if study.role == "current" and study.date is not None:
                found = self.date(f"{path}.studies[{index}].date", study.date, self.reference_date)
                return found or self.reference_date
        return self.reference_date

    def date(self, path: str, value: dt.date | str, anchor: dt.date) -> dt.date | None:
        try:
            return parse_date(value, anchor)
        except ValueError as exc:
            self.fail(path, str(exc))
            return None

    def study(
        self,
        patient: PatientPlan,
        index: int,
        spec: StudySpec,
        anchor: dt.date,
        nth: int,
        chain: Chain,
    ) -> StudyPlan:
        path = f"{patient.path}.studies[{index}]"
        permissive = bool(_inherit([*chain, (path, spec)], "permissive"))
        if spec.date is not None:
            date = self.date(f"{path}.date", spec.date, anchor) or anchor
        elif spec.role == "current":
            date = anchor
        elif spec.role == "prior":
            date = resolve_relative(f"-{nth + 1}y", anchor) or anchor
        else:
            date = resolve_relative(f"-{nth + 1}y3m", anchor) or anchor
        plan = StudyPlan(
            patient=patient,
            index=index,
            path=path,
            role=spec.role,
            date=date,
            time=self.study_time(path, spec, permissive),
            uid=spec.uid or self.uids.uid("study", patient.index, index),
            description=spec.description
            if spec.description is not None
            else _default_study_description(spec.role),
            accession_number=spec.accession_number
            if spec.accession_number is not None
            else accession_number(self.identity, self.spec.seed, path),
            study_id=spec.study_id if spec.study_id is not None else str(index + 1),
        )
        self.study_permissive[path] = permissive
        for field_name, keyword in _STUDY_TEXTS.items():
            self.check_text(f"{path}.{field_name}", keyword, getattr(spec, field_name), permissive)
        if spec.uid is not None or self.remember_generated:
            first = self.study_uids.setdefault(plan.uid, path)
        else:
            first = path
        if first != path and not permissive:
            self.fail(
                f"{path}.uid",
                f"{shorten(plan.uid)} is already the UID of {first}: each study needs its own "
                "(set permissive: true to write a duplicate on purpose)",
            )
        for se_index, series in enumerate(spec.series or [SeriesSpec()]):
            plan.series.append(self.series(plan, se_index, series, anchor, [*chain, (path, spec)]))
        return plan

    def study_time(self, path: str, spec: StudySpec, permissive: bool) -> str:
        if spec.time is None:
            return default_study_time(self.spec.seed, path)
        time = spec.time.replace(":", "").strip()
        head = time.ljust(6, "0")[:6]
        if permissive and not (head.isascii() and head.isdigit()):
            # the instances' content times count on from the study time
            self.fail(
                f"{path}.time",
                f"{shorten(spec.time)} cannot be written, not even with permissive: "
                "an invalid time must still start with digits (e.g. 25:00:00)",
            )
        elif not permissive and (problem := time_problem(time)):
            self.fail(
                f"{path}.time",
                f"{shorten(spec.time)}: {problem} "
                "(set permissive: true to write an invalid time on purpose)",
            )
        return time

    def series(
        self,
        study: StudyPlan,
        index: int,
        spec: SeriesSpec,
        anchor: dt.date,
        chain: Chain,
    ) -> SeriesPlan:
        path = f"{study.path}.series[{index}]"
        plan = SeriesPlan(
            study=study,
            index=index,
            path=path,
            number=spec.number if spec.number is not None else index + 1,
            uid=spec.uid or self.uids.uid("series", study.patient.index, study.index, index),
            description=spec.description if spec.description is not None else "",
        )
        chain = [*chain, (path, spec)]
        series_iod = self.iod(path, chain) or _fallback_iod()
        permissive = bool(_inherit(chain, "permissive"))
        self.check_text(f"{path}.description", "SeriesDescription", spec.description, permissive)
        if spec.number is not None:
            self.check_text(f"{path}.number", "SeriesNumber", str(spec.number), permissive)
        views = list(spec.views or [])
        if views and not (series_iod.breast or series_iod.breast_views):
            with_views = [t.name for t in iod_registry.templates() if t.breast or t.breast_views]
            self.fail(
                f"{path}.views",
                f"{series_iod.name} images have no mammography view "
                f"(IODs that take views: {', '.join(with_views)})",
            )
        count = spec.count
        if count is None:
            count = max(len(views), len(spec.instances)) or (
                len(series_iod.default_views) if series_iod.breast else 1
            )
        if not views and series_iod.breast:
            views = list(series_iod.default_views)
        if len(spec.instances) > count:
            self.fail(f"{path}.instances", f"{len(spec.instances)} instances for count {count}")
        for i in range(count):
            inst = spec.instances[i] if i < len(spec.instances) else InstanceSpec()
            view_name = inst.view or (views[i % len(views)] if views else None)
            inst_path = f"{path}.instances[{i}]"
            planned = self.instance(
                plan, i, inst, [*chain, (inst_path, inst)], view_name, anchor, series_iod
            )
            plan.instances.extend(self.concatenated(planned, [*chain, (inst_path, inst)]))
        self.check_file_names(plan)
        if not plan.description and plan.instances:
            plan.description = _default_series_description(plan.instances[0])
        return plan

    def iod(self, path: str, chain: Chain) -> IODTemplate | None:
        name = _inherit(chain, "iod") or iod_registry.DEFAULT
        found = iod_registry.find(name)
        if found is None:
            near = iod_registry.suggest(name)
            self.fail(
                constraints.set_at(chain, path, "iod"),
                f"unknown IOD {shorten(name)} (known: {', '.join(iod_registry.names())})",
                near,
            )
        return found

    def vendor(self, path: str, chain: Chain) -> Persona | None:
        """The vendor persona the chain names (None: the generic synthetic unit)."""
        name = _inherit(chain, "vendor")
        if name is None:
            return None
        found = vendors.find(name)
        if found is None:
            self.fail(
                constraints.set_at(chain, path, "vendor"),
                f"unknown vendor persona {shorten(name)} (known: {', '.join(vendors.names())})",
                vendors.suggest(name),
            )
        return found

    def instance(
        self,
        series: SeriesPlan,
        index: int,
        spec: InstanceSpec,
        chain: Chain,
        view_name: str | None,
        anchor: dt.date,
        series_iod: IODTemplate,
    ) -> InstancePlan:
        path = f"{series.path}.instances[{index}]"
        iod = series_iod
        if spec.iod is not None:
            iod = self.iod(path, chain) or series_iod
        permissive = bool(_inherit(chain, "permissive"))
        tags, remove = self.tags(chain, permissive, anchor)
        view = self.view(path, iod, spec, view_name, index, tags)

        persona = self.vendor(path, chain)
        if persona is not None and iod.name not in persona.iods:
            persona = None  # not this unit's IOD: generic equipment, no trace of the vendor
        defaults = iod.pixels or PixelOptions()
        if persona is not None and iod.pixels is not None:
            defaults = vendor_header.pixel_defaults(persona, iod.name, defaults)
        chosen = PixelOptions()
        for _, level in chain:
            chosen = chosen.merged(level.pixels)
        pixels = _sized(defaults, chosen.size).merged(chosen)
        pixels = self.fold_pixel_tags(path, tags, pixels, permissive)
        self.check_pixels(path, chain, iod, pixels)
        if not permissive:
            self.check_character_set(series, tags)
        self.check_removals(path, iod, remove, permissive)

        ts = self.transfer_syntax(path, chain, iod, pixels)
        sop_uid = spec.sop_instance_uid or self.uids.uid(
            "instance", series.study.patient.index, series.study.index, series.index, index
        )
        plan = InstancePlan(
            series=series,
            index=index,
            path=path,
            number=index + 1,
            iod=iod,
            view=view,
            tags=tags,
            remove=remove,
            pixels=pixels,
            transfer_syntax=ts,
            sop_instance_uid=sop_uid,
            file_name=spec.file_name or f"{uid_name(sop_uid)}.dcm",
            skip_writing=spec.skip_writing,
            permissive=permissive,
            uids=self.uids,
            quality=encoding.quality_psnr(_inherit(chain, "quality")) if ts.lossy else None,
            truncate_pixel_data=spec.truncate_pixel_data,
            vendor=persona,
        )
        plan.extended_offset_table = self.extended_offset_table(path, chain, iod, pixels, ts)
        self.derived_fields(plan, chain)
        constraints.check(plan, chain, self.tag_paths, self.fail)  # the IOD's and codec's limits
        if spec.truncate_pixel_data is not None:
            self.check_truncation(plan)
        return plan

    def concatenated(self, plan: InstancePlan, chain: Chain) -> list[InstancePlan]:
        """``plan`` as the parts of a Concatenation when its ``pixels.concatenation`` holds
        fewer frames than the object has (PS3.3 7.5.1, C.7.6.16); else ``[plan]``. Each part is
        an instance of its own (SOP Instance UID and file derived from the seed), with the same
        Instance Number; the spec's SOP Instance UID names the concatenation source."""
        per_part = plan.pixels.concatenation
        frames = plan.pixels.frames or 1
        if per_part is None or per_part >= frames:
            return [plan]
        if not plan.iod.concatenation:
            able = [t.name for t in iod_registry.templates() if t.concatenation]
            self.fail(
                self.pixel_path(chain, "concatenation", plan.path),
                f"{plan.iod.name} objects are not split into concatenations "
                f"(IODs that are: {', '.join(able)})",
            )
            return [plan]
        total = -(-frames // per_part)
        concatenation_uid = plan.uid("concatenation")
        parts = []
        for k in range(total):
            offset = k * per_part
            sop_uid = plan.uid(f"concatenation-instance-{k + 1}")
            stem, dot, ext = plan.file_name.rpartition(".")
            name = f"{uid_name(sop_uid)}.dcm"
            if plan.file_name != f"{uid_name(plan.sop_instance_uid)}.dcm":  # the spec named it
                name = f"{stem}-{k + 1}{dot}{ext}" if dot else f"{plan.file_name}-{k + 1}"
            parts.append(
                dataclasses.replace(
                    plan,
                    path=plan.path if k == 0 else f"{plan.path}.concatenation[{k}]",
                    sop_instance_uid=sop_uid,
                    file_name=name,
                    defects=list(plan.defects),
                    concatenation=Concatenation(
                        uid=concatenation_uid,
                        source_uid=plan.sop_instance_uid,
                        number=k + 1,
                        total=total,
                        frame_offset=offset,
                        frames=min(per_part, frames - offset),
                        total_frames=frames,
                    ),
                )
            )
        return parts

    def derived_fields(self, plan: InstancePlan, chain: Chain) -> None:
        """``references`` and ``content``: what a derived IOD refers to and says. Only derived
        IODs take them, and only the ``content`` fields their IOD reads."""
        specs = _inherit(chain, "references")
        content = Content()
        for _, level in chain:
            content = content.merged(level.content)
        iod = plan.iod
        if not iod.derived:
            if specs is not None:
                self.fail(
                    constraints.set_at(chain, plan.path, "references"),
                    f"{iod.name} instances refer to no other instance",
                    "an IOD that does (`dicomfab list iods`), or no references",
                )
            given = content.model_dump(exclude_none=True)
        else:
            given = {
                k: v
                for k, v in content.model_dump(exclude_none=True).items()
                if k not in iod.content_fields
            }
        for name in given:
            self.fail(
                constraints.set_at(chain, plan.path, "content") + f".{name}",
                f"{iod.name} reads no content.{name}",
                "content: {" + ", ".join(sorted(iod.content_fields)) + "}"
                if iod.content_fields
                else "no content",
            )
        if iod.derived and iod.check_content is not None:
            for name, problem, nearest in iod.check_content(content):
                self.fail(
                    constraints.set_at(chain, plan.path, "content") + f".{name}", problem, nearest
                )
        plan.reference_specs = specs
        plan.content = content

    def check_truncation(self, plan: InstancePlan) -> None:
        """``truncate_pixel_data`` cuts native Pixel Data short: permissive only, and only where
        there are native pixels to cut. Declared in the manifest like a broken constraint."""
        path = f"{plan.path}.truncate_pixel_data"
        fraction = plan.truncate_pixel_data or 0.0
        if plan.iod.pixels is None:
            self.fail(path, f"{plan.iod.name} images have no Pixel Data to cut")
        elif plan.transfer_syntax.compressed:
            self.fail(
                path,
                f"cuts native Pixel Data only, not the {plan.transfer_syntax.name} codestream",
                f"transfer_syntax: {encoding.DEFAULT.name}",
            )
        elif not plan.permissive:
            self.fail(
                path,
                "a Pixel Data value shorter than the image is invalid DICOM; set permissive: "
                "true to write it on purpose",
            )
        else:
            plan.defects.append(
                {"what": f"Pixel Data cut to {fraction:.0%} of its length", "at": path}
            )

    def view(
        self,
        path: str,
        iod: IODTemplate,
        spec: InstanceSpec,
        view_name: str | None,
        index: int,
        tags: dict[TagRef, CoercedValue],
    ) -> View | None:
        """The instance's mammography view: the one asked for, on an IOD that takes views; on
        a DX or CR image with Modality MG but no view, the view its ImageLaterality and
        ViewPosition tags name (so that the view codes, orientation and pixels agree with them),
        else the screening views in turn."""
        if view_name and (iod.breast or iod.breast_views):
            return VIEWS[view_name]
        if view_name and spec.view:
            self.fail(f"{path}.view", f"{iod.name} images have no mammography view")
        if iod.breast_views and modality_tag(tags) == "MG":
            laterality = tag_text(tags, "ImageLaterality") or ""
            named = laterality + (tag_text(tags, "ViewPosition") or "")
            if laterality and named.upper() in VIEWS:
                return VIEWS[named.upper()]
            return VIEWS[iod.default_views[index % len(iod.default_views)]]
        return None

    # ------------------------------------------------------------------ tags
    def tags(
        self, chain: Chain, permissive: bool, anchor: dt.date
    ) -> tuple[dict[TagRef, CoercedValue], list[TagRef]]:
        ctx = ValueContext(lambda text: resolve_relative(text, anchor), permissive)
        merged: dict[TagRef, tuple[Any, str]] = {}
        removed: dict[TagRef, str] = {}  # → the path of the remove_tags entry
        for level_path, level in chain:
            for key, raw in level.tags.items():
                ref = self.tag_ref(f"{level_path}.tags.{key}", key)
                if ref is not None:
                    merged[ref] = (raw, f"{level_path}.tags.{key}")
                    removed.pop(ref, None)
            for i, key in enumerate(level.remove_tags):
                ref = self.tag_ref(f"{level_path}.remove_tags[{i}]", key)
                if ref is not None:
                    removed[ref] = f"{level_path}.remove_tags[{i}]"
                    merged.pop(ref, None)
        out: dict[TagRef, CoercedValue] = {}
        self.tag_paths = {ref: path for ref, (_, path) in merged.items()}
        self.remove_paths = removed
        for ref, (raw, path) in merged.items():
            value = self.coerce(path, ref, raw, ctx)
            if value is not None:
                out[ref] = value
        return out, list(removed)

    def tag_ref(self, path: str, key: str) -> TagRef | None:
        try:
            return parse_tag_key(key)
        except SpecError as exc:
            issue = exc.issues[0]
            self.fail(path, issue.message, issue.suggestion)
            return None

    def coerce(self, path: str, ref: TagRef, raw: Any, ctx: ValueContext) -> CoercedValue | None:
        try:
            value = coerce_value(ref, raw, ctx)
        except (ValueError, TypeError, OverflowError) as exc:
            self.fail(path, f"invalid value {shorten(raw)}: {exc}")
            return None
        if value.vr == "SQ":
            items = []
            for n, item in enumerate(value.value):
                coerced_item: dict[TagRef, CoercedValue] = {}
                for key, sub in item.items():
                    sub_path = f"{path}[{n}].{key}"
                    sub_ref = self.tag_ref(sub_path, str(key))
                    if sub_ref is None:
                        continue
                    sub_value = self.coerce(sub_path, sub_ref, sub, ctx)
                    if sub_value is not None:
                        coerced_item[sub_ref] = sub_value
                items.append(coerced_item)
            return CoercedValue("SQ", items)
        return value

    def fold_pixel_tags(
        self, path: str, tags: dict[TagRef, CoercedValue], pixels: PixelOptions, permissive: bool
    ) -> PixelOptions:
        updates: dict[str, Any] = {}
        folded = dict(_PIXEL_TAGS)
        if not permissive:
            folded.update(_BITS_TAGS)
        where: dict[str, str] = {}  # reported where the tag is set, once for all instances
        self.pixel_tag_paths = where
        for ref in list(tags):
            tag_path = self.tag_paths.get(ref, f"{path}.tags.{ref.keyword}")
            if ref.keyword in folded and tags[ref].value is not None:
                updates[folded[ref.keyword]] = tags.pop(ref).value
                where[folded[ref.keyword]] = tag_path
            elif ref.keyword in _DERIVED_BITS_TAGS and not permissive:
                self.fail(
                    tag_path,
                    f"{ref.keyword} follows from the pixel options; set pixels.bits_stored, "
                    "or set permissive: true to write an inconsistent value on purpose",
                )
                tags.pop(ref)
        if not updates:
            return pixels
        try:
            return pixels.merged(PixelOptions(**updates))
        except ValidationError as exc:
            for err in exc.errors():
                tag_path = where.get(str(err["loc"][0]), f"{path}.tags")
                self.fail(tag_path, f"invalid value {shorten(err['input'])}: {err['msg']}")
            return pixels

    def check_character_set(self, series: SeriesPlan, tags: dict[TagRef, CoercedValue]) -> None:
        """Every text must be encodable in the SpecificCharacterSet the spec chose (without one,
        the builder declares UTF-8 for non-ASCII text)."""
        charset = next((r for r in tags if r.keyword == "SpecificCharacterSet"), None)
        if charset is None:
            return
        declared = tags[charset].value
        terms = [declared] if isinstance(declared, str) else list(declared or [])
        codecs = _python_codecs([str(t) for t in terms])
        if not codecs:
            return
        study, patient = series.study, series.study.patient
        texts = [
            (f"{patient.path}.name", patient.name),
            (f"{patient.path}.id", patient.patient_id),
            (f"{study.path}.description", study.description),
            (f"{study.path}.accession_number", study.accession_number),
            (f"{study.path}.study_id", study.study_id),
            (f"{series.path}.description", series.description),
        ]
        texts.extend(_tag_texts({r: (v, self.tag_paths.get(r, r.label)) for r, v in tags.items()}))
        for path, text in texts:
            bad = [c for c in text if not any(_encodes(c, codec) for codec in codecs)]
            if bad:
                self.fail(
                    path,
                    f"{shorten(text)} holds {shorten(bad[0])}, which the character set "
                    f"{shorten(declared)} (SpecificCharacterSet, set at "
                    f"{self.tag_paths.get(charset, 'tags')}) cannot encode; use ISO_IR 192 "
                    "(UTF-8), or set permissive: true to write it on purpose",
                )

    def check_pixels(self, path: str, chain: Chain, iod: IODTemplate, pixels: PixelOptions) -> None:
        if (pixels.frames or 1) > 1 and not iod.multiframe:
            self.fail(
                self.pixel_path(chain, "frames", path), f"{iod.name} is a single-frame IOD; use dbt"
            )
        low, high = iod.allowed_bits_stored
        if pixels.bits_stored is not None and not low <= pixels.bits_stored <= high:
            self.fail(
                self.pixel_path(chain, "bits_stored", path),
                f"{iod.name} holds {low}–{high} bits stored, not {pixels.bits_stored}",
            )
        if pixels.bits_allocated == 8 and (pixels.bits_stored or 8) > 8:
            self.fail(
                self.pixel_path(chain, "bits_allocated", path),
                "8 bits allocated hold at most 8 bits stored",
            )

    def pixel_path(self, chain: Chain, name: str, path: str) -> str:
        """Where the pixel option ``name`` was set: the tag folded into it, else the deepest
        level's ``pixels.<name>``."""
        return self.pixel_tag_paths.get(name) or constraints.set_at(chain, path, name, pixels=True)

    def check_removals(
        self, path: str, iod: IODTemplate, remove: list[TagRef], permissive: bool
    ) -> None:
        if permissive:
            return
        for ref in remove:
            if ref.keyword in iod.required:
                self.fail(
                    self.remove_paths.get(ref, f"{path}.remove_tags"),
                    f"{ref.keyword} is required by the {iod.title} IOD; "
                    "set permissive: true to leave it out on purpose",
                )

    def transfer_syntax(
        self, path: str, chain: Chain, iod: IODTemplate, pixels: PixelOptions
    ) -> TransferSyntax:
        name = _inherit(chain, "transfer_syntax")
        if name is None:
            return encoding.DEFAULT
        where = constraints.set_at(chain, path, "transfer_syntax")  # reported once, where set
        try:
            ts = encoding.get(name)
        except TransferSyntaxError as exc:
            self.fail(where, str(exc))
            return encoding.DEFAULT
        if ts.compressed and iod.native_only:
            self.fail(where, f"{iod.name} has no pixel data to compress")
        elif ts.compressed and iod.compressed_syntaxes and ts.name not in iod.compressed_syntaxes:
            self.fail(
                where,
                f"{iod.name} is written uncompressed or in {', '.join(iod.compressed_syntaxes)}, "
                f"not in {ts.name}",
                iod.compressed_syntaxes[0],
            )
        elif ts.compressed and (missing := ts.missing()):
            self.fail(where, missing)
        return ts  # what its codec can encode: constraints.check

    def extended_offset_table(
        self, path: str, chain: Chain, iod: IODTemplate, pixels: PixelOptions, ts: TransferSyntax
    ) -> bool:
        """Whether the instance's encapsulated Pixel Data gets an Extended Offset Table (and is
        written frame by frame): on request (``offset_table: extended``), or when its native
        pixels exceed what a Basic Offset Table's 32-bit offsets reach."""
        asked = _inherit(chain, "offset_table") == "extended"
        if iod.pixels is None or not ts.compressed:
            if asked:
                where = constraints.set_at(chain, path, "offset_table")
                self.fail(
                    where, "an offset table needs a compressed (encapsulated) transfer syntax"
                )
            return False
        bits = pixels.bits_allocated or (8 if (pixels.bits_stored or 12) <= 8 else 16)
        native = (pixels.rows or 512) * (pixels.columns or 512) * (pixels.frames or 1) * bits // 8
        extended = asked or native > encoding.BASIC_OFFSET_TABLE_REACH
        if extended and ts.lossy:
            self.fail(
                constraints.set_at(chain, path, "transfer_syntax"),
                f"{ts.name} is lossy: an object written frame by frame with an Extended Offset "
                "Table needs a lossless transfer syntax",
            )
        return extended

    def check_file_names(self, series: SeriesPlan) -> None:
        seen = {
            i.file_name: i.path for se in series.study.series[: series.index] for i in se.instances
        }
        for inst in series.instances:
            if inst.file_name in seen:
                self.fail(
                    f"{inst.path}.file_name",
                    f"{shorten(inst.file_name)} is already used by {seen[inst.file_name]}",
                )
            seen[inst.file_name] = inst.path


def _sized(defaults: PixelOptions, size: str | None) -> PixelOptions:
    """The IOD's default pixel options scaled to a size preset."""
    rows, columns = defaults.rows, defaults.columns
    if size in (None, "full") or rows is None or columns is None:
        return defaults
    factor = 0.5 if size == "reduced" else 256 / max(rows, columns)
    # 32 is the smallest side every codec takes (JPEG 2000 uses 6 resolution levels)
    scaled = {"rows": max(32, round(rows * factor)), "columns": max(32, round(columns * factor))}
    return defaults.model_copy(update=scaled)


_TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT"})


def _tag_texts(tags: dict[TagRef, tuple[CoercedValue, str]]) -> list[tuple[str, str]]:
    """(path, text) of every text value in ``tags``, sequence items included."""
    found: list[tuple[str, str]] = []
    for coerced, path in tags.values():
        if coerced.vr == "SQ":
            for n, item in enumerate(coerced.value or []):
                found.extend(_tag_texts({r: (v, f"{path}[{n}].{r.key}") for r, v in item.items()}))
        elif coerced.vr in _TEXT_VRS and coerced.value is not None:
            values = coerced.value if isinstance(coerced.value, list) else [coerced.value]
            found.extend((path, str(v)) for v in values)
    return found


def _python_codecs(terms: list[str]) -> list[str]:
    """Python codecs for SpecificCharacterSet terms; empty when one is unknown (not checked)."""
    import warnings

    from pydicom.charset import convert_encodings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:  # pydicom reads the default repertoire (ISO_IR 6) leniently as Latin-1: write ASCII
            return [c if c != "iso8859" else "ascii" for c in convert_encodings(terms or [""])]
        except (Warning, LookupError, ValueError):
            return []


def _encodes(char: str, codec: str) -> bool:
    try:
        char.encode(codec)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


_ROLE_NAMES = {"prior": "a prior", "external_prior": "an external prior"}


def _fallback_iod() -> IODTemplate:
    """Stand-in for an unknown IOD, so that planning goes on and reports every other problem."""
    found = iod_registry.find(iod_registry.DEFAULT)
    assert found is not None
    return found


def _inherit(chain: Chain, attribute: str) -> Any:
    value = None
    for _, level in chain:
        own = getattr(level, attribute)
        if own is not None:
            value = own
    return value


def hash_seed(*parts: object) -> int:
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _default_study_description(role: str) -> str:
    return {
        "current": "MAMMO SCREENING BILATERAL",
        "prior": "MAMMO SCREENING BILATERAL (PRIOR)",
        "external_prior": "MAMMO OUTSIDE PRIOR",
    }[role]


def _default_series_description(instance: InstancePlan) -> str:
    return instance.iod.title


def _patient_instances(patient: PatientPlan) -> list[InstancePlan]:
    return [i for s in patient.studies for se in s.series for i in se.instances]


def make_plan(spec: Spec) -> Plan:
    """Resolve a spec into a plan; raise ``SpecError`` listing every problem with its path."""
    return _Planner(spec).plan()


class PatientPlanner:
    """Plans patients one at a time, in any order (a worker plans only its own): what streaming
    generation uses instead of a whole :class:`Plan`. A patient plans exactly as in
    :func:`make_plan`; whole-spec checks are :func:`check_spec`'s."""

    def __init__(self, spec: Spec) -> None:
        self._planner = _Planner(spec, remember_generated=False)
        self.spec = spec
        self.uid_namespace = self._planner.identity
        self._entries = patient_entries(spec)
        self._firsts = [first for first, _ in self._entries]
        self.count = patient_count(spec)

    def entry(self, index: int) -> PatientSpec:
        at = bisect.bisect_right(self._firsts, index) - 1
        if at < 0:
            raise IndexError(index)
        return self._entries[at][1]

    def patient(self, index: int) -> PatientPlan:
        """Patient ``index`` (``count`` expanded), references resolved; ``SpecError`` if wrong."""
        if not 0 <= index < self.count:
            raise IndexError(index)
        self._planner.issues.clear()
        self._planner.study_uids.clear()
        return self._planner.resolved_patient(index, self.entry(index))

    def patients(self, start: int = 0, stop: int | None = None) -> Iterator[PatientPlan]:
        """Patients ``start`` to ``stop`` one at a time (the caller holds what it keeps)."""
        for index in range(start, self.count if stop is None else stop):
            yield self.patient(index)


def iter_patient_plans(spec: Spec) -> Iterator[PatientPlan]:
    """Every patient of ``spec`` planned one after the other, in bounded memory."""
    return PatientPlanner(spec).patients()


def check_spec(spec: Spec) -> list[int]:
    """Plan what a streaming generate must know is right before it writes anything: the first
    two patients of each entry (an entry's patients plan alike; the second shows what the
    first would share with it, e.g. a study UID), with the study UIDs the spec sets compared
    across entries. Raises the ``SpecError`` of every problem found; returns the number of
    instances of each patient of each entry (the same for all patients of one entry)."""
    planner = _Planner(spec, remember_generated=False)
    sizes = []
    for first, entry in patient_entries(spec):
        patients = [planner.patient(first + k, entry) for k in range(min(entry.count, 2))]
        for patient in patients:
            references.resolve_instances(_patient_instances(patient), planner.fail)
        sizes.append(len(_patient_instances(patients[0])) if patients else 0)
    planner.raise_issues()
    return sizes
