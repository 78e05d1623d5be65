"""Datasets → one ``merged_dataset``-style folder: ``dicoms/<StudyUID>/<file>``, ``jsons/*.json``
and a ``manifest.json`` that lists every source dataset's manifest.

Files are found through each dataset's top-level ``manifest.json`` (its ``file`` and ``record``
paths), so split datasets (``dual_output/{external_priors_only,current_study_only}``) merge whole.
The same destination path from two datasets with identical content (size and digests from the
manifests, else the bytes) is written once and reported as a duplicate; different content is a
conflict: every conflict is reported in one :class:`~dicomfab.errors.OutputError` and nothing is
written. One SOPInstanceUID under two paths is only a warning (some scenarios do it on purpose).
The folder is built in a hidden temporary folder beside ``target`` and renamed into place.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dicomfab.builder.uids import uid_name
from dicomfab.errors import OutputError
from dicomfab.output.atomic import atomic_folder
from dicomfab.output.manifest import InstanceEntry, Manifest
from dicomfab.output.paths import confined

MERGED_FORMAT = 1


class DatasetEntry(BaseModel):
    """One source dataset in a merged manifest: its folder name and its manifest, with every
    ``file`` and ``record`` path rewritten to the merged layout."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the source dataset's folder name")
    manifest: Manifest


class MergedManifest(BaseModel):
    """``manifest.json`` of a merged folder: the source manifests, in the order given."""

    model_config = ConfigDict(extra="forbid")

    format: int = MERGED_FORMAT
    kind: str = "merged"
    run_seed: int | None = Field(
        None, description="the seed of the run that made it (dicomfab run --seed replays it)"
    )
    datasets: list[DatasetEntry] = Field(default_factory=list)

    def instances(self) -> list[InstanceEntry]:
        return [i for d in self.datasets for i in d.manifest.instances()]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


@dataclass(frozen=True)
class Placement:
    """One file to put at ``dest`` (relative to the merged folder), taken from ``source``."""

    dest: str
    source: Path
    dataset: str
    digest: tuple[int, str, str | None] | None = None  # size, header, pixel digests if known


@dataclass(frozen=True)
class Duplicate:
    dest: str
    first: Path
    second: Path


@dataclass(frozen=True)
class Conflict:
    dest: str
    first: Path
    second: Path

    def __str__(self) -> str:
        return f"{self.dest}: {self.first} differs from {self.second}"


@dataclass(frozen=True)
class SameUid:
    """One SOPInstanceUID written under two different paths of the merged folder."""

    sop_instance_uid: str
    first: str
    second: str


@dataclass
class MergePlan:
    """What a merge would do: the files to place, and what it found on the way."""

    manifest: MergedManifest
    files: dict[str, Placement] = field(default_factory=dict)
    duplicates: list[Duplicate] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    same_uid: list[SameUid] = field(default_factory=list)


@dataclass(frozen=True)
class MergeResult:
    path: Path
    manifest: MergedManifest
    files: int  # DICOM files in the merged folder
    records: int  # companion records in the merged folder
    bytes: int  # bytes of both
    duplicates: list[Duplicate]
    conflicts: list[Conflict]  # always empty: a merge with conflicts raises
    same_uid: list[SameUid]


def _load_manifest(folder: Path) -> Manifest:
    path = folder / "manifest.json"
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise OutputError(f"cannot read {path}: {exc.strerror}") from exc
    except ValidationError as exc:
        raise OutputError(f"{path} is not a dicomfab manifest: {exc}") from exc


def merged_file_path(study_uid: str, file: str) -> str:
    """``dicoms/<StudyUID>/<file>`` for a manifest ``file`` path, whatever folder it is in. A path
    outside ``dicoms/`` (the media layout's ``DICOM/PT000000/ST000000/SE000000/IM000000``) keeps
    all its components, joined by ``_``: the series folders tell files of the same name apart."""
    parts = PurePosixPath(file).parts
    if "dicoms" in parts:
        return str(PurePosixPath("dicoms", *parts[parts.index("dicoms") + 1 :]))
    return f"dicoms/{uid_name(study_uid)}/{'_'.join(parts)}"


def merged_record_path(record: str) -> str:
    return f"jsons/{PurePosixPath(record).name}"


def _digest(inst: InstanceEntry) -> tuple[int, str, str | None] | None:
    if inst.size is None or inst.header_blake3 is None:
        return None
    return inst.size, inst.header_blake3, inst.pixel_blake3


