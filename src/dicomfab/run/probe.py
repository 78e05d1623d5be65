"""``dicomfab check --target``: can each part of a target be reached, without ingesting anything?

    probe(name, targets, workdir) -> list[Probe]

Each part is checked by its kind's adapter (:mod:`dicomfab.targets.registry`): an ingestor by
its own ``probe`` (``cstore``: a C-ECHO on an association to the called AE title; ``stow``: an
authenticated study query on the same DICOMweb root, reported as STOW-RS; ``command``: the
program exists, the working directory exists, passthrough variables are set), a verifier by its
``probe`` or else by building it and asking for an impossible UID (``sql``: the SSH tunnel opens
(if any), the database answers, and the query template runs, every other parameter given;
``cfind`` / ``qido``: a study-level query is answered), and the target's own link relation
(``links`` table) by asking it about the same impossible study UID.

A failure is data (``ok`` false, a one-line ``detail``), never an exception.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dicomfab.errors import DicomfabError
from dicomfab.run.connect import configured_target, open_target
from dicomfab.targets.config import Targets
from dicomfab.targets.links import relation_config
from dicomfab.targets.registry import (
    NO_SUCH_UID,
    Adapter,
    AdapterConfig,
    Context,
    Role,
    adapter_for,
)


@dataclass(frozen=True)
class Probe:
    part: str  # "ingest" / "verify" / "links"
    what: str  # e.g. "C-ECHO ORTHANC@127.0.0.1:4242"
    ok: bool
    detail: str
    seconds: float


def _timed(part: str, what: str, action: Callable[[], str], mask: Callable[[str], str]) -> Probe:
    start = time.perf_counter()
    try:
        detail, ok = action(), True
    except DicomfabError as exc:
        detail, ok = " ".join(str(exc).split()), False
    except OSError as exc:
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return Probe(part, what, ok, mask(detail), round(time.perf_counter() - start, 3))


def _observe(verifier: Any) -> str:
    observations = verifier.observe([NO_SUCH_UID])
    return f"{observations.source} answers ({observations.elapsed * 1000:.0f} ms)"


def probe(name: str | None, targets: Targets, workdir: Path) -> list[Probe]:
    """Check every part of target ``name`` (None: the embedded default, started and stopped)."""
    mask = targets.mask
    target = configured_target(name, targets)
    if target is None:
        found: list[Probe] = []
        start = time.perf_counter()
        try:
            with open_target(
                None, targets, workdir, folder=workdir, study_uids=[NO_SUCH_UID]
            ) as session:
                seconds = round(time.perf_counter() - start, 3)
                found.append(Probe("ingest", "start embedded PACS", True, "C-ECHO ok", seconds))
                for verifier in session.verifiers:

                    def observe(v: Any = verifier) -> str:
                        return _observe(v)

                    found.append(_timed("verify", repr(verifier), observe, mask))
        except DicomfabError as exc:
            seconds = round(time.perf_counter() - start, 3)
            found.append(Probe("ingest", "start embedded PACS", False, mask(str(exc)), seconds))
        return found
    probes: list[Probe] = []
    parts: list[tuple[Role, AdapterConfig]] = [("ingest", target.ingest)]
    parts += [("verify", v) for v in target.verifiers]
    relation = relation_config(target)
    parts += [("links", relation)] if relation is not None else []
    for role, config in parts:
        adapter = adapter_for(role, config)

        def run(adapter: Adapter[Any] = adapter, config: AdapterConfig = config) -> str:
            return _probe(adapter, config, workdir)

        probes.append(_timed(role, mask(adapter.describe(config)), run, mask))
    return probes


def _probe(adapter: Adapter[Any], config: AdapterConfig, workdir: Path) -> str:
    """The adapter's own probe, or (a verifier without one) a lookup of an impossible UID."""
    with ExitStack() as stack:
        context = Context(workdir, workdir / "logs", stack, study_uids=(NO_SUCH_UID,))
        if adapter.probe is not None:
            return adapter.probe(config, context)
        return _observe(adapter.build(config, context))
