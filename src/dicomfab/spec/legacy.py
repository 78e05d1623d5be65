"""The predecessor's power-customize config → a dicomfab spec (plain data ``Spec`` accepts).

The old format (see docs/legacy-config.md for a worked example)::

    {"outputDir": "...",
     "current_study":   {"cancerous": false, "count": 4, "description": "...",
                         "images": [{"tags": {"PatientName": "Doe^John", "ViewPosition": "RCC"}}]},
     "internal_priors": [{same shape}, ...],
     "external_priors": [{same shape}, ...]}

Conversion rules:

- One patient. ``current_study`` becomes a study with role ``current``, each of ``internal_priors``
  role ``prior``, each of ``external_priors`` role ``external_prior``, in that order. Studies get
  no date unless their images give one (below): the planner dates priors -1y, -2y, … and external
  priors -1y3m, -2y3m, … before the current study.
- ``description`` → the study's ``description``; ``cancerous: true`` → ``pixels: {calcifications:
  true}`` on that study.
- Each study has one series of ``count`` instances (default: the number of images, or 4 when
  there are none). ``images[i]`` applies to instance ``i``; exactly one image with ``count`` > 1
  applies to every instance. More images than ``count`` is an error.
- An image's ``tags`` (a flat dict of DICOM keywords → values) become the instance's ``tags``,
  except these keys:

  ``ViewPosition`` laterality + view (``RCC``, ``LMLO``, …)
      → the instance's ``view`` (the IOD writes ImageLaterality, ViewPosition and the view code);
      a plain ``CC`` / ``MLO`` stays a tag.
  ``SOPInstanceUID``
      → the instance's ``sop_instance_uid`` (so the study record lists it too).
  ``PatientName``, ``PatientID``, ``PatientBirthDate``, ``PatientSex``
      → the patient's ``name``, ``id``, ``birth_date``, ``sex`` when *every* instance of *every*
      study gives the same value; otherwise they stay instance tags (that is how a PatientID
      mismatch is expressed, and instances that give none get the synthetic patient's value).
  ``StudyDescription``, ``AccessionNumber``, ``StudyInstanceUID``, ``StudyDate``, ``StudyID``
      → the study's ``description``, ``accession_number``, ``uid``, ``date``, ``study_id`` when
      every instance of that study gives the same value (a StudyDate only if it is a valid date,
      a StudyDescription only if it does not contradict ``description``); otherwise tags.
  ``Rows``, ``Columns``, ``BitsAllocated``, ``BitsStored``
      stay tags: the planner turns them into pixel options.
  ``HighBit``, ``PixelRepresentation``, ``SamplesPerPixel``
      without ``force_bits_mismatch``: dropped, they follow from the pixel options (the old tool
      clamped them too); a note says so when the value given was not the consistent one.
  ``skip_writing: true``            → instance ``skip_writing`` (listed in the record, no file)
  ``CustomFileName``                → instance ``file_name``
  ``force_bits_mismatch: true``     → instance ``permissive: true``: BitsAllocated, BitsStored,
                                      HighBit, … are written exactly as given
  ``force_raw_dicom: true``         → instance ``iod: mg-processing`` (For Processing)
  ``force_unsupported_dicom: true`` → instance ``iod: pdf`` (Encapsulated PDF)
  ``Private_gggg_eeee``             → ``(gggg,"DICOMFAB LEGACY",ee)`` with ``ee`` the low byte of
      ``eeee``: the old tool wrote private elements without a Private Creator, dicomfab always
      reserves one. The VR follows the value's type: text → LO (LT beyond 64 characters), integer
      → SL (SV beyond 32 bits), decimal → FD, a list of numbers → FD multi-valued, a list of texts
      → LO multi-valued, true/false → LO ``YES``/``NO``, null → empty LO; ``{vr, value}`` is kept.

  The special keys are accepted beside ``tags`` in the image object as well as inside it.
- ``outputDir`` is accepted and ignored: the command line's ``--output`` decides. dicomfab's own
  top-level fields ``name``, ``seed``, ``uid_root``, ``reference_date`` and ``defaults`` may be
  given beside the old keys. Any other key is an error naming its path and the nearest valid key;
  nothing is dropped silently. Unknown tag keywords are reported with their path in the old config.

``convert(data, warn=print)`` reports what does not carry over one to one (ignored outputDir,
added Private Creator, dropped derived bits attributes), one line each.

``export(spec)`` is the reverse, for what the old format can express: it plans the spec and writes
every instance's concrete values as old tags, returning ``(data, notes)``; anything the old format
cannot express raises ``SpecError`` with one issue per path (see docs/legacy-config.md, Export).
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any

from pydicom.datadict import keyword_for_tag

from dicomfab.errors import Issue, SpecError, shorten
from dicomfab.spec.names import component_problem
from dicomfab.spec.tags import parse_tag_key
from dicomfab.spec.views import VIEWS

Warn = Callable[[str], None]

LEGACY_KEYS = {"current_study", "internal_priors", "external_priors", "outputDir"}
#: dicomfab's own top-level fields, accepted beside the old keys
PASSTHROUGH_KEYS = ("name", "seed", "uid_root", "reference_date", "defaults", "version")
STUDY_KEYS = ("cancerous", "count", "description", "images")
SPECIAL_KEYS = (
    "skip_writing",
    "CustomFileName",
    "force_bits_mismatch",
    "force_raw_dicom",
    "force_unsupported_dicom",
)
IMAGE_KEYS = ("tags", *SPECIAL_KEYS)

LEGACY_CREATOR = "DICOMFAB LEGACY"
DEFAULT_COUNT = 4
RAW_IOD = "mg-processing"
UNSUPPORTED_IOD = "pdf"

ROLES = (
    ("current_study", "current"),
    ("internal_priors", "prior"),
    ("external_priors", "external_prior"),
)
PATIENT_LIFTS = {
    "PatientName": "name",
    "PatientID": "id",
    "PatientBirthDate": "birth_date",
    "PatientSex": "sex",
}
STUDY_LIFTS = {
    "StudyDescription": "description",
    "AccessionNumber": "accession_number",
    "StudyInstanceUID": "uid",
    "StudyDate": "date",
    "StudyID": "study_id",
}
_DERIVED_BITS = ("HighBit", "PixelRepresentation", "SamplesPerPixel")
_LEGACY_PRIVATE = re.compile(r"^Private_([0-9A-Fa-f]{4})_([0-9A-Fa-f]{4})$")
_MISSING = object()


def is_legacy(data: dict[str, Any]) -> bool:
    return bool(LEGACY_KEYS & set(data)) and "patients" not in data


def convert(data: Mapping[str, Any], warn: Warn | None = None) -> dict[str, Any]:
    """Convert an old power-customize config; raise ``SpecError`` listing every problem.

    ``warn`` is called once per conversion that is not one to one (see the module docstring)."""
    return _Converter(warn).run(data)


class _Converter:
    def __init__(self, warn: Warn | None) -> None:
        self.warn = warn
        self.issues: list[Issue] = []
        self.notes: list[str] = []

    def fail(self, path: str, message: str, suggestion: str | None = None) -> None:
        self.issues.append(Issue(path, message, suggestion))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # ------------------------------------------------------------------ top level
    def run(self, data: Mapping[str, Any]) -> dict[str, Any]:
        spec: dict[str, Any] = {}
        for key in data:
            if key in PASSTHROUGH_KEYS:
                spec[key] = data[key]
            elif key == "outputDir":
                self.note("outputDir is ignored: the output folder is the one given with --output")
            elif key not in LEGACY_KEYS:
                self.unknown(
                    str(key),
                    str(key),
                    (*LEGACY_KEYS, *PASSTHROUGH_KEYS),
                    "a power-customize config",
                )
        studies: list[dict[str, Any]] = []
        for key, role in ROLES:
            value = data.get(key)
            if value is None:
                continue
            if role == "current":
                if not isinstance(value, Mapping):
                    self.fail(key, "the current study is an object (count, images, …)")
                    continue
                studies.append(self.study(key, role, value))
                continue
            if not isinstance(value, list):
                self.fail(key, f"{key} is a list of studies")
                continue
            for index, item in enumerate(value):
                path = f"{key}[{index}]"
                if isinstance(item, Mapping):
                    studies.append(self.study(path, role, item))
                else:
                    self.fail(path, "a study is an object (count, images, …)")
        if self.issues:
            raise SpecError(self.issues)
        patient = self.lift_patient(studies)
        patient["studies"] = [self.finish_study(s) for s in studies]
        spec["patients"] = [patient]
        if self.warn is not None:
            for text in self.notes:
                self.warn(text)
        return spec

    def unknown(self, path: str, key: str, known: tuple[str, ...] | list[str], where: str) -> None:
        hits = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        self.fail(path, f"unknown key in {where}", hits[0] if hits else None)

    # ------------------------------------------------------------------ studies
    def study(self, path: str, role: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """The study's spec plus its instances (one series), before lifting."""
        study: dict[str, Any] = {"role": role}
        for key in data:
            if key not in STUDY_KEYS:
                self.unknown(f"{path}.{key}", str(key), STUDY_KEYS, "a study")
        cancerous = data.get("cancerous", False)
        if not isinstance(cancerous, bool):
            self.fail(f"{path}.cancerous", f"{shorten(cancerous)} is not true or false")
        elif cancerous:
            study["pixels"] = {"calcifications": True}
        description = data.get("description")
        if description is not None:
            if isinstance(description, str):
                study["description"] = description
            else:
                self.fail(f"{path}.description", f"{shorten(description)} is not a text")
        images = data.get("images")
        if images is None:
            images = []
        elif not isinstance(images, list):
            self.fail(f"{path}.images", "images is a list of objects, each with its tags")
            images = []
        count = data.get("count")
        if count is None:
            count = len(images) or DEFAULT_COUNT
        elif isinstance(count, bool) or not isinstance(count, int) or count < 0:
            self.fail(f"{path}.count", f"{shorten(count)} is not a number of images (0 or more)")
            count = len(images)
        elif len(images) > count:
            self.fail(f"{path}.count", f"{len(images)} images for count {count}")
        instances = [self.image(f"{path}.images[{i}]", image) for i, image in enumerate(images)]
        if len(instances) == 1 and count > 1:
            instances = [copy.deepcopy(instances[0]) for _ in range(count)]
        instances += [{"tags": {}} for _ in range(count - len(instances))]
        study["series"] = [{"count": count, "instances": instances}]
        return study

    def finish_study(self, study: dict[str, Any]) -> dict[str, Any]:
        series = study["series"][0]
        self.lift_study(study, series["instances"])
        instances = [
            {k: v for k, v in i.items() if not (k == "tags" and not v)} for i in series["instances"]
        ]
        while instances and not instances[-1]:
            instances.pop()
        series["instances"] = instances
        if not instances:
            del series["instances"]
        order = (
            "role",
            "date",
            "description",
            "accession_number",
            "study_id",
            "uid",
            "pixels",
            "series",
        )
        return {key: study[key] for key in order if key in study}

    # ------------------------------------------------------------------ images
    def image(self, path: str, data: Any) -> dict[str, Any]:
        """One image → one instance spec (tags, view, iod, …)."""
        if not isinstance(data, Mapping):
            self.fail(path, "an image is an object with its tags: {tags: {...}}")
            return {"tags": {}}
        for key in data:
            if key not in IMAGE_KEYS:
                self.unknown(f"{path}.{key}", str(key), IMAGE_KEYS, "an image")
        raw_tags = data.get("tags")
        if raw_tags is None:
            raw_tags = {}
        elif not isinstance(raw_tags, Mapping):
            self.fail(f"{path}.tags", "tags is an object of DICOM keywords → values")
            raw_tags = {}
        specials = {k: (f"{path}.{k}", data[k]) for k in SPECIAL_KEYS if k in data}
        tags: dict[str, Any] = {}
        for key, value in raw_tags.items():
            if key in SPECIAL_KEYS:
                specials[key] = (f"{path}.tags.{key}", value)
            else:
                tags[str(key)] = value
        instance: dict[str, Any] = {}
        self.specials(instance, specials)
        permissive = bool(instance.get("permissive"))
        breast = instance.get("iod") != UNSUPPORTED_IOD
        out: dict[str, Any] = {}
        for key, value in tags.items():
            tag_path = f"{path}.tags.{key}"
            if m := _LEGACY_PRIVATE.match(key):
                converted = self.private(tag_path, key, m, value)
                if converted is None:
                    continue
                new_key, new_value = converted
                if new_key in out:
                    self.fail(tag_path, f"{key} and another Private_ key both become {new_key}")
                out[new_key] = new_value
            elif key == "ViewPosition" and _is_view(value) and breast:
                instance["view"] = str(value).upper()
            elif key == "SOPInstanceUID" and isinstance(value, str | int) and value != "":
                instance["sop_instance_uid"] = str(value)
            elif key in _DERIVED_BITS and not permissive:
                self.drop_derived(tag_path, key, value, tags)
            else:
                try:
                    parse_tag_key(key)
                except SpecError as exc:
                    issue = exc.issues[0]
                    self.fail(tag_path, issue.message, issue.suggestion)
                    continue
                out[key] = value
        instance["tags"] = out
        return instance

    def specials(self, instance: dict[str, Any], specials: dict[str, tuple[str, Any]]) -> None:
        flags: dict[str, bool] = {}
        for key, (path, value) in specials.items():
            if key == "CustomFileName":
                problem = component_problem(value) if isinstance(value, str) else "is not text"
                if problem is None:
                    instance["file_name"] = value
                elif value is not None:
                    self.fail(path, f"{shorten(value)} is not a file name: it {problem}")
            elif not isinstance(value, bool):
                self.fail(path, f"{shorten(value)} is not true or false")
            else:
                flags[key] = value
        if flags.get("skip_writing"):
            instance["skip_writing"] = True
        if flags.get("force_bits_mismatch"):
            instance["permissive"] = True
        if flags.get("force_raw_dicom") and flags.get("force_unsupported_dicom"):
            path = specials["force_unsupported_dicom"][0]
            self.fail(path, "force_raw_dicom and force_unsupported_dicom exclude each other")
        elif flags.get("force_raw_dicom"):
            instance["iod"] = RAW_IOD
        elif flags.get("force_unsupported_dicom"):
            instance["iod"] = UNSUPPORTED_IOD

    def drop_derived(self, path: str, key: str, value: Any, tags: Mapping[str, Any]) -> None:
        expected: Any = {"PixelRepresentation": 0, "SamplesPerPixel": 1}.get(key)
        if key == "HighBit":
            stored = tags.get("BitsStored")
            expected = stored - 1 if isinstance(stored, int) else None
        if expected is None or value != expected:
            self.note(
                f"{path}: {key} {shorten(value)} dropped, it follows from the pixel options "
                "(add force_bits_mismatch: true to write it as given)"
            )

    def private(self, path: str, key: str, m: re.Match[str], value: Any) -> tuple[str, Any] | None:
        group, element = int(m[1], 16), int(m[2], 16)
        if group % 2 == 0:
            kw = keyword_for_tag((group << 16) | element)
            self.fail(
                path,
                f"group {group:04X} is even: {key} is not a private element",
                kw or f"({group:04X},{element:04X})",
            )
            return None
        offset = element & 0xFF
        new_key = f'({group:04X},"{LEGACY_CREATOR}",{offset:02X})'
        try:
            new_value = _private_value(value)
        except ValueError as exc:
            self.fail(path, str(exc))
            return None
        self.note(
            f"{path} → {new_key}: the old tool wrote private elements without a Private Creator; "
            f'dicomfab reserves a block for "{LEGACY_CREATOR}"'
        )
        return new_key, new_value

    # ------------------------------------------------------------------ lifting
    def lift_patient(self, studies: list[dict[str, Any]]) -> dict[str, Any]:
        patient: dict[str, Any] = {}
        instances = [i for s in studies for i in s["series"][0]["instances"]]
        for keyword, field in PATIENT_LIFTS.items():
            value = _common(instances, keyword)
            if value is _MISSING or not _liftable(field, value):
                continue
            patient[field] = str(value)
            for inst in instances:
                del inst["tags"][keyword]
        return patient

    def lift_study(self, study: dict[str, Any], instances: list[dict[str, Any]]) -> None:
        for keyword, field in STUDY_LIFTS.items():
            value = _common(instances, keyword)
            if value is _MISSING or not _liftable(field, value):
                continue
            if field in study and study[field] != str(value):
                continue  # e.g. StudyDescription contradicting the study's description
            study[field] = str(value)
            for inst in instances:
                del inst["tags"][keyword]


