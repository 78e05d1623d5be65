"""``dicomfab check --target``: can each part of a target be reached, without ingesting anything?

    probe(name, targets, workdir) -> list[Probe]

- ``cstore``: a C-ECHO on an association to the called AE title;
- ``stow``: an authenticated study query on the same DICOMweb root (reported as STOW-RS);
- ``command``: the program exists, the working directory exists, passthrough variables are set;
- ``sql``: the SSH tunnel opens (if any), the database answers, and the query template runs
  (with an impossible UID: every other parameter must be given);
- ``cfind`` / ``qido``: a study-level query for an impossible UID is answered.

A failure is data (``ok`` false, a one-line ``detail``), never an exception.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dicomfab.errors import DicomfabError
from dicomfab.run.connect import (
    build_verifier,
    command_argv,
    configured_target,
    describe_ingest,
    describe_verify,
    open_target,
)
from dicomfab.targets.config import CommandIngest, CStoreIngest, StowIngest, Targets

NO_SUCH_UID = "2.25.1"  # a valid UID no generator of ours ever makes


@dataclass(frozen=True)
class Probe:
    part: str  # "ingest" / "verify"
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


def _echo(ingest: CStoreIngest) -> str:
    from dicomfab.targets._dicomnet import echo

    status = echo(ingest.host, ingest.port, ingest.called_ae, ingest.calling_ae)
    if status != 0:
        raise DicomfabError(f"C-ECHO answered {status!r}, not success (0)")
    return "C-ECHO success"


def _stow(ingest: StowIngest) -> str:
    """Nothing is stored: a study query on the STOW-RS root shows that it answers and takes the
    credentials; its errors name STOW-RS (the part being checked), not the query used."""
    from dicomfab.targets.verify_qido import QidoVerifier

    verifier = QidoVerifier(
        ingest.url, username=ingest.username, password=ingest.password, study_uids=[NO_SUCH_UID]
    )
    verifier.service = "STOW-RS"
    verifier.observe([NO_SUCH_UID])
    return "STOW-RS root answers (DICOMweb study query, nothing stored)"


def _command(ingest: CommandIngest) -> str:
    argv = command_argv(ingest)
    program = argv[0] if argv else ""
    if not program:
        raise DicomfabError("the command is empty")
    if "{" not in program and shutil.which(program) is None:
        raise DicomfabError(f"program not found: {program}")
    if ingest.cwd and "{" not in ingest.cwd and not Path(ingest.cwd).is_dir():
        raise DicomfabError(f"working directory does not exist: {ingest.cwd}")
    unset = [name for name in ingest.passthrough if name not in os.environ]
    if unset:
        raise DicomfabError(f"passthrough variables not set: {', '.join(unset)}")
    passed = f", {len(ingest.passthrough)} variables to pass" if ingest.passthrough else ""
    return f"{program} found{passed}"


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
    ingest = target.ingest
    probes: list[Probe] = []
    what = mask(describe_ingest(ingest))
    if isinstance(ingest, CStoreIngest):
        probes.append(_timed("ingest", what, lambda: _echo(ingest), mask))
    elif isinstance(ingest, StowIngest):
        probes.append(_timed("ingest", what, lambda: _stow(ingest), mask))
    else:
        probes.append(_timed("ingest", what, lambda: _command(ingest), mask))
    for verify in target.verifiers:

        def run(verify: Any = verify) -> str:
            with ExitStack() as stack:
                return _observe(build_verifier(verify, [NO_SUCH_UID], stack))

        probes.append(_timed("verify", mask(describe_verify(verify)), run, mask))
    return probes
