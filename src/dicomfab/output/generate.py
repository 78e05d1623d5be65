"""Spec → dataset folder on disk: ``<out>/<name>/{dicoms,jsons,manifest.json}``.

Written into a hidden temporary folder beside the target and renamed into place at the end, so an
error never leaves a half-written dataset. Patients are planned and written one at a time, in
bounded memory whatever their number: up to ``workers`` processes (or any executor) each take
units of whole patients (so one patient's anatomy is drawn once and shared by its priors); the
parent puts each finished patient in order into a journal, from which the manifest is streamed
at the end (:mod:`dicomfab.output.journal`). A patient is journaled only once its files are on
disk: a worker of generate's own pool hands its files to a writer thread and goes on with the
next unit, and that thread acknowledges the unit to the parent once they are written
(:func:`write_unit`). A resumable generate keeps its temporary folder when interrupted, and
finishes it later without writing again what was done.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import multiprocessing
import os
import pickle
import queue
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.tag import Tag

from dicomfab._version import __version__
from dicomfab.builder import pixels
from dicomfab.builder.dataset import build_dataset
from dicomfab.builder.plan import PatientPlanner, check_spec, make_plan
from dicomfab.builder.plan_model import InstancePlan, PatientPlan, Plan
from dicomfab.builder.transfer import cut_pixel_data, encode
from dicomfab.builder.uids import dataset_identity
from dicomfab.builder.validation import writing_mode
from dicomfab.errors import Issue, SpecError
from dicomfab.output import direct
from dicomfab.output.atomic import atomic_folder, resumable_folder
from dicomfab.output.files import FileDigest, write_file
from dicomfab.output.journal import Journal, MemoryJournal, Totals, entry_text
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
    """A generated dataset: where, and how much. ``manifest`` is read from the dataset's
    manifest.json when first asked for (a million instances' manifest is not kept in memory)."""

    path: Path
    files_written: int
    bytes_written: int
    patients: int = 0
    studies: int = 0
    instances: int = 0
    _manifest: list[Manifest] = field(default_factory=list, repr=False, compare=False)

    @property
    def manifest(self) -> Manifest:
        if not self._manifest:
            from dicomfab.output.summary import load_manifest

            self._manifest.append(load_manifest(self.path / "manifest.json"))
        return self._manifest[0]


def instance_relpath(inst: InstancePlan) -> str:
    """``dicoms/<study folder>/<file name>``: both are safe names (see ``StudyPlan.folder``)."""
    return f"dicoms/{inst.study.folder}/{inst.file_name}"


_KEY_TAGS = [(keyword, int(Tag(keyword))) for keyword in KEY_ATTRIBUTES]


def _attributes(ds: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    stored = ds._dict
    for keyword, tag in _KEY_TAGS:  # tags, not keywords: a keyword is looked up each time
        if tag in stored:
            value = ds[tag].value
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


WORKER_GC_THRESHOLD = 10_000
"""A worker's youngest-generation collection threshold (CPython's default: 700)."""


def quiet_worker() -> None:
    """Initializer of every worker process: the terminal's SIGINT (sent to the whole process
    group) is left to the parent, which stops the workers itself (:func:`stop_pool`), and SIGTERM
    ends a worker at once and quietly (a forked worker inherits the CLI's handlers, which would
    raise in it and print a traceback).

    The garbage collector is tuned too: what the worker inherits (modules, classes, the parent's
    plans) is frozen out of every collection, which would otherwise scan it again and again (and
    write to its copy-on-write pages), and the youngest generation is collected every 10,000
    allocations instead of 700 (a worker makes and drops some 10^5 data elements per scenario,
    few of them in cycles). Together about 5 % of a worker's time on the scenario library.

    And numpy stops asking for transparent huge pages (:func:`_small_pages`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(WORKER_GC_THRESHOLD, older, oldest)
    _small_pages()


def _small_pages() -> None:
    """Make numpy stop advising the kernel to back its arrays of 4 MiB and more with huge pages
    (``madvise(MADV_HUGEPAGE)``; what ``NUMPY_MADVISE_HUGEPAGE=0`` does at import). A worker's
    arrays are written once and streamed, so huge pages save little, while every one is zeroed
    whole when first touched: on a virtual machine that hands free memory back to its host,
    that first touch is a host fault per page. On the 2-core VM of the benchmarks the library at
    `reduced` took 18.6 s with them and 17.5 s without (4 runs each)."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    setter = getattr(multiarray, "_set_madvise_hugepage", None)
    if setter is not None:
        setter(False)


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
    # A worker stopped while sending its result leaves half a message in the result pipe, and
    # the pool's manager thread waits for the rest for ever (CPython 3.11; shutdown() then never
    # returns: 3 stops in 80 hung). With every worker gone, closing our own end for writing
    # ends that wait (end of file): the manager finds the pool broken and fails the work left.
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    if writer is not None:
        with contextlib.suppress(OSError):
            writer.close()
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
    if inst.skip_writing:
        return None, _attributes(ds)
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
    if not os.path.isdir(path.parent):  # a stat: mkdir on a folder that exists costs far more
        path.parent.mkdir(parents=True, exist_ok=True)
    return write_file(path, encoded), attributes


_given: tuple[str, Plan] | None = None
"""The plan a caller of :func:`generate` passed, for its spec (JSON): used instead of planning
again in this process and in the worker processes forked from it."""
_worker_planner: tuple[str, PatientPlanner] | None = None  # the spec (JSON) it plans
_worker_pid = 0  # the process that has tuned its allocator

Unit = tuple[int, int, str | None]
"""Work for one task: patients ``start`` to ``stop`` (exclusive) whole (anatomy None), or the
instances of one anatomy (view name, "" for none) of patient ``start``."""


@dataclass(frozen=True)
class PatientDone:
    """A finished patient: its files and records are on disk."""

    index: int
    entry: str  # its manifest entry, as manifest.json indents it (journal.entry_text)
    totals: Totals

    @property
    def instances(self) -> int:
        return self.totals.instances


@dataclass(frozen=True)
class UnitResult:
    unit: Unit
    patients: list[PatientDone]  # whole patients
    parts: list[tuple[str, FileDigest | None, dict[str, Any]]]  # one anatomy's instances


def _tune_allocator() -> None:
    global _worker_pid
    if _worker_pid == os.getpid():
        return
    _worker_pid = os.getpid()
    # A worker allocates and frees a 17 MB image and its temporaries per anatomy. glibc would map
    # each afresh and unmap it when freed, so every image costs thousands of page faults (half the
    # worker's system time); keep freed memory in the heap for reuse instead.
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
        mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD: heap, not mmap, up to 64 MiB
        mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD: keep up to 512 MiB of free heap
    except Exception:  # not glibc (or no C library to load): the defaults will do
        pass


def _planner(spec_json: str) -> PatientPlanner:
    global _worker_planner
    if _worker_planner is None or _worker_planner[0] != spec_json:
        _worker_planner = (spec_json, PatientPlanner(Spec.model_validate_json(spec_json)))
    return _worker_planner[1]


def _patient(spec_json: str, index: int) -> PatientPlan:
    """Patient ``index`` of the spec: from the caller's plan if there is one, else planned."""
    if _given is not None and _given[0] == spec_json:
        return _given[1].patients[index]
    return _planner(spec_json).patient(index)


def _records_mode(spec_json: str) -> ExternalPriors:
    if _given is not None and _given[0] == spec_json:
        return _given[1].spec.records.external_priors
    return _planner(spec_json).spec.records.external_priors


def anatomy(inst: InstancePlan) -> str:
    """What instances share an image by: the view ("" for an instance without one)."""
    return inst.view.name if inst.view else ""


def _by_anatomy(patient: PatientPlan) -> dict[str, list[InstancePlan]]:
    """A patient's instances, anatomy by anatomy: the instances that share an image follow each
    other, so a worker needs one image at a time, not the patient's four."""
    groups: dict[str, list[InstancePlan]] = {}
    for s in patient.studies:
        for se in s.series:
            for inst in se.instances:
                groups.setdefault(anatomy(inst), []).append(inst)
    return groups


def write_unit(
    spec_json: str, root: str, unit: Unit, ticket: int | None = None
) -> UnitResult | None:
    """Build and write one unit of work (see :data:`Unit`): the entry point of a worker, of any
    ``concurrent.futures`` executor (picklable, self-contained; the result does not depend on
    which process runs it). Whole patients get their records written too. The files are on
    disk before the result says so.

    With ``ticket`` (only in a worker of generate's own pool, :func:`_acking_worker`), it
    returns None as soon as the files are handed to the writer's thread, and that thread sends
    ``(ticket, result)`` on the pool's queue once they are written (or ``(ticket, failure)``):
    the worker builds its next unit meanwhile, and the disk never waits for it."""
    _tune_allocator()
    with direct.written(wait=ticket is None):
        result = _write_unit(spec_json, Path(root), unit)
    if ticket is None:
        return result
    direct.notify(functools.partial(_acknowledge, ticket, result))
    return None


def _write_unit(spec_json: str, folder: Path, unit: Unit) -> UnitResult:
    start, stop, part = unit
    if part is not None:
        chosen = _by_anatomy(_patient(spec_json, start)).get(part, [])
        written = [(inst.path, *_build_and_write(inst, folder)) for inst in chosen]
        return UnitResult(unit, [], written)
    done = []
    for index in range(start, stop):
        patient = _patient(spec_json, index)
        results = {
            inst.path: _build_and_write(inst, folder)
            for group in _by_anatomy(patient).values()
            for inst in group
        }
        done.append(finish_patient(patient, results, folder, _records_mode(spec_json)))
    return UnitResult(unit, done, [])


_acks: Any = None
"""In a worker of generate's own pool: the queue its writer's thread answers on (a
``multiprocessing.Queue`` of ``(ticket, UnitResult | BaseException)``)."""


def _acking_worker(acks: Any) -> None:
    """Initializer of generate's own pool: :func:`quiet_worker`, and the queue of acknowledged
    units (see :func:`write_unit`)."""
    global _acks
    quiet_worker()
    _acks = acks


def _acknowledge(ticket: int, result: UnitResult, failure: BaseException | None) -> None:
    """The writer's notice for one unit (its thread): the result, or what failed, to the
    parent. A failure goes as itself when it can be pickled, else as a RuntimeError saying it."""
    if failure is None:
        _acks.put((ticket, result))
        return
    try:
        pickle.dumps(failure)
    except Exception:
        failure = RuntimeError(f"{type(failure).__name__}: {failure}")
    _acks.put((ticket, failure))


Results = dict[str, tuple[FileDigest | None, dict[str, Any]]]
"""What was written of each instance (by its plan path): its digests (None: not written) and
key attributes."""


def finish_patient(
    patient: PatientPlan, results: Results, root: Path, mode: ExternalPriors
) -> PatientDone:
    """Write the records of a patient whose instances are written; its manifest entry."""
    entry = patient_entry(patient, results)
    _write_patient_records(entry, root, mode)
    totals = Totals()
    totals.add_entry(entry)
    return PatientDone(patient.index, entry_text(entry), totals)


def manifest_header(spec: Spec, uid_namespace: str) -> Manifest:
    """The manifest without its patients."""
    return Manifest(
        generator=f"dicomfab {__version__}",
        dataset=spec.name,
        seed=spec.seed,
        uid_namespace=uid_namespace,
    )


def build_manifest(plan: Plan, results: Results) -> Manifest:
    """The whole manifest of ``plan`` in memory (what :func:`generate` streams to disk)."""
    manifest = manifest_header(plan.spec, plan.uid_namespace)
    manifest.patients = [patient_entry(p, results) for p in plan.patients]
    return manifest


def patient_entry(p: PatientPlan, results: Results) -> PatientEntry:
    """One patient's manifest entry: what was planned, and what was written of it."""
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
                        header_blake3=digest.header_blake3 if digest else None,
                        pixel_blake3=digest.pixel_blake3 if digest else None,
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
    return pe


def _write_patient_records(patient: PatientEntry, root: Path, mode: ExternalPriors) -> None:
    """Each record of one patient, at the path its study's manifest entry names."""
    records = patient_records(patient, mode)
    for study in patient.studies:
        if study.record is None or study.study_instance_uid not in records:
            continue
        text = record_text(records[study.study_instance_uid])
        path = confined(root, study.record)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _write_records(manifest: Manifest, root: Path, mode: ExternalPriors) -> None:
    """Each record, at the path its study's manifest entry names (inside ``root``)."""
    (root / "jsons").mkdir(parents=True, exist_ok=True)
    for patient in manifest.patients:
        _write_patient_records(patient, root, mode)


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


class _Inline(Executor):
    """Runs each task at once, in this process: the executor of a single worker."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # an interruption (BaseException) stops the caller at once
            future.set_exception(exc)
        return future


#: the most instances one task of many whole patients takes (a bounded result to send back)
UNIT_INSTANCES = 200
#: seconds the parent waits for an acknowledged unit before it looks for failed workers
ACK_POLL = 0.1
#: tasks in flight (and results waiting for an earlier patient) per worker
IN_FLIGHT = 3


def plan_units(
    sizes: list[tuple[int, int]],
    start: int,
    workers: int,
    tail: Callable[[int], list[tuple[str, int]]],
) -> Iterator[Unit]:
    """The units of work from patient ``start`` on, lazily. ``sizes``: (patients, instances per
    patient) of each spec entry; ``tail(index)``: (anatomy, instances) of patient ``index``.

    Whole patients in index order, neighbours merged into tasks of a fair share of the
    instances (at most :data:`UNIT_INSTANCES`); with several workers the last two patients per
    worker go out split into their anatomies (which share no image), largest first, so that the
    workers finish together."""
    patients = sum(n for n, _ in sizes)
    total = sum(n * k for n, k in sizes)
    least = max(1, min(UNIT_INSTANCES, total // (32 * workers)))
    split_from = max(start, patients - 2 * workers) if workers > 1 else patients
    begin, count, first = start, 0, 0
    for n, k in sizes:
        for index in range(max(first, start), min(first + n, split_from)):
            if count and count + k > least:
                yield (begin, index, None)
                begin, count = index, 0
            count += k
        first += n
    if begin < split_from:
        yield (begin, split_from, None)
    parts = [(i, part, n) for i in range(split_from, patients) for part, n in tail(i)]
    for index, part, _ in sorted(parts, key=lambda p: p[2], reverse=True):
        yield (index, index + 1, part)


class _Writer:
    """The parent's side of a generate: hands out units, puts finished patients in order into
    the journal (holding those that finished early), assembles the patients written in parts."""

    def __init__(
        self,
        spec_json: str,
        root: Path,
        journal: Journal,
        mode: ExternalPriors,
        patient: Callable[[int], PatientPlan],
        progress: Progress | None,
        next_index: int,
    ) -> None:
        self.spec_json, self.root, self.journal, self.mode = spec_json, root, journal, mode
        self.where = str(root.absolute())  # a worker elsewhere has another working folder
        self.patient, self.progress, self.next_index = patient, progress, next_index
        self.waiting: dict[int, PatientDone] = {}  # finished before an earlier patient
        self.split: dict[int, tuple[PatientPlan, int, Results]] = {}  # plan, parts left, results
        self.totals = Totals()
        self.pending: set[Future[UnitResult | None]] = set()  # submitted, not collected

    def anatomies(self, index: int) -> list[tuple[str, int]]:
        plan = self.patient(index)
        groups = _by_anatomy(plan)
        self.split[index] = (plan, len(groups), {})
        return [(name, len(group)) for name, group in groups.items()]

    def take(self, result: UnitResult) -> None:
        for done in result.patients:
            self.waiting[done.index] = done
        if result.unit[2] is not None:
            index = result.unit[0]
            plan, left, results = self.split[index]
            results.update({path: (digest, attrs) for path, digest, attrs in result.parts})
            if left > 1:
                self.split[index] = (plan, left - 1, results)
            else:
                del self.split[index]
                self.waiting[index] = finish_patient(plan, results, self.root, self.mode)
        if self.progress:
            self.progress(sum(d.instances for d in result.patients) + len(result.parts))
        while self.next_index in self.waiting:
            done = self.waiting.pop(self.next_index)
            self.journal.append(done.entry)
            self.totals.merge(done.totals)
            self.next_index += 1

    def run(self, units: Iterator[Unit], executor: Executor, limit: int) -> None:
        """Every unit through ``executor``, at most ``limit`` in flight or waiting."""
        pending = self.pending
        for unit in units:
            while len(pending) + len(self.waiting) >= limit and pending:
                self._collect(pending)
            pending.add(executor.submit(write_unit, self.spec_json, self.where, unit))
        while pending:
            self._collect(pending)

    def _collect(self, pending: set[Future[UnitResult | None]]) -> None:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            pending.discard(future)
            result = future.result()
            assert result is not None  # no ticket: the result itself
            self.take(result)

    def run_acked(
        self, units: Iterator[Unit], pool: ProcessPoolExecutor, limit: int, acks: Any
    ) -> None:
        """As :meth:`run`, through generate's own pool (:func:`_acking_worker`): a unit is done
        when its result comes back on ``acks``, its files on disk (:func:`write_unit`); its
        future only tells what failed in the worker."""
        outstanding: dict[int, Future[Any]] = {}
        for ticket, unit in enumerate(units):
            while len(outstanding) + len(self.waiting) >= limit and outstanding:
                self._acknowledged(outstanding, pool, acks)
            outstanding[ticket] = pool.submit(write_unit, self.spec_json, self.where, unit, ticket)
        while outstanding:
            self._acknowledged(outstanding, pool, acks)

    def _acknowledged(self, outstanding: dict[int, Future[Any]], pool: Any, acks: Any) -> None:
        """Take the next acknowledged unit; or, when none comes within :data:`ACK_POLL`,
        raise what failed in a worker, or that a worker is gone (no acknowledgement can come
        from it)."""
        try:
            ticket, answer = acks.get(timeout=ACK_POLL)
        except queue.Empty:
            for future in outstanding.values():
                if future.done():
                    future.result()  # raises the worker's failure
            processes = (getattr(pool, "_processes", None) or {}).values()
            if getattr(pool, "_broken", False) or any(p.exitcode is not None for p in processes):
                raise BrokenProcessPool(
                    "a worker process ended before the files it was writing were on disk"
                ) from None
            return
        del outstanding[ticket]
        if isinstance(answer, BaseException):
            raise answer
        self.take(answer)


@dataclass(frozen=True)
class _Job:
    """What one generate writes: the spec, its plan if the caller has one, and the layout."""

    spec: Spec
    plan: Plan | None
    sizes: list[tuple[int, int]]  # (patients, instances per patient) of each spec entry
    layout: Layout
    junk: bool
    finish: Finish | None


def _write(
    job: _Job,
    root: Path,
    journal: Journal,
    start: int,
    workers: int,
    executor: Executor | None,
    progress: Progress | None,
    totals: Totals,
) -> None:
    """Write the patients from ``start`` on into ``root``, journaling each in order (and
    counting them into ``totals``)."""
    global _given
    spec_json = job.spec.model_dump_json()
    sizes = job.sizes
    if job.plan is not None:
        plan = job.plan
        patient: Callable[[int], PatientPlan] = lambda i: plan.patients[i]  # noqa: E731
    else:
        patient = PatientPlanner(job.spec).patient
    own: ProcessPoolExecutor | None = None
    acks: Any = None  # our own pool's queue of acknowledged units (write_unit)
    if executor is None:
        if workers > 1 and not small_job(sizes, start, patient):
            acks = multiprocessing.Queue()
            own = ProcessPoolExecutor(
                max_workers=workers, initializer=_acking_worker, initargs=(acks,)
            )
        else:
            workers = 1
        executor = own or _Inline()
    writer = _Writer(
        spec_json, root, journal, job.spec.records.external_priors, patient, progress, start
    )
    writer.totals = totals
    inherited, _given = _given, (spec_json, job.plan) if job.plan is not None else None
    try:
        units = plan_units(sizes, start, workers, writer.anatomies)
        if own is not None:
            writer.run_acked(units, own, IN_FLIGHT * workers, acks)
        else:
            writer.run(units, executor, IN_FLIGHT * workers)
    except BaseException:
        if own is not None:
            stop_pool(own)  # before anyone removes the folder they write into
        else:  # not ours: cancel what has not started, wait for what has (it writes into root)
            executor.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        _given = inherited
        if acks is not None:
            acks.close()
    if own is not None:
        own.shutdown()


#: a job of less work than this (see :func:`small_job`) is written in this process: starting
#: worker processes and drawing each one's shared noise again costs more than the second core
#: saves. Measured whole process (``benchmarks/startup.py``, 2 cores): 8 small images 0.68 s in
#: process vs 0.77 s with 2 workers; 8 half-size (4 Mpx) 0.79 vs 0.79; 8 full-size (8.5 Mpx)
#: 1.09 vs 0.93.
SMALL_JOB = 24_000_000
#: what one instance costs besides its pixels (building its header, writing its file), in pixels
INSTANCE_COST = 1_000_000
#: an encoded (compressed) pixel costs about this many native ones
ENCODED_COST = 8


def _work(inst: InstancePlan) -> int:
    if inst.skip_writing:
        return 0
    pixels = 0
    if inst.iod.pixels is not None:
        p = inst.pixels
        pixels = (p.rows or 512) * (p.columns or 512) * (p.frames or 1)
        if inst.transfer_syntax.compressed:
            pixels *= ENCODED_COST
    return INSTANCE_COST + pixels


def small_job(
    sizes: list[tuple[int, int]], start: int, patient: Callable[[int], PatientPlan]
) -> bool:
    """Whether the patients from ``start`` on are less work than :data:`SMALL_JOB` (planned
    to tell, only when their instances are few enough to be); the bytes written do not depend
    on it."""
    patients = sum(n for n, _ in sizes)
    first, instances = 0, 0
    for n, k in sizes:
        instances += k * max(0, first + n - max(first, start))
        first += n
    if instances * INSTANCE_COST >= SMALL_JOB:
        return False
    work = 0
    for index in range(start, patients):
        plan = patient(index)
        work += sum(_work(i) for s in plan.studies for se in s.series for i in se.instances)
    return work < SMALL_JOB


def spec_digest(spec: Spec) -> str:
    return hashlib.sha256(spec.model_dump_json().encode("utf-8", "surrogatepass")).hexdigest()


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
    resumable: bool = False,
    resume: bool = False,
) -> GenerateResult:
    """Generate ``spec`` into ``output/<spec.name>``; atomic: all of it appears, or nothing.

    Patients are planned, written and journaled one after the other (in bounded memory,
    whatever their number), in ``workers`` processes, or through ``executor`` (any
    ``concurrent.futures.Executor`` that can pickle :func:`write_unit`'s arguments).

    ``resumable``: write into ``<output>/.<name>.partial`` and keep it when interrupted
    (Ctrl-C, SIGTERM); ``resume`` finishes such a folder (same spec, seed and layout), writing
    only the patients it lacks.

    ``finish(folder, manifest)`` runs after the files and records are written and before the
    manifest is saved and the folder renamed into place (scenarios break files there).

    ``layout="media"`` writes the instances as a File-set with a DICOMDIR instead of ``dicoms/``
    (see :mod:`dicomfab.output.media`); ``junk`` adds the non-DICOM files real media carries.

    ``executor`` (e.g. :func:`dicomfab.output.distributed.dask_executor`'s) builds the units of
    work instead of a local process pool; ``workers`` is then how many it runs at once. Its
    workers write into the temporary folder beside ``output/<name>``: they must all see it."""
    if junk and layout != "media":
        raise SpecError([Issue("junk", "junk files go with the media layout (layout='media')")])
    if layout == "media" and plan is None:
        plan = make_plan(spec)  # the DICOMDIR needs the whole plan (media are small)
    if plan is not None:
        sizes = [
            (1, sum(len(se.instances) for s in p.studies for se in s.series)) for p in plan.patients
        ]
    else:  # checked before anything is written; each patient is planned where it is written
        counts = check_spec(spec)
        sizes = [(e.count, n) for e, n in zip(spec.patients, counts, strict=True)]
    job = _Job(spec, plan, sizes, layout, junk, finish)
    # the name is checked again here (not only in the spec model): ``output / "."`` is ``output``
    target = output / safe_component(spec.name)
    # a cluster's executor says how many workers it has (to split the work for them)
    count = workers or getattr(executor, "workers", None) or default_workers()
    if resumable or resume:
        state: dict[str, object] = {
            "spec_sha256": spec_digest(spec),
            "seed": spec.seed,
            "dicomfab": __version__,
            "layout": layout,
        }
        with resumable_folder(target, state, overwrite=overwrite, resume=resume) as (temp, _):
            totals = _fill(job, temp, count, executor, progress, resumable=True)
    else:
        with atomic_folder(target, overwrite=overwrite) as temp:
            totals = _fill(job, temp, count, executor, progress)
    return GenerateResult(
        target, totals.files, totals.bytes, totals.patients, totals.studies, totals.instances
    )


def _fill(
    job: _Job,
    temp: Path,
    workers: int,
    executor: Executor | None,
    progress: Progress | None,
    *,
    resumable: bool = False,
) -> Totals:
    """Write (the rest of) the dataset into ``temp`` and its manifest; the totals."""
    (temp / "dicoms").mkdir(exist_ok=True)
    (temp / "jsons").mkdir(exist_ok=True)
    whole = job.layout == "media" or job.finish is not None  # the manifest is read back whole
    journal = MemoryJournal(temp) if whole and not resumable else Journal(temp)
    start, totals = journal.recover()  # the patients an interrupted generate finished
    if totals.instances and progress:
        progress(totals.instances)
    try:
        _write(job, temp, journal, start, workers, executor, progress, totals)
    finally:
        journal.close()  # also when interrupted or failed (its file is kept, or removed)
    uid_namespace = job.plan.uid_namespace if job.plan is not None else dataset_identity(job.spec)
    header = manifest_header(job.spec, uid_namespace)
    if whole:
        manifest = journal.manifest(header)
        if job.layout == "media":
            assert job.plan is not None
            write_media(temp, job.plan, manifest, junk=job.junk)
        if job.finish is not None:
            job.finish(temp, manifest)
        confined(temp, "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
        totals = Totals()
        for patient in manifest.patients:
            totals.add_entry(patient)
    else:
        journal.write_manifest(header, confined(temp, "manifest.json"))
    journal.remove()
    return totals


def iter_files(result: GenerateResult) -> Iterable[Path]:
    for inst in result.manifest.instances():
        if inst.written:
            yield result.path / inst.file
