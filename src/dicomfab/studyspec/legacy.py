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
- ``description`` → the study's ``description``; ``cancerous: true`` → ``pixels: {lesion: mass}``
  on that study (a spiculated mass in the synthetic anatomy of every image: the predecessor took
  a mammogram with a lesion; calcifications are ``lesion: calcifications`` in a spec).
- ``type`` (the old wizard wrote ``external_screening`` on every external prior): one of
  ``STUDY_TYPES`` (``screening``, ``diagnostic``, each also with ``internal_`` / ``external_``
  in front, any case) is accepted and changes nothing — the list the study stands in decides its
  role — with a note; another value is an error naming the accepted ones.
- A study has ``count`` instances (default: the number of images, or 4 when there are none).
  ``images[i]`` applies to instance ``i``; exactly one image with ``count`` > 1 applies to every
  instance. More images than ``count`` is an error. The instances form one series per
  SeriesInstanceUID their images give (the old wizard gave one per view), in the order they first
  appear, with that ``uid`` and, when all its images agree, SeriesNumber and SeriesDescription as
  its ``number`` and ``description``; images without a (valid) SeriesInstanceUID share one series.
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
  ``StudyDescription``, ``AccessionNumber``, ``StudyInstanceUID``, ``StudyDate``,
  ``StudyTime``, ``StudyID``
      → the study's ``description``, ``accession_number``, ``uid``, ``date``, ``time``,
      ``study_id`` when every instance of that study gives the same value (a StudyDate or
      StudyTime only if valid, a StudyInstanceUID only if a valid UID, a StudyDescription only if
      it does not contradict ``description``); otherwise tags.
  ``SeriesInstanceUID``, ``SeriesNumber``, ``SeriesDescription``
      → the series' ``uid``, ``number``, ``description`` (see above).
  ``ImageLaterality``
      dropped when it is the view's laterality (the view writes it); otherwise a tag.
  ``Laterality``
      stays a tag, as given (the old wizard wrote ``R`` on every image, left views too). Beside
      ImageLaterality it breaks a Type 2C condition, so the instance becomes ``permissive`` (the
      manifest declares the fault); a note says so.
  ``Rows``, ``Columns``, ``BitsAllocated``, ``BitsStored``
      stay tags: the planner turns them into pixel options (on an instance made permissive for
      another reason than ``force_bits_mismatch``, BitsAllocated and BitsStored become its
      ``pixels`` options instead, as permissive writes bits tags as given). Whole numbers written
      as text (the old wizard's edited fields: ``"256"``) are read as numbers.
  ``HighBit``, ``PixelRepresentation``, ``SamplesPerPixel``
      without ``force_bits_mismatch``: dropped, they follow from the pixel options (the old tool
      clamped them too); a note says so when the value given was not the consistent one.
  ``skip_writing: true``            → instance ``skip_writing`` (listed in the record, no file)
  ``CustomFileName``                → instance ``file_name``
  ``force_bits_mismatch: true``     → instance ``permissive: true``: BitsAllocated, BitsStored,
                                      HighBit, … are written exactly as given
  ``force_raw_dicom: true``         → instance ``iod: mg-processing`` (For Processing)
  ``force_unsupported_dicom: true`` → instance ``iod: pdf`` (Encapsulated PDF)
  ``cancerous: true`` / ``false``   → instance ``pixels: {lesion: mass / none}`` where it differs
                                      from the study's ``cancerous`` (the old tool chose a
                                      template with a lesion per image)
  ``force_corrupt_pixel: true``     → instance ``truncate_pixel_data: 0.5`` and ``permissive``:
                                      native Pixel Data cut to half its length
  ``force_large_dims: true``        → Rows × Columns 8192 × 6144 (as cu_large_dimensions), unless
                                      the image's own Rows or Columns is above 4096 (the old
                                      presets wrote 8000 × 8000): those are kept
  ``no_pixel_data: true``           → instance ``remove_tags: [PixelData]`` and ``permissive``
                                      (the Image Pixel attributes stay; wins over
                                      force_corrupt_pixel)
  ``Private_gggg_eeee``             → ``(gggg,"DICOMFAB LEGACY",ee)`` with ``ee`` the low byte of
      ``eeee``: the old tool wrote private elements without a Private Creator, dicomfab always
      reserves one. The VR follows the value's type: text → LO (LT beyond 64 characters), integer
      → SL (SV beyond 32 bits), decimal → FD, a list of numbers → FD multi-valued, a list of texts
      → LO multi-valued, true/false → LO ``YES``/``NO``, null → empty LO; ``{vr, value}`` is kept.

  The special keys are accepted beside ``tags`` in the image object as well as inside it.
  A SOPInstanceUID, SeriesInstanceUID or StudyInstanceUID that is not a valid UID is written as
  given: its instance becomes ``permissive`` (noted, declared in the manifest).
