"""An in-process target: ``kind = "memory"`` ingests into a :class:`MemoryStore` and verifies
from it, so that a run (yours in a unit test, or ours) needs no PACS.

    store = MemoryStore.named("t")                    # the one store of that name
    MemoryIngestor(store).ingest(files)               # each file indexed by SOP Instance UID
    MemoryVerifier(store).observe(uids)               # what it holds, as a verifier reports it
    store.instances["1.2.3"].patient_id; store.studies["1.2"].patient_id; store.clear()

In a targets file (``dicomfab.toml``), both parts name the same store (default ``"default"``):

    [targets.memory]
    ingest = { kind = "memory", store = "t" }
    verify = { kind = "memory", store = "t" }

The store keeps what a verifier reports (:class:`~dicomfab.targets.observations.ObservedInstance`,
and per study an :class:`~dicomfab.targets.observations.ObservedStudy`: the patient attributes of
the first instance stored in it, as an archive files a study under one patient), not the files.
It accepts every file with a SOP Instance UID, broken or not, as a lenient archive would (a
scenario that expects a rejection fails against it); ``refuse`` (Python only) decides otherwise
per data set. A store lives as long as the process: a fresh ``dicomfab run`` starts
empty.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field
from pydicom import dcmread
from pydicom.dataset import Dataset

from dicomfab.targets.observations import (
    Observations,
    ObservedInstance,
    ObservedStudy,
    observed,
    observed_study,
    study_uids,
)
from dicomfab.targets.receipt import InstanceResult, Progress, Receipt
from dicomfab.targets.registry import Adapter, AdapterConfig, Context

DEFAULT_STORE = "default"


class MemoryStore:
    """Instances by SOP Instance UID, as an archive indexed them, and their studies by Study
    Instance UID (thread-safe)."""

    _named: ClassVar[dict[str, MemoryStore]] = {}
    _named_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, name: str = DEFAULT_STORE) -> None:
        self.name = name
        self.instances: dict[str, ObservedInstance] = {}
        self.studies: dict[str, ObservedStudy] = {}
        self._lock = threading.Lock()

    @classmethod
    def named(cls, name: str = DEFAULT_STORE) -> MemoryStore:
        """The process-wide store called ``name`` (made on first use)."""
        with cls._named_lock:
            store = cls._named.get(name)
            if store is None:
                store = cls._named[name] = cls(name)
            return store

    def add(self, instance: ObservedInstance, study: ObservedStudy | None = None) -> None:
        """Store ``instance``; a second copy replaces the first. ``study`` files its study
        under a patient unless the study is filed already (the first filing stays)."""
        with self._lock:
            self.instances[instance.sop_instance_uid] = instance
            if study is not None:
                self.studies.setdefault(study.study_instance_uid, study)

    def find(self, sop_instance_uids: Iterable[str]) -> dict[str, ObservedInstance]:
        with self._lock:
            return {u: self.instances[u] for u in sop_instance_uids if u in self.instances}

    def find_studies(self, instances: Iterable[ObservedInstance]) -> dict[str, ObservedStudy]:
        """The studies of ``instances``, by Study Instance UID."""
        wanted = study_uids(instances)
        with self._lock:
            return {u: self.studies[u] for u in wanted if u in self.studies}

    def clear(self) -> None:
        with self._lock:
            self.instances.clear()
            self.studies.clear()

    def __len__(self) -> int:
        return len(self.instances)

    def __contains__(self, sop_instance_uid: object) -> bool:
        return sop_instance_uid in self.instances

    def __repr__(self) -> str:
        return f"MemoryStore({self.name!r}, {len(self)} instances)"


Refuse = Callable[[Dataset], str | None]
"""A data set → why the store refuses it (a "failure" result), or None to store it."""


class MemoryIngestor:
    """Index each file into ``store``: a file pydicom cannot read, or without a SOP Instance
    UID, is "not sent"; one ``refuse`` names a reason for is a "failure"; the others are
    stored ("success")."""

    def __init__(self, store: MemoryStore, *, refuse: Refuse | None = None) -> None:
        self.store = store
        self.refuse = refuse

    def __repr__(self) -> str:
        return f"MemoryIngestor({self.store!r})"

    def ingest(self, files: Sequence[Path], progress: Progress | None = None) -> Receipt:
        start = time.perf_counter()
        results = []
        for file in files:
            results.append(self._one(Path(file)))
            if progress:
                progress(1)
        return Receipt(results, time.perf_counter() - start)

    def _one(self, file: Path) -> InstanceResult:
        try:
            ds = dcmread(file, force=True, stop_before_pixels=True)
            instance = observed(ds)
        except Exception as exc:  # any reader failure is this file's outcome
            reason = f"cannot read: {type(exc).__name__}: {exc}"
            return InstanceResult(file, None, "not sent", sent=False, reason=reason)
        if instance is None:
            reason = "not a DICOM instance: no SOPInstanceUID"
            return InstanceResult(file, None, "not sent", sent=False, reason=reason)
        uid = instance.sop_instance_uid
        refused = self.refuse(ds) if self.refuse else None
        if refused:
            return InstanceResult(file, uid, "failure", sent=True, status=0xC000, reason=refused)
        self.store.add(instance, observed_study(ds))
        return InstanceResult(file, uid, "success", sent=True, status=0x0000)


class MemoryVerifier:
    """Observe instances in ``store``."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"MemoryVerifier({self.store!r})"

    def observe(self, sop_instance_uids: Iterable[str]) -> Observations:
        start = time.perf_counter()
        found = self.store.find(str(u) for u in sop_instance_uids)
        studies = self.store.find_studies(found.values())
        source = f"memory {self.store.name}"
        return Observations(found, source, time.perf_counter() - start, studies)


# ── the ``memory`` ingest and verify kinds ──────────────────────────────────────────────────


class MemoryIngest(AdapterConfig):
    kind: Literal["memory"]
    store: str = Field(DEFAULT_STORE, description="name of the in-process store (MemoryStore)")


class MemoryVerify(AdapterConfig):
    kind: Literal["memory"]
    store: str = Field(DEFAULT_STORE, description="name of the in-process store (MemoryStore)")


def _describe(config: MemoryIngest | MemoryVerify) -> str:
    return f"memory store {config.store!r}"


def _probe(config: MemoryIngest, context: Context) -> str:
    return f"in-process store {config.store!r} ({len(MemoryStore.named(config.store))} instances)"


ADAPTERS = (
    Adapter(
        "memory",
        "ingest",
        MemoryIngest,
        _describe,
        lambda config, context: MemoryIngestor(MemoryStore.named(config.store)),
        _probe,
    ),
    Adapter(
        "memory",
        "verify",
        MemoryVerify,
        _describe,
        lambda config, context: MemoryVerifier(MemoryStore.named(config.store)),
    ),
)
