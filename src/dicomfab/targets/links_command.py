"""The ``command`` links kind: the product's relation printed by a program of its own.

    [targets.NAME.links]
    kind = "command"
    command = ["product-cli", "priors", "--studies", "{study_uids_file}"]
    timeout = 60

One call per lookup: the study UIDs, one per line, go into a file named by ``{study_uids_file}``
(in any argv element) or, without that placeholder, to the program's stdin. It prints JSON
lines ``{"study_uid": "…", "linked_study_uid": "…"}`` (blank lines are skipped). It runs without
a shell, in a session of its own (:mod:`dicomfab.targets._children`): on a timeout, an
interruption or any other way out, it and everything it started are stopped (SIGTERM, then
SIGKILL). A non-zero exit, a timeout or a line that is not such an object is a one-line
:class:`~dicomfab.errors.TargetError` with secrets masked.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field

from dicomfab.errors import DicomfabError, TargetError, TargetTimeoutError
from dicomfab.targets._children import forget, session_members, spawn, stop
from dicomfab.targets.links import LinkPairs, pair_from_json, probe, timed, unique
from dicomfab.targets.registry import Adapter, AdapterConfig, Context
from dicomfab.targets.secrets import Masker

PLACEHOLDER = "{study_uids_file}"


class CommandLinks:
    """Run ``command`` once per lookup and read the pairs it prints (see the module docstring)."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        if not command:
            raise ValueError("the links command is empty")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.command = [str(a) for a in command]
        self.timeout = float(timeout)
        self.env = dict(env or {})
        self._mask = Masker(secrets)

    @property
    def uses_file(self) -> bool:
        return any(PLACEHOLDER in arg for arg in self.command)

    def _fail(self, what: str, kind: type[TargetError] = TargetError) -> TargetError:
        return kind(self._mask.one_line(f"links command {self.command[0]} failed: {what}"))

    def pairs(self, study_uids: Iterable[str]) -> LinkPairs:
        start = time.perf_counter()
        uids = unique(study_uids)
        source = self._mask(f"command links {self.command[0]}")
        if not uids:
            return LinkPairs(frozenset(), source)
        listing = "".join(f"{uid}\n" for uid in uids).encode()
        with tempfile.TemporaryDirectory(prefix="dicomfab-links-") as folder:
            argv = self.command
            if self.uses_file:
                path = Path(folder) / "study_uids.txt"
                path.write_bytes(listing)
                argv = [arg.replace(PLACEHOLDER, str(path)) for arg in argv]
            out = self._run(argv, None if self.uses_file else listing)
        lines = [line.strip() for line in out.decode("utf-8", "replace").splitlines()]
        found = [
            pair_from_json(line, f"links command {self.command[0]}, line {n}")
            for n, line in enumerate(lines, 1)
            if line
        ]
        return timed(source, start, found, uids)

    def _run(self, argv: list[str], stdin: bytes | None) -> bytes:
        """``argv``'s stdout; whatever way this ends, nothing it started is left running."""
        try:
            process = spawn(
                argv,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, **self.env},
            )
        except OSError as exc:
            raise self._fail(f"cannot start ({exc.strerror or exc})") from None
        try:
            out, err = process.communicate(stdin, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _stop(process)
            raise self._fail(f"timed out after {self.timeout:g} s", TargetTimeoutError) from None
        except BaseException:
            _stop(process)
            raise
        if session_members(process.pid):
            stop(process)  # it left something running
        else:
            forget(process)
        if process.returncode != 0:
            last = next(
                (line for line in reversed(err.decode("utf-8", "replace").splitlines()) if line),
                "no output on stderr",
            )
            raise self._fail(f"exited with {process.returncode}: {last.strip()}")
        return out


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the command and its session, and close our ends of its pipes."""
    stop(process)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


class CommandLinksConfig(AdapterConfig):
    kind: Literal["command"]
    command: list[str] = Field(
        description="argv; {study_uids_file} is a file of study UIDs, one per line (without "
        "it they go to stdin); prints JSON lines {study_uid, linked_study_uid}"
    )
    env: dict[str, str] = Field(default_factory=dict, description="extra environment (${…} ok)")
    timeout: float = Field(60, gt=0, description="seconds before the command is stopped")


def _describe(config: CommandLinksConfig) -> str:
    return f"command links {shlex.join(config.command)}"


def _build(config: CommandLinksConfig, context: Context) -> CommandLinks:
    return CommandLinks(
        config.command, timeout=config.timeout, env=config.env, secrets=context.secrets
    )


def _probe(config: CommandLinksConfig, context: Context) -> str:
    """The program exists; then it answers for a UID no study has."""
    program = config.command[0] if config.command else ""
    if not program or shutil.which(program) is None:
        raise DicomfabError(f"program not found: {program or '(empty command)'}")
    return str(probe(_build)(config, context))


ADAPTER = Adapter("command", "links", CommandLinksConfig, _describe, _build, _probe)