- The spec gets ``records: {external_priors: chain}``: the companion record chains the external
  priors into ``prior_study_data`` with the internal priors, by date, as the old tool did.
- ``outputDir`` is accepted and ignored: the command line's ``--output`` decides. dicomfab's own
  top-level fields ``name``, ``seed``, ``uid_root``, ``reference_date`` and ``defaults`` may be
  given beside the old keys. Any other key is an error naming its path and the nearest valid key;
  nothing is dropped silently. Unknown tag keywords are reported with their path in the old config
(a near miss of a special key, ``force_corupt_pixel``, is pointed at that key).

``convert(data, warn=print)`` reports what does not carry over one to one (ignored outputDir,
added Private Creator, dropped derived bits attributes, an accepted study ``type``, a kept
Laterality, replaced Rows × Columns), one line each.

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
from dicomfab.studyspec.dates import time_problem
from dicomfab.studyspec.names import component_problem
from dicomfab.studyspec.tags import parse_tag_key
from dicomfab.studyspec.uid import is_uid, uid_problem
from dicomfab.studyspec.views import VIEWS

Warn = Callable[[str], None]

#: the note on a config's ``outputDir`` (the web UI words it for its own form: routes/spec.py)
OUTPUT_DIR_NOTE = "outputDir is ignored: the output folder is the one given with --output"
LEGACY_KEYS = {"current_study", "internal_priors", "external_priors", "outputDir"}
#: dicomfab's own top-level fields, accepted beside the old keys
PASSTHROUGH_KEYS = ("name", "seed", "uid_root", "reference_date", "defaults", "version")
STUDY_KEYS = ("cancerous", "count", "description", "type", "images")
#: the study ``type`` values accepted (the old wizard wrote ``external_screening`` on every
#: external prior); none changes anything: the list a study stands in decides its role
STUDY_TYPES = tuple(
    f"{where}{kind}"
    for where in ("", "internal_", "external_")
    for kind in ("screening", "diagnostic")
)
SPECIAL_KEYS = (
    "skip_writing",
    "CustomFileName",
    "force_bits_mismatch",
    "force_raw_dicom",
    "force_unsupported_dicom",
    "cancerous",
    "force_corrupt_pixel",
    "force_large_dims",
    "no_pixel_data",
)
IMAGE_KEYS = ("tags", *SPECIAL_KEYS)
#: ``force_corrupt_pixel``: the fraction of the native Pixel Data value that is written
CORRUPT_FRACTION = 0.5
#: ``force_large_dims``: Rows × Columns, as the cu_large_dimensions scenario makes them …
LARGE_DIMS = (8192, 6144)
#: … unless the image's own Rows or Columns is larger than this (already "very large")
LARGE_SIDE = 4096

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
    "StudyTime": "time",
    "StudyID": "study_id",
}
#: series attributes lifted to each series (see ``split_series``)
SERIES_LIFTS = {"SeriesNumber": "number", "SeriesDescription": "description"}
_UID_TAGS = ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID")
_BITS = {"BitsAllocated": "bits_allocated", "BitsStored": "bits_stored"}
_DERIVED_BITS = ("HighBit", "PixelRepresentation", "SamplesPerPixel")
#: Image Pixel numbers the old wizard wrote as text once edited ("256"): read as numbers
_NUMBERS = ("Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "NumberOfFrames")
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
                self.note(OUTPUT_DIR_NOTE)
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
        spec["records"] = {"external_priors": "chain"}  # the old tool's record layout
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
            cancerous = False
        elif cancerous:
            study["pixels"] = {"lesion": "mass"}
        if "type" in data:
            self.study_type(f"{path}.type", role, data["type"])
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
        instances = [
            self.image(f"{path}.images[{i}]", image, cancerous) for i, image in enumerate(images)
        ]
        if len(instances) == 1 and count > 1:
            instances = [copy.deepcopy(instances[0]) for _ in range(count)]
        instances += [{"tags": {}} for _ in range(count - len(instances))]
        study["series"] = [{"count": count, "instances": instances}]
        return study

    def study_type(self, path: str, role: str, value: Any) -> None:
        """The old wizard's study ``type``: accepted, no effect (noted); other values refused."""
        kind = value.lower() if isinstance(value, str) else None
        if kind not in STUDY_TYPES:
            hits = difflib.get_close_matches(str(value), STUDY_TYPES, n=1, cutoff=0.5)
            self.fail(
                path,
                f"{shorten(value)} is not a study type of the old wizard "
                f"({', '.join(STUDY_TYPES)})",
                hits[0] if hits else None,
            )
            return
        self.note(
            f'type "{kind}" is accepted and changes nothing: the list a study stands in '
            "(current_study, internal_priors, external_priors) decides its role"
        )
        where = "external_prior" if kind.startswith("external_") else "prior"
        if kind.startswith(("internal_", "external_")) and role != where:
            self.note(f"{path}: {kind} in a {role.replace('_', ' ')} study; its list wins")

    def finish_study(self, study: dict[str, Any]) -> dict[str, Any]:
        self.lift_study(study, study["series"][0]["instances"])
        study["series"] = self.split_series(study["series"][0]["instances"])
        order = (
            "role",
            "date",
            "time",
            "description",
            "accession_number",
            "study_id",
            "uid",
            "pixels",
            "series",
        )
        return {key: study[key] for key in order if key in study}

    def split_series(self, instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One series per SeriesInstanceUID the images give (in order of first appearance), with
        that ``uid`` and, where all its images agree, SeriesNumber and SeriesDescription as its
        ``number`` and ``description``; images without one (or with an invalid one, which then
        stays their tag) share one series whose UID is derived from the seed."""
        groups: dict[str | None, list[dict[str, Any]]] = {}
        for inst in instances:
            uid = inst["tags"].get("SeriesInstanceUID")
            key = uid if isinstance(uid, str) and is_uid(uid) else None
            groups.setdefault(key, []).append(inst)
        out = []
        for uid, members in groups.items():
            series: dict[str, Any] = {}
            if uid is not None:
                series["uid"] = uid
                for inst in members:
                    del inst["tags"]["SeriesInstanceUID"]
                for keyword, field in SERIES_LIFTS.items():
                    value = _common(members, keyword)
                    if field == "number" and isinstance(value, str) and value.isdigit():
                        value = int(value)
                    ok = isinstance(value, int) if field == "number" else isinstance(value, str)
                    if value is _MISSING or isinstance(value, bool) or not ok:
                        continue
                    series[field] = value
                    for inst in members:
                        del inst["tags"][keyword]
            kept = [{k: v for k, v in i.items() if not (k == "tags" and not v)} for i in members]
            while kept and not kept[-1]:
                kept.pop()
            series["count"] = len(members)
            if kept:
                series["instances"] = kept
            out.append(series)
        return out or [{"count": 0}]

    # ------------------------------------------------------------------ images
    def image(self, path: str, data: Any, study_cancerous: bool = False) -> dict[str, Any]:
        """One image → one instance spec (tags, view, iod, pixels, …)."""
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
        flags = self.specials(instance, specials, study_cancerous)
        if flags.get("force_large_dims"):
            self.large_dims(specials["force_large_dims"][0], tags)
        forced_bits = bool(flags.get("force_bits_mismatch"))
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
            elif key in _DERIVED_BITS and not forced_bits:
                self.drop_derived(tag_path, key, value, tags)
            else:
                try:
                    parse_tag_key(key)
                except SpecError as exc:
                    issue = exc.issues[0]
                    flag = difflib.get_close_matches(key, SPECIAL_KEYS, n=1, cutoff=0.8)
                    self.fail(tag_path, issue.message, flag[0] if flag else issue.suggestion)
                    continue
                out[key] = _number(value) if key in _NUMBERS else value
        view = instance.get("view")
        if view is not None and out.get("ImageLaterality") == VIEWS[view].laterality:
            del out["ImageLaterality"]  # the view writes it
        if self.needs_permissive(path, instance, out) and not forced_bits:
            # permissive writes BitsAllocated/BitsStored tags as given: keep them pixel options
            bits = {f: out.pop(k) for k, f in _BITS.items() if isinstance(out.get(k), int)}
            if bits:
                instance.setdefault("pixels", {}).update(bits)
        instance["tags"] = out
        return instance

    def needs_permissive(self, path: str, instance: dict[str, Any], tags: dict[str, Any]) -> bool:
        """Set ``permissive`` on an instance that must be written broken: a forced fault, a
        Laterality tag (the old wizard wrote ``R`` on every image: Type 2C, not allowed beside
        ImageLaterality) or a UID given that is not a valid one."""
        given = {k: str(tags[k]) for k in _UID_TAGS if isinstance(tags.get(k), str | int)}
        if "sop_instance_uid" in instance:
            given["SOPInstanceUID"] = instance["sop_instance_uid"]
        bad_uids = [k for k, v in given.items() if uid_problem(v)]
        for keyword in bad_uids:
            self.note(
                f"{path}.tags.{keyword} is not a valid UID; written as given (permissive), "
                "declared in the manifest"
            )
        if "Laterality" in tags:
            self.note(
                "Laterality is written as the old config gives it (the old wizard wrote R on "
                "every image, left views too); beside ImageLaterality it breaks a Type 2C "
                "condition, so those images are permissive and the manifest declares it"
            )
        if bad_uids or "Laterality" in tags:
            instance["permissive"] = True
        return bool(instance.get("permissive"))

    def large_dims(self, path: str, tags: dict[str, Any]) -> None:
        """``force_large_dims``: very large Rows × Columns — the image's own when one of them
        is beyond LARGE_SIDE (the old presets wrote 8000 × 8000), else LARGE_DIMS."""
        given = [_number(tags.get(k)) for k in ("Rows", "Columns")]
        if any(isinstance(v, int) and not isinstance(v, bool) and v > LARGE_SIDE for v in given):
            return
        rows, columns = LARGE_DIMS
        if any(v is not None for v in given):
            self.note(
                f"{path}: Rows × Columns {rows} × {columns} instead of "
                f"{tags.get('Rows')} × {tags.get('Columns')} (give Rows or Columns above "
                f"{LARGE_SIDE} to choose the size)"
            )
        tags["Rows"], tags["Columns"] = rows, columns

    def specials(
        self,
        instance: dict[str, Any],
        specials: dict[str, tuple[str, Any]],
        study_cancerous: bool = False,
    ) -> dict[str, bool]:
        """The special keys of one image → instance fields; returns the flags given."""
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
        cancerous = flags.get("cancerous")
        if cancerous is not None and cancerous != study_cancerous:
            instance["pixels"] = {"lesion": "mass" if cancerous else "none"}
        if flags.get("no_pixel_data"):
            instance["remove_tags"] = ["PixelData"]
            instance["permissive"] = True
            if flags.get("force_corrupt_pixel"):
                self.note(
                    f"{specials['force_corrupt_pixel'][0]}: no_pixel_data wins, there is no "
                    "Pixel Data left to cut"
                )
        elif flags.get("force_corrupt_pixel"):
            instance["truncate_pixel_data"] = CORRUPT_FRACTION
            instance["permissive"] = True
        return flags

    def drop_derived(self, path: str, key: str, value: Any, tags: Mapping[str, Any]) -> None:
        expected: Any = {"PixelRepresentation": 0, "SamplesPerPixel": 1}.get(key)
        if key == "HighBit":
            stored = _number(tags.get("BitsStored"))
            expected = stored - 1 if isinstance(stored, int) else None
        if expected is None or _number(value) != expected:
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
            new_value = private_value(value)
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


def _number(value: Any) -> Any:
    """A whole number written as text (the old wizard's edited fields are text) → int."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


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
    if field == "time":
        return time_problem(str(value).replace(":", "")) is None
    if field == "uid":
        return is_uid(value)  # an invalid one stays a tag of its (permissive) images
    return True


def _is_date(text: str) -> bool:
    for form in ("%Y-%m-%d", "%Y%m%d"):
        try:
            dt.datetime.strptime(text, form)
        except ValueError:
            continue
        return True
    return False


def private_value(value: Any) -> Any:
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
