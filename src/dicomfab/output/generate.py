"""Spec → dataset folder on disk: ``<out>/<name>/{dicoms,jsons,manifest.json}``.

Written into a hidden temporary folder beside the target and renamed into place at the end, so an
error never leaves a half-written dataset. Instances are built by up to ``workers`` processes,
each taking whole patients (so one patient's anatomy is drawn once and shared by its priors).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dicomfab._version import __version__
from dicomfab.builder import pixels
from dicomfab.builder.dataset import build_dataset
from dicomfab.builder.plan import make_plan
from dicomfab.builder.plan_model import InstancePlan, Plan
from dicomfab.builder.transfer import cut_pixel_data, encode
from dicomfab.builder.validation import writing_mode
from dicomfab.errors import Issue, SpecError
from dicomfab.output.atomic import atomic_folder
from dicomfab.output.files import FileDigest, write_file
from dicomfab.output.manifest import (
    InstanceEntry,
    Manifest,
    PatientEntry,
    SeriesEntry,
    StudyEntry,
)
from dicomfab.output.media import Layout, write_media
from dicomfab.output.paths import confined, safe_component
from dicomfab.output.records import (
    ExternalPriors,
    patient_records,
    record_owner,
    record_text,
)
from dicomfab.studyspec.models import Spec

Progress = Callable[[int], None]
"""Called with the number of instances just finished."""

Finish = Callable[[Path, Manifest], None]
"""Called with the temporary dataset folder and its manifest, before they are made final."""

KEY_ATTRIBUTES = (
    "PatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
    "IssuerOfPatientID",
    "StudyInstanceUID",
    "StudyDate",
    "StudyID",
    "AccessionNumber",
    "StudyDescription",
    "SeriesInstanceUID",
    "SeriesNumber",
    "Modality",
    "SOPClassUID",
    "SOPInstanceUID",
    "InstanceNumber",
    "ImageLaterality",
    "ViewPosition",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "NumberOfFrames",
    "LossyImageCompression",
    "LossyImageCompressionRatio",
    "LossyImageCompressionMethod",
)


@dataclass(frozen=True)
class GenerateResult:
    path: Path
    manifest: Manifest
    files_written: int
    bytes_written: int


def instance_relpath(inst: InstancePlan) -> str:
    """``dicoms/<study folder>/<file name>``: both are safe names (see ``StudyPlan.folder``)."""
    return f"dicoms/{inst.study.folder}/{inst.file_name}"


def _attributes(ds: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for keyword in KEY_ATTRIBUTES:
        if keyword in ds:
            value = ds[keyword].value
            if isinstance(value, bytes | bytearray):
                continue
            if hasattr(value, "original_string") or type(value).__name__ == "PersonName":
                value = str(value)
            elif isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
                value = [v if isinstance(v, int | float) else str(v) for v in value]
            elif not isinstance(value, int | float | str) and value is not None:
                value = str(value)
            out[keyword] = value
    return out


def quiet_worker() -> None:
    """Initializer of every worker process: the terminal's SIGINT (sent to the whole process
    group) is left to the parent, which stops the workers itself (:func:`stop_pool`), and SIGTERM
    ends a worker at once and quietly (a forked worker inherits the CLI's handlers, which would
    raise in it and print a traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def stop_pool(pool: ProcessPoolExecutor) -> list[int]:
    """Stop ``pool`` now, for an interruption or an error: terminate the worker processes (what
    they were writing is the caller's to clean up), wait until they are gone, and let the
    pool's manager thread fail the work not done (cancelling it first trips CPython 3.11's
    manager thread). Returns the workers' process ids."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join(5)
    pool.shutdown(wait=True)
    return [p.pid for p in processes if p.pid is not None]


def _build_and_write(inst: InstancePlan, root: Path) -> tuple[FileDigest | None, dict[str, Any]]:
    with writing_mode(permissive=inst.permissive):
        return _build_and_write_unchecked(inst, root)


def _build_and_write_unchecked(
    inst: InstancePlan, root: Path
) -> tuple[FileDigest | None, dict[str, Any]]:
    image = pixels.render(inst)
    ds = build_dataset(inst, image)
    attributes = _attributes(ds)
    if inst.skip_writing:
        return None, attributes
    explicit = frozenset(ref.keyword for ref in inst.tags if ref.keyword)
    removed = {ref.keyword for ref in inst.remove}
    # `remove_tags: [PixelData]` leaves the Image Pixel module describing pixels that are absent
    pixels_out = None if "PixelData" in removed else image
    encoded = encode(
        ds, pixels_out, inst.transfer_syntax, explicit, inst.quality, inst.extended_offset_table
    )
    if inst.truncate_pixel_data is not None and pixels_out is not None:
        encoded = cut_pixel_data(encoded, inst.truncate_pixel_data)
    attributes = _attributes(encoded.dataset)  # with the lossy compression actually achieved
    folder, name = safe_component(inst.study.folder), safe_component(inst.file_name)
    path = confined(root, "dicoms", folder, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_file(path, encoded), attributes


_worker_plan: tuple[str, Plan] | None = None
"""In a worker process: the plan of the spec (JSON) it is working on, made once per process, or
inherited from ``_run`` when the process was forked."""
_worker_pid = 0  # the process that has tuned its allocator


def _work(
    spec_json: str, root: str, positions: list[int]
) -> list[tuple[str, FileDigest | None, dict[str, Any]]]:
    """Worker-process entry: build and write the instances at ``positions`` in the plan."""
    global _worker_plan, _worker_pid
    if _worker_pid != os.getpid():
        _worker_pid = os.getpid()
        # A worker allocates and frees a 17 MB image and its temporaries per anatomy. glibc would
        # map each afresh and unmap it when freed, so every image costs thousands of page faults
        # (half the worker's system time); keep freed memory in the heap for reuse instead.
        try:
            import ctypes

            mallopt = ctypes.CDLL(None).mallopt
            mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD: heap, not mmap, up to 64 MiB
            mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD: keep up to 512 MiB of free heap
        except Exception:  # not glibc (or no C library to load): the defaults will do
            pass
    if _worker_plan is None or _worker_plan[0] != spec_json:
        _worker_plan = (spec_json, make_plan(Spec.model_validate_json(spec_json)))
    instances = _worker_plan[1].instances
    out = []
    for position in positions:
        inst = instances[position]
        digest, attrs = _build_and_write(inst, Path(root))
        out.append((inst.path, digest, attrs))
    return out


def _run(
    plan: Plan,
    root: Path,
    workers: int,
    progress: Progress | None,
    executor: Executor | None = None,
) -> dict[str, tuple[FileDigest | None, dict[str, Any]]]:
    """Build and write every instance, in ``workers`` processes when there is more than one, or
    by ``executor`` (split for ``workers`` of its workers) when given.

    Work is handed out in units that keep the pixel cache useful: whole patients (a patient's
    priors show the same anatomy as the current study), largest first, one at a time to whichever
    worker is free. The last few patients (two per worker) go out split into their anatomies (the
    instances of one view, which share nothing with the other views), smallest last, so that the
    workers finish together. The serial path keeps the plan's order."""
    from concurrent.futures import FIRST_COMPLETED, wait

    global _worker_plan
    instances = plan.instances
    results: dict[str, tuple[FileDigest | None, dict[str, Any]]] = {}
    if executor is None and (workers <= 1 or len(instances) < 2):
        for inst in instances:
            results[inst.path] = _build_and_write(inst, root)
            if progress:
                progress(1)
        return results

    # a patient's instances, anatomy by anatomy (view by view): the instances that share an image
    # follow each other, so a worker needs one image at a time, not the patient's four
    by_patient: dict[int, dict[str | None, list[int]]] = {}
    for position, inst in enumerate(instances):
        views = by_patient.setdefault(inst.patient.index, {})
        views.setdefault(inst.view.name if inst.view else None, []).append(position)
    patients = sorted(by_patient.values(), key=lambda v: sum(map(len, v.values())), reverse=True)
    whole = max(0, len(patients) - 2 * workers)
    units = [[p for anatomy in views.values() for p in anatomy] for views in patients[:whole]]
    tail = [anatomy for views in patients[whole:] for anatomy in views.values()]
    units += sorted(tail, key=len, reverse=True)
    # very many small units (thousands of one-instance patients): merge neighbours into tasks
    least = max(1, len(instances) // (32 * workers))
    tasks: list[list[int]] = []
    for unit in units:
        if tasks and len(tasks[-1]) < least:
            tasks[-1].extend(unit)
        else:
            tasks.append(list(unit))

    spec_json = plan.spec.model_dump_json()
    inherited, _worker_plan = _worker_plan, (spec_json, plan)  # forked workers start with it
    pool: Executor = executor or ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)), initializer=quiet_worker
    )
    try:
        # absolute: another process (a Dask worker) may have another working folder
        where = str(root.absolute())
        pending = {pool.submit(_work, spec_json, where, task) for task in tasks}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    done = future.result()
                    for path, digest, attrs in done:
                        results[path] = (digest, attrs)
                    if progress:
                        progress(len(done))
        except BaseException:  # stop the work before the caller removes the folder it writes into
            if isinstance(pool, ProcessPoolExecutor) and executor is None:
                stop_pool(pool)
            else:  # cancel what has not started, wait for what has
                pool.shutdown(wait=True, cancel_futures=True)
            raise
        if executor is None:
            pool.shutdown()
    finally:
        _worker_plan = inherited
    return results