def _is_view(value: Any) -> bool:
    return isinstance(value, str) and value.upper() in VIEWS


def _common(instances: list[dict[str, Any]], keyword: str) -> Any:
    """The value every instance gives for ``keyword``, or _MISSING."""
    if not instances:
        return _MISSING
    values = [i["tags"].get(keyword, _MISSING) for i in instances]
    first = values[0]
    if first is _MISSING or any(v is _MISSING or v != first for v in values):
        return _MISSING
    return first


def _liftable(field: str, value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    if field in ("date", "birth_date"):
        return _is_date(str(value))
    if field == "sex":
        return value in ("F", "M", "O", "")
    return True


def _is_date(text: str) -> bool:
    for form in ("%Y-%m-%d", "%Y%m%d"):
        try:
            dt.datetime.strptime(text, form)
        except ValueError:
            continue
        return True
    return False


def _private_value(value: Any) -> Any:
    """A value for a private element the dictionary cannot know: ``{vr, value}``."""
    if isinstance(value, Mapping):
        if "vr" in value and set(value) <= {"vr", "value"}:
            return dict(value)
        raise ValueError("a private value is a text, number, list or {vr: .., value: ..}")
    if value is None:
        return {"vr": "LO", "value": None}
    if isinstance(value, bool):
        return {"vr": "LO", "value": "YES" if value else "NO"}
    if isinstance(value, int):
        return {"vr": "SL" if -(2**31) <= value < 2**31 else "SV", "value": value}
    if isinstance(value, float):
        return {"vr": "FD", "value": value}
    if isinstance(value, str):
        return {"vr": "LO" if len(value) <= 64 else "LT", "value": value}
    if isinstance(value, list):
        if not value:
            return {"vr": "LO", "value": None}
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            return {"vr": "FD", "value": [float(v) for v in value]}
        if all(isinstance(v, str) for v in value):
            return {"vr": "LO", "value": list(value)}
        raise ValueError("a list value holds only numbers or only texts")
    raise ValueError(f"{shorten(value)}: a private value is a text, number or list")


# =========================================================================== export

#: the dicomfab IODs the old format can name, and the image flag that selects each
EXPORT_IODS = frozenset(("mg-presentation", RAW_IOD, UNSUPPORTED_IOD))
_EXPORT_IOD_FLAGS = {RAW_IOD: "force_raw_dicom", UNSUPPORTED_IOD: "force_unsupported_dicom"}
_PIXEL_KEYWORDS = ("Rows", "Columns", "NumberOfFrames", "PhotometricInterpretation")
_BITS_KEYWORDS = ("BitsStored", "BitsAllocated")
_EXPORT_DATE_VRS = ("DA", "DT", "TM")
_CANNOT = "the old format cannot express "


def export(spec: Any) -> tuple[dict[str, Any], list[str]]:
    """A dicomfab spec → an old power-customize config (the reverse of ``convert``) and notes.

    Every instance is written with its concrete values (UIDs, dates, patient, view, …) as old
    ``tags``. Raise ``SpecError`` with one issue per thing the old format cannot express (more
    than one patient, another IOD, a transfer syntax, removed tags, sequences, …); ``notes`` lists
    what is lost but harmless (seed-derived values become fixed values, …)."""
    return _Exporter(spec).run()


class _Exporter:
    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.issues: dict[str, Issue] = {}
        self.notes: list[str] = []

    def cannot(self, path: str, what: str) -> None:
        self.issues.setdefault(f"{path}\0{what}", Issue(path, _CANNOT + what))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def run(self) -> tuple[dict[str, Any], list[str]]:
        from dicomfab.build.plan import make_plan
        from dicomfab.spec.models import InstanceSpec, SeriesSpec, StudySpec

        spec = self.spec
        self.check_structure()
        plan = make_plan(spec)  # an invalid spec raises its own SpecError
        if self.issues:
            raise SpecError(list(self.issues.values()))

        out: dict[str, Any] = {}
        patient = plan.patients[0]
        p_spec = spec.patients[0]
        by_role: dict[str, list[dict[str, Any]]] = {role: [] for _, role in ROLES}
        for study in patient.studies:
            s_spec = p_spec.studies[study.index] if p_spec.studies else StudySpec()
            series = study.series[0]
            se_spec = s_spec.series[0] if s_spec.series else SeriesSpec()
            images = []
            for inst in series.instances:
                i_spec = (
                    se_spec.instances[inst.index]
                    if inst.index < len(se_spec.instances)
                    else InstanceSpec()
                )
                chain: list[tuple[str, Any]] = [
                    ("defaults", spec.defaults),
                    (patient.path, p_spec),
                    (study.path, s_spec),
                    (series.path, se_spec),
                    (inst.path, i_spec),
                ]
                images.append(self.image(inst, s_spec, i_spec, chain))
            by_role[study.role].append(
                {
                    "description": study.description,
                    "cancerous": bool(s_spec.pixels and s_spec.pixels.calcifications),
                    "count": len(series.instances),
                    "images": images,
                }
            )
        if self.issues:
            raise SpecError(list(self.issues.values()))
        if by_role["current"]:
            out["current_study"] = by_role["current"][0]
        out["internal_priors"] = by_role["prior"]
        out["external_priors"] = by_role["external_prior"]

        roles = [s.role for s in patient.studies]
        if roles != sorted(roles, key=("current", "prior", "external_prior").index):
            self.note(
                "the studies are written in the old format's order: the current study, "
                "internal priors, external priors"
            )
        self.note(
            "UIDs, dates, accession numbers and patient details are written as fixed values "
            "(the seed and uid_root are not part of the old format); series UIDs, study times "
            "and pixel content are derived anew when the old config is read"
        )
        if spec.name != "power_customized_dataset":
            self.note(
                f"name {spec.name!r} is not part of the old format: the dataset folder becomes "
                "power_customized_dataset"
            )
        return out, list(self.notes)

    # ------------------------------------------------------------------ what cannot be said
    def check_structure(self) -> None:
        spec = self.spec
        self.check_level("defaults", spec.defaults, study_level=False)
        if len(spec.patients) != 1:
            self.cannot("patients", f"{len(spec.patients)} patients (only one)")
        for p_index, patient in enumerate(spec.patients):
            p_path = f"patients[{p_index}]"
            self.check_level(p_path, patient, study_level=False)
            currents = 0
            for s_index, study in enumerate(patient.studies):
                s_path = f"{p_path}.studies[{s_index}]"
                if study.role == "current":
                    currents += 1
                    if currents > 1:
                        self.cannot(f"{s_path}.role", "more than one current study")
                self.check_level(s_path, study, study_level=True)
                cancerous = bool(study.pixels and study.pixels.calcifications)
                if len(study.series) > 1:
                    self.cannot(f"{s_path}.series", "more than one series per study")
                for se_index, series in enumerate(study.series[:1]):
                    se_path = f"{s_path}.series[{se_index}]"
                    self.check_level(se_path, series, study_level=False, cancerous=cancerous)
                    for field in ("uid", "number", "description"):
                        if getattr(series, field) is not None:
                            self.cannot(f"{se_path}.{field}", f"a series {field}")
                    for i_index, inst in enumerate(series.instances):
                        i_path = f"{se_path}.instances[{i_index}]"
                        self.check_level(i_path, inst, study_level=False, cancerous=cancerous)
                        if inst.view is not None and "ViewPosition" in inst.tags:
                            self.cannot(f"{i_path}.tags.ViewPosition", "a view and a ViewPosition")

    def check_level(
        self, path: str, level: Any, study_level: bool, cancerous: bool = False
    ) -> None:
        from dicomfab.build import encoding
        from dicomfab.build.iods import registry as iod_registry
        from dicomfab.errors import TransferSyntaxError

        if level.iod is not None:
            found = iod_registry.find(level.iod)
            if found is not None and found.name not in EXPORT_IODS:
                self.cannot(f"{path}.iod", f"the {found.name} IOD (only mg, mg-processing, pdf)")
        if level.transfer_syntax is not None:
            try:
                ts = encoding.get(level.transfer_syntax)
            except TransferSyntaxError:
                ts = None  # the planner reports it
            if ts is not None and ts.uid != encoding.DEFAULT.uid:
                self.cannot(f"{path}.transfer_syntax", f"the transfer syntax {ts.name}")
        if level.remove_tags:
            self.cannot(f"{path}.remove_tags", "removed tags")
        pixels = level.pixels
        if pixels is not None:
            if pixels.pattern not in (None, "auto"):
                self.cannot(f"{path}.pixels.pattern", f"the pixel pattern {pixels.pattern}")
            if pixels.calcifications and not study_level:
                self.cannot(
                    f"{path}.pixels.calcifications",
                    "calcifications except per study (cancerous)",
                )
            elif pixels.calcifications is False and cancerous:
                self.cannot(
                    f"{path}.pixels.calcifications",
                    "an image without calcifications in a cancerous study",
                )
        for key, raw in level.tags.items():
            tag_path = f"{path}.tags.{key}"
            try:
                ref = parse_tag_key(key)
            except SpecError:
                continue  # the planner reports it
            if ref.is_private and ref.creator != LEGACY_CREATOR:
                self.cannot(
                    tag_path,
                    f'private elements of creator "{ref.creator}" (only "{LEGACY_CREATOR}")',
                )
            vr, value = _split_vr(raw)
            if (
                (vr or ref.vr) == "SQ"
                or (isinstance(value, list) and any(isinstance(v, Mapping) for v in value))
                or (isinstance(value, Mapping) and vr is None)
            ):
                self.cannot(tag_path, "sequences")

    # ------------------------------------------------------------------ images
    def image(
        self, inst: Any, study_spec: Any, inst_spec: Any, chain: list[tuple[str, Any]]
    ) -> dict[str, Any]:
        patient, study = inst.patient, inst.study
        tags: dict[str, Any] = {}
        if inst.view is not None:
            tags["ViewPosition"] = inst.view.name
        tags["SOPInstanceUID"] = inst.sop_instance_uid
        tags["PatientName"] = patient.name
        tags["PatientID"] = patient.patient_id
        if patient.birth_date is not None:
            tags["PatientBirthDate"] = _da(patient.birth_date)
        tags["PatientSex"] = patient.sex
        tags["StudyInstanceUID"] = study.uid
        tags["StudyDate"] = _da(study.date)
        if study_spec.time is not None:
            tags["StudyTime"] = study.time
        tags["StudyDescription"] = study.description
        tags["AccessionNumber"] = study.accession_number
        tags["StudyID"] = study.study_id
        tags.update(self.pixel_tags(inst))
        tags.update(self.spec_tags(inst, chain))

        image: dict[str, Any] = {"tags": tags}
        if inst.skip_writing:
            image["skip_writing"] = True
        if inst.file_name != f"{inst.sop_instance_uid}.dcm":
            image["CustomFileName"] = inst.file_name
        if inst.permissive:
            image["force_bits_mismatch"] = True
        flag = _EXPORT_IOD_FLAGS.get(inst.iod.name)
        if flag:
            image[flag] = True
        return image

    def pixel_tags(self, inst: Any) -> dict[str, Any]:
        """Rows, Columns, BitsAllocated, BitsStored, … where the pixel options differ from the
        IOD's defaults (the planner folds these tags back into pixel options)."""
        default = inst.iod.pixels
        if default is None:
            return {}
        pixels = inst.pixels
        out: dict[str, Any] = {}
        pairs: list[tuple[str, str]] = [
            ("Rows", "rows"),
            ("Columns", "columns"),
            ("BitsAllocated", "bits_allocated"),
            ("BitsStored", "bits_stored"),
            ("PhotometricInterpretation", "photometric"),
            ("NumberOfFrames", "frames"),
        ]
        for keyword, field in pairs:
            value = getattr(pixels, field)
            if value is None or value == getattr(default, field):
                continue
            if keyword in _BITS_KEYWORDS and inst.permissive:
                if not any(ref.keyword == keyword for ref in inst.tags):
                    self.cannot(
                        f"{inst.path}.pixels.{field}",
                        "pixel options beside force_bits_mismatch (set the tag instead)",
                    )
                continue
            out[keyword] = value
        return out

    def spec_tags(self, inst: Any, chain: list[tuple[str, Any]]) -> dict[str, Any]:
        """The instance's merged spec tags, in the old notation (keywords, Private_gggg_eeee)."""
        coerced = {ref.key: value for ref, value in inst.tags.items()}
        merged: dict[str, tuple[Any, Any]] = {}  # old key → (ref, raw value)
        for _, level in chain:
            for key, raw in level.tags.items():
                try:
                    ref = parse_tag_key(key)
                except SpecError:
                    continue
                if ref.is_private:
                    old_key = f"Private_{ref.group:04X}_{0x1000 | ref.element:04X}"
                else:
                    old_key = ref.keyword or key
                merged[old_key] = (ref, raw)
        out: dict[str, Any] = {}
        for old_key, (ref, raw) in merged.items():
            if old_key in _PIXEL_KEYWORDS or (old_key in _BITS_KEYWORDS and not inst.permissive):
                continue  # folded into the pixel options: written by pixel_tags
            if ref.is_private:
                vr, value = _split_vr(raw)
                try:
                    plain = _private_value(value)
                except ValueError:
                    plain = None
                out[old_key] = value if plain == {"vr": vr, "value": value} else raw
                continue
            done = coerced.get(ref.key)
            if done is not None and done.vr in _EXPORT_DATE_VRS and done.value is not None:
                out[old_key] = done.value  # relative dates resolved, YAML dates as text
            else:
                out[old_key] = raw
        return out


def _split_vr(raw: Any) -> tuple[str | None, Any]:
    if isinstance(raw, Mapping) and "vr" in raw and set(raw) <= {"vr", "value"}:
        return str(raw["vr"]).upper(), raw.get("value")
    return None, raw


def _da(value: dt.date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"
