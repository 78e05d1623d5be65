"""What a dataset's manifest says about its files, for the result browser: each image's
patient, study, role (current / prior / external prior), view and laterality, and a readable
label for each study folder (so a tree shows more than UIDs)."""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath
from typing import Any

from dicomfab.output.manifest import Manifest, PatientEntry, StudyEntry

log = logging.getLogger(__name__)

ROLE_TEXT = {"current": "current", "prior": "prior", "external_prior": "external prior"}


def _date(value: str) -> str:
    """``20220315`` or ``2022-03-15`` as ``2022-03-15``."""
    digits = value.replace("-", "")
    if len(digits) == 8 and digits.isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return value


def patient_text(patient: PatientEntry) -> str:
    name = patient.name.replace("^", " ").strip() or "(no name)"
    return f"{name} ({patient.patient_id})" if patient.patient_id else name


def study_text(study: StudyEntry) -> str:
    role = ROLE_TEXT.get(study.role, study.role)
    parts = [role, _date(study.date), study.description]
    return " · ".join(p for p in parts if p)


def read_manifest(folder: Path) -> Manifest | None:
    path = folder / "manifest.json"
    if not path.is_file():
        return None
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("%s: not a dicomfab manifest (%s)", path, exc)
        return None


def labels(folder: Path) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """``(folders, images)`` keyed by the path relative to ``folder`` (a dataset folder):
    a study folder's label, and each listed file's image fields. Empty without a manifest."""
    manifest = read_manifest(folder)
    folders: dict[str, str] = {}
    images: dict[str, dict[str, Any]] = {}
    if manifest is None:
        return folders, images
    for patient in manifest.patients:
        who = patient_text(patient)
        for study in patient.studies:
            for series in study.series:
                for instance in series.instances:
                    parent = str(PurePosixPath(instance.file).parent)
                    folders.setdefault(parent, f"{who} · {study_text(study)}")
                    images[instance.file] = {
                        "patient_name": patient.name,
                        "patient_id": patient.patient_id,
                        "study_instance_uid": study.study_instance_uid,
                        "study_date": _date(study.date),
                        "study_description": study.description,
                        "role": study.role,
                        "series_description": series.description,
                        "modality": series.modality,
                        "iod": instance.iod,
                        "view": instance.view,
                        "laterality": instance.laterality,
                        "instance_number": instance.instance_number,
                    }
    return folders, images