def build_manifest(
    plan: Plan, results: dict[str, tuple[FileDigest | None, dict[str, Any]]]
) -> Manifest:
    manifest = Manifest(
        generator=f"dicomfab {__version__}",
        dataset=plan.spec.name,
        seed=plan.spec.seed,
        uid_namespace=plan.uid_namespace,
    )
    for p in plan.patients:
        pe = PatientEntry(
            patient_id=p.patient_id,
            name=p.name,
            birth_date=p.birth_date.isoformat() if p.birth_date else None,
            sex=p.sex,
        )
        for s in p.studies:
            se_list = []
            for se in s.series:
                entry = SeriesEntry(
                    series_instance_uid=se.uid,
                    number=se.number,
                    modality=se.instances[0].modality if se.instances else "",
                    description=se.description,
                )
                for inst in se.instances:
                    digest, attrs = results.get(inst.path, (None, {}))
                    entry.instances.append(
                        InstanceEntry(
                            sop_instance_uid=inst.sop_instance_uid,
                            sop_class_uid=inst.iod.sop_class_uid,
                            iod=inst.iod.name,
                            instance_number=inst.number,
                            view=inst.view.name if inst.view else None,
                            laterality=inst.laterality,
                            transfer_syntax=inst.transfer_syntax.uid,
                            file=instance_relpath(inst),
                            written=digest is not None,
                            size=digest.size if digest else None,
                            header_sha256=digest.header_sha256 if digest else None,
                            pixel_sha256=digest.pixel_sha256 if digest else None,
                            attributes=attrs,
                            defects=[dict(d) for d in inst.defects],
                        )
                    )
                se_list.append(entry)
            pe.studies.append(
                StudyEntry(
                    study_instance_uid=s.uid,
                    role=s.role,
                    date=s.date.isoformat(),
                    accession_number=s.accession_number,
                    description=s.description,
                    record=f"jsons/{s.folder}.json" if s.role == "current" else None,
                    series=se_list,
                )
            )
        owner = record_owner(pe)  # a patient without a current study still gets one record
        for planned, study_entry in zip(p.studies, pe.studies, strict=True):
            if study_entry is owner:
                study_entry.record = f"jsons/{planned.folder}.json"
        manifest.patients.append(pe)
    return manifest