def _same_content(a: Placement, b: Placement) -> bool:
    if a.digest is not None and b.digest is not None:
        return a.digest == b.digest
    try:
        return filecmp.cmp(a.source, b.source, shallow=False)
    except OSError as exc:
        raise OutputError(f"cannot compare {a.source} and {b.source}: {exc}") from exc


def _add(plan: MergePlan, placement: Placement) -> None:
    first = plan.files.get(placement.dest)
    if first is None:
        plan.files[placement.dest] = placement
    elif _same_content(first, placement):
        plan.duplicates.append(Duplicate(placement.dest, first.source, placement.source))
    else:
        plan.conflicts.append(Conflict(placement.dest, first.source, placement.source))


def _plan_dataset(plan: MergePlan, folder: Path, uids: dict[str, str]) -> None:
    """Add one dataset's files to ``plan`` and its manifest, paths rewritten, to the merged one."""
    manifest = _load_manifest(folder)
    for patient in manifest.patients:
        for study in patient.studies:
            if study.record is not None:
                # a manifest is input: its paths must stay inside its dataset
                source = confined(folder, study.record)
                study.record = merged_record_path(study.record)
                if source.exists():
                    _add(plan, Placement(study.record, source, folder.name))
            for series in study.series:
                for inst in series.instances:
                    source = confined(folder, inst.file)
                    inst.file = merged_file_path(study.study_instance_uid, inst.file)
                    if not inst.written:
                        continue
                    _add(plan, Placement(inst.file, source, folder.name, _digest(inst)))
                    seen = uids.setdefault(inst.sop_instance_uid, inst.file)
                    if seen != inst.file:
                        plan.same_uid.append(SameUid(inst.sop_instance_uid, seen, inst.file))
    plan.manifest.datasets.append(DatasetEntry(name=folder.name, manifest=manifest))


def plan_merge(datasets: Sequence[Path]) -> MergePlan:
    """Read every dataset's manifest and work out the merge, writing nothing."""
    plan = MergePlan(MergedManifest())
    uids: dict[str, str] = {}
    for folder in datasets:
        _plan_dataset(plan, Path(folder), uids)
    return plan


def _place(source: Path, dest: Path, link: bool) -> None:
    if link:
        try:
            os.link(source, dest)
            return
        except OSError:  # another device, or links not supported there: copy instead
            pass
    shutil.copyfile(source, dest)


def _write(plan: MergePlan, root: Path, link: bool) -> int:
    """Place every planned file under ``root``; return the bytes placed."""
    total = 0
    for dest, placement in plan.files.items():
        if not placement.source.is_file():
            raise OutputError(f"{placement.source} is listed as written but is missing")
        path = confined(root, dest)
        path.parent.mkdir(parents=True, exist_ok=True)
        _place(placement.source, path, link)
        total += path.stat().st_size
    confined(root, "manifest.json").write_text(plan.manifest.to_json(), encoding="utf-8")
    return total


def merge(
    datasets: Sequence[Path],
    target: Path,
    *,
    link: bool = False,
    overwrite: bool = False,
    run_seed: int | None = None,
) -> MergeResult:
    """Merge ``datasets`` into ``target``; atomic: all of it appears, or nothing. ``run_seed``
    (from ``dicomfab run``) is recorded in the merged manifest.

    Raises :class:`OutputError` listing every conflict (nothing is written then), and when
    ``target`` exists and ``overwrite`` is false. ``link=True`` hard-links files instead of
    copying them (copying where a link cannot be made, e.g. across devices)."""
    if target.exists() and not overwrite:  # before reading every manifest
        raise OutputError(f"{target} already exists (use --overwrite to replace it)")
    plan = plan_merge(datasets)
    plan.manifest.run_seed = run_seed
    if plan.conflicts:
        lines = [f"  - {c}" for c in plan.conflicts]
        raise OutputError(
            f"cannot merge into {target}: {len(plan.conflicts)} conflicting files\n"
            + "\n".join(lines)
        )
    with atomic_folder(target, overwrite=overwrite) as temp:
        (temp / "dicoms").mkdir()
        (temp / "jsons").mkdir()
        size = _write(plan, temp, link)
    records = sum(1 for dest in plan.files if dest.startswith("jsons/"))
    return MergeResult(
        path=target,
        manifest=plan.manifest,
        files=len(plan.files) - records,
        records=records,
        bytes=size,
        duplicates=plan.duplicates,
        conflicts=plan.conflicts,
        same_uid=plan.same_uid,
    )
