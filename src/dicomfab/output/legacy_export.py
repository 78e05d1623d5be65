"""Writing a dicomfab spec back as the predecessor's power-customize config (the reverse of
:func:`dicomfab.studyspec.legacy.convert`): every instance with its concrete values, or one
issue per thing the old format cannot express."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from dicomfab.builder import transfer
from dicomfab.builder.iods import registry as iod_registry
from dicomfab.builder.plan import make_plan
from dicomfab.errors import Issue, SpecError, TransferSyntaxError
from dicomfab.studyspec.legacy import (
    CORRUPT_FRACTION,
    LEGACY_CREATOR,
    RAW_IOD,
    ROLES,
    UNSUPPORTED_IOD,
    private_value,
)
from dicomfab.studyspec.models import InstanceSpec, SeriesSpec, StudySpec
from dicomfab.studyspec.tags import parse_tag_key

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
            images = []
            for series in study.series:
                se_spec = s_spec.series[series.index] if s_spec.series else SeriesSpec()
                # several series, or one the spec names: its images say which (old wizard style)
                named = len(study.series) > 1 or any(
                    getattr(se_spec, f) is not None for f in ("uid", "number", "description")
                )
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
                    image = self.image(inst, s_spec, i_spec, chain)
                    if named:
                        image["tags"].update(
                            SeriesInstanceUID=series.uid,
                            SeriesNumber=series.number,
                            SeriesDescription=series.description,
                        )
                    images.append(image)
            by_role[study.role].append(
                {
                    "description": study.description,
                    "cancerous": _lesion(s_spec.pixels) is not None,
                    "count": len(images),
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
        if "external_prior" in roles and spec.records.external_priors == "list":
            self.note(
                "the old tool's records chain the external priors into prior_study_data "
                "(records: {external_priors: chain}), not into the external_priors list"
            )
        if roles != sorted(roles, key=("current", "prior", "external_prior").index):
            self.note(
                "the studies are written in the old format's order: the current study, "
                "internal priors, external priors"
            )
        self.note(
            "UIDs, dates, accession numbers and patient details are written as fixed values "
            "(the seed and uid_root are not part of the old format); study times, pixel content "
            "and the UID of a study's only series are derived anew when the old config is read"
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
                cancerous = _lesion(study.pixels) is not None
                for se_index, series in enumerate(study.series):
                    se_path = f"{s_path}.series[{se_index}]"
                    self.check_level(se_path, series, study_level=False, cancerous=cancerous)
                    for i_index, inst in enumerate(series.instances):
                        i_path = f"{se_path}.instances[{i_index}]"
                        self.check_level(
                            i_path, inst, study_level=False, cancerous=cancerous, instance=True
                        )
                        cut = inst.truncate_pixel_data
                        if cut is not None and cut != CORRUPT_FRACTION:
                            self.cannot(
                                f"{i_path}.truncate_pixel_data",
                                f"Pixel Data cut to another fraction than {CORRUPT_FRACTION}",
                            )
                        if inst.view is not None and "ViewPosition" in inst.tags:
                            self.cannot(f"{i_path}.tags.ViewPosition", "a view and a ViewPosition")

    def check_level(
        self,
        path: str,
        level: Any,
        study_level: bool,
        cancerous: bool = False,
        instance: bool = False,
    ) -> None:

        if level.iod is not None:
            found = iod_registry.find(level.iod)
            if found is not None and found.name not in EXPORT_IODS:
                self.cannot(f"{path}.iod", f"the {found.name} IOD (only mg, mg-processing, pdf)")
        if level.transfer_syntax is not None:
            try:
                ts = transfer.get(level.transfer_syntax)
            except TransferSyntaxError:
                ts = None  # the planner reports it
            if ts is not None and ts.uid != transfer.DEFAULT.uid:
                self.cannot(f"{path}.transfer_syntax", f"the transfer syntax {ts.name}")
        if level.remove_tags and not (instance and level.permissive and _no_pixel_data(level)):
            self.cannot(f"{path}.remove_tags", "removed tags (but Pixel Data: no_pixel_data)")
        pixels = level.pixels
        if pixels is not None:
            if pixels.pattern not in (None, "auto"):
                self.cannot(f"{path}.pixels.pattern", f"the pixel pattern {pixels.pattern}")
            if instance:
                pass  # an image's own `cancerous`
            elif _lesion(pixels) is not None and not study_level:
                self.cannot(
                    f"{path}.pixels.{_lesion_field(pixels)}",
                    "a lesion except per study or per image (cancerous)",
                )
            elif cancerous and (pixels.lesion == "none" or pixels.calcifications is False):
                self.cannot(
                    f"{path}.pixels.{_lesion_field(pixels)}",
                    "an image without a lesion in a cancerous study",
                )
            if _lesion(pixels) == "calcifications":
                self.note(
                    f"{path}.pixels: calcifications are written as cancerous, which the old "
                    "format (and dicomfab's import) draws as a spiculated mass"
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
        if _forced_bits(inst):
            image["force_bits_mismatch"] = True
        flag = _EXPORT_IOD_FLAGS.get(inst.iod.name)
        if flag:
            image[flag] = True
        study_cancerous = _lesion(study_spec.pixels) is not None
        own = inst.pixels.drawn_lesion() is not None
        if inst.iod.pixels is not None and own != study_cancerous:
            image["cancerous"] = own
        if inst.truncate_pixel_data is not None:
            image["force_corrupt_pixel"] = True
        if _no_pixel_data(inst_spec):
            image["no_pixel_data"] = True
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
            if keyword in _BITS_KEYWORDS and _forced_bits(inst):
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
            if old_key in _PIXEL_KEYWORDS or (old_key in _BITS_KEYWORDS and not _forced_bits(inst)):
                continue  # folded into the pixel options: written by pixel_tags
            if ref.is_private:
                vr, value = _split_vr(raw)
                try:
                    plain = private_value(value)
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


def _lesion(pixels: Any) -> str | None:
    """The lesion ``pixels`` (a level's PixelOptions, or None) asks for."""
    return None if pixels is None else pixels.drawn_lesion()


def _lesion_field(pixels: Any) -> str:
    """Where a level's lesion is set: ``lesion`` if given, else ``calcifications``."""
    return "lesion" if pixels.lesion is not None else "calcifications"


def _forced_bits(inst: Any) -> bool:
    """Whether a permissive instance is written ``force_bits_mismatch``: unless reading the old
    config back makes it permissive anyway (a Laterality tag, Pixel Data cut short) and no bits
    attribute is given as a tag."""
    if not inst.permissive:
        return False
    keywords = {ref.keyword for ref in inst.tags}
    if keywords & {*_BITS_KEYWORDS, "HighBit", "PixelRepresentation", "SamplesPerPixel"}:
        return True
    removed = any(ref.keyword == "PixelData" for ref in inst.remove)
    return not ("Laterality" in keywords or inst.truncate_pixel_data is not None or removed)


def _no_pixel_data(level: Any) -> bool:
    """``remove_tags: [PixelData]`` and nothing else: the old image's ``no_pixel_data``."""
    try:
        return [parse_tag_key(k).keyword for k in level.remove_tags] == ["PixelData"]
    except SpecError:
        return False


def _split_vr(raw: Any) -> tuple[str | None, Any]:
    if isinstance(raw, Mapping) and "vr" in raw and set(raw) <= {"vr", "value"}:
        return str(raw["vr"]).upper(), raw.get("value")
    return None, raw


def _da(value: dt.date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"