def _write_records(manifest: Manifest, root: Path, mode: ExternalPriors) -> None:
    """Each record, at the path its study's manifest entry names (inside ``root``)."""
    (root / "jsons").mkdir(parents=True, exist_ok=True)
    for patient in manifest.patients:
        records = patient_records(patient, mode)
        for study in patient.studies:
            if study.record is None or study.study_instance_uid not in records:
                continue
            text = record_text(records[study.study_instance_uid])
            confined(root, study.record).write_text(text, encoding="utf-8")


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def generate(
    spec: Spec,
    output: Path,
    *,
    overwrite: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
    plan: Plan | None = None,
    finish: Finish | None = None,
    layout: Layout = "folders",
    junk: bool = False,
    executor: Executor | None = None,
) -> GenerateResult:
    """Generate ``spec`` into ``output/<spec.name>``; atomic: all of it appears, or nothing.

    ``finish(folder, manifest)`` runs after the files and records are written and before the
    manifest is saved and the folder renamed into place (scenarios break files there).

    ``layout="media"`` writes the instances as a File-set with a DICOMDIR instead of ``dicoms/``
    (see :mod:`dicomfab.output.media`); ``junk`` adds the non-DICOM files real media carries.

    ``executor`` (e.g. :func:`dicomfab.output.distributed.dask_executor`'s) builds the units of
    work instead of a local process pool; ``workers`` is then how many it runs at once. Its
    workers write into the temporary folder beside ``output/<name>``: they must all see it."""
    if junk and layout != "media":
        raise SpecError([Issue("junk", "junk files go with the media layout (layout='media')")])
    plan = plan or make_plan(spec)
    # the name is checked again here (not only in the spec model): ``output / "."`` is ``output``
    target = output / safe_component(spec.name)
    with atomic_folder(target, overwrite=overwrite) as temp:
        (temp / "dicoms").mkdir()
        slots = workers or getattr(executor, "workers", None) or default_workers()
        results = _run(plan, temp, slots, progress, executor)
        manifest = build_manifest(plan, results)
        if layout == "media":
            write_media(temp, plan, manifest, junk=junk)
        _write_records(manifest, temp, plan.spec.records.external_priors)
        if finish is not None:
            finish(temp, manifest)
        confined(temp, "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    written = [i for i in manifest.instances() if i.written]
    return GenerateResult(target, manifest, len(written), sum(i.size or 0 for i in written))


def iter_files(result: GenerateResult) -> Iterable[Path]:
    for inst in result.manifest.instances():
        if inst.written:
            yield result.path / inst.file
