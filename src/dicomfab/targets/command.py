"""Command ingestion: a product ingests a folder by running its own program.

    CommandIngestor(["importer", "--input", "{dicoms}"], folder=out, sentinel="{folder}/done.txt")
        .run() -> CommandResult            # or .ingest(files) -> Receipt([], elapsed)

The command is an argv list (a single string is split with :func:`shlex.split`); it never goes
through a shell. ``{folder}``, ``{dicoms}`` (``folder/dicoms``) and ``{jsons}`` (``folder/jsons``)
are replaced in every argv element, in ``cwd``, in ``sentinel`` and in ``env`` values. The process
gets the parent's environment, the ``passthrough`` variables that are set, and ``env`` (which wins);
it runs in a session of its own (:mod:`dicomfab.targets._children`): the terminal's Ctrl-C reaches
dicomfab only, and on every way out (done, failed, timed out, interrupted) whatever the command
started and left running is stopped (SIGTERM, then SIGKILL), with a ``#`` line in the log that
says what was stopped and why.

Its stdout and stderr go, line by line, into ``log_path`` with every ``secrets`` value and the
value of every ``passthrough`` variable not named in ``public`` replaced by ``***`` (see
:mod:`dicomfab.targets.secrets`). It is done when the ``sentinel`` file appears (a sentinel
that existed before is "appeared" once it is touched or written again), or, without a
sentinel, when it exits with 0. Every failure (not found, non-zero exit, timeout) is a one-line
:class:`~dicomfab.errors.TargetError` that never contains a secret; the log stays on disk.
Which instances arrived is not known here: the verifier tells.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Literal

from pydantic import Field

from dicomfab.errors import DicomfabError, TargetError, TargetTimeoutError
from dicomfab.targets._children import GRACE, forget, session_members, spawn, stop
from dicomfab.targets.receipt import Progress, Receipt
from dicomfab.targets.registry import Adapter, AdapterConfig, Context
from dicomfab.targets.secrets import Masker, is_secret

EXIT_GRACE = 10.0  # seconds the process may take to exit by itself once the sentinel is there
TERM_GRACE = GRACE  # seconds between SIGTERM and SIGKILL


@dataclass(frozen=True)
class CommandResult:
    """How the command went: the argv as run (secrets masked), its exit code (negative: the
    signal that ended it; ``None``: it was left running), the wall time, the sentinel that
    marked completion (``None`` without one), the log, and whether we had to stop it."""

    argv: tuple[str, ...]
    returncode: int | None
    elapsed: float
    sentinel: Path | None
    log_path: Path
    terminated: bool = False
    missing_passthrough: tuple[str, ...] = ()


class _LogPump:
    """Copy the process's output into the log, masked, and remember the last non-empty line."""

    def __init__(self, stream: IO[bytes], log: IO[str], mask: Masker) -> None:
        self.stream = stream
        self.log = log
        self.mask = mask
        self.last_line = ""
        self.thread = threading.Thread(target=self._run, name="dicomfab-command-log", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for raw in iter(self.stream.readline, b""):
                line = self.mask(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
                self.log.write(line + "\n")
                self.log.flush()
                if line.strip():
                    self.last_line = line.strip()
        except (OSError, ValueError):  # the pipe or the log went away: nothing more to copy
            pass
        finally:
            with contextlib.suppress(OSError):
                self.stream.close()
            with contextlib.suppress(OSError, ValueError):
                self.log.close()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)


def _seconds(value: float) -> str:
    return f"{value:g} s"


class CommandIngestor:
    """Ingest ``folder`` by running ``command`` (see the module docstring for the rules).

    ``timeout`` bounds the whole run, including the wait for the sentinel; ``poll`` is how often
    the process and the sentinel are checked; ``exit_grace`` is how long the process may keep
    running once the sentinel is there before it is stopped (SIGTERM, then SIGKILL).
    ``log_path`` defaults to a new file in the system temp folder (not in ``folder``, which the
    product may be scanning). A relative ``sentinel`` is relative to ``folder``. ``public``
    names the passthrough variables whose values may be shown (unless their name says they are
    a secret); ``secrets`` are further values to mask (e.g. those of ``env``)."""

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        folder: Path,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        passthrough: Sequence[str] = (),
        sentinel: str | None = None,
        timeout: float = 3600,
        log_path: Path | None = None,
        poll: float = 0.2,
        secrets: Iterable[str] = (),
        exit_grace: float = EXIT_GRACE,
        public: Sequence[str] = (),
    ) -> None:
        argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
        if not argv:
            raise ValueError("the ingest command is empty")
        if timeout <= 0 or poll <= 0:
            raise ValueError("timeout and poll must be positive")
        self.folder = Path(folder)
        self.command = argv
        self.cwd = cwd
        self.env = dict(env or {})
        self.passthrough = tuple(passthrough)
        self.sentinel = sentinel
        self.timeout = float(timeout)
        self.log_path = log_path
        self.poll = float(poll)
        self.exit_grace = float(exit_grace)
        self.term_grace = TERM_GRACE
        self._secrets = [str(s) for s in secrets]
        self.public = frozenset(public)
        self._mask = Masker(self._secrets)
        self.last_result: CommandResult | None = None
        self.last_log_path: Path | None = None  # the log of the last run, also when it failed

    # --- what will run ----------------------------------------------------------------------

    def _substitute(self, text: str) -> str:
        folder = self.folder
        for name, value in (
            ("{folder}", folder),
            ("{dicoms}", folder / "dicoms"),
            ("{jsons}", folder / "jsons"),
        ):
            text = text.replace(name, str(value))
        return text

    @property
    def argv(self) -> list[str]:
        """The command with its placeholders replaced (secrets not masked)."""
        return [self._substitute(arg) for arg in self.command]

    @property
    def sentinel_path(self) -> Path | None:
        if self.sentinel is None:
            return None
        path = Path(self._substitute(self.sentinel))
        return path if path.is_absolute() else self.folder / path

    def _environment(self) -> tuple[dict[str, str], tuple[str, ...]]:
        environment = dict(os.environ)
        missing = []
        for name in self.passthrough:
            if name in os.environ:
                environment[name] = os.environ[name]
            else:
                missing.append(name)
        environment.update({k: self._substitute(str(v)) for k, v in self.env.items()})
        return environment, tuple(missing)

    def _passthrough_secrets(self) -> list[str]:
        """The values of the passthrough variables that are not public."""
        return [
            os.environ[name]
            for name in self.passthrough
            if os.environ.get(name) and (name not in self.public or is_secret(name, ""))
        ]

    def _fail(self, message: str, kind: type[TargetError] = TargetError) -> TargetError:
        return kind(self._mask.one_line(message))

    # --- running ----------------------------------------------------------------------------

    def ingest(self, files: Sequence[Path], progress: Progress | None = None) -> Receipt:
        """Run the command; the receipt has no per-file results (the command does not tell)."""
        result = self.run()
        if progress:
            progress(len(files))
        return Receipt([], result.elapsed)

    def run(self) -> CommandResult:
        self._mask = Masker([*self._secrets, *self._passthrough_secrets()])
        argv = self.argv
        shown = tuple(self._mask(a) for a in argv)
        cwd = Path(self._substitute(str(self.cwd))) if self.cwd is not None else None
        if cwd is not None and not cwd.is_dir():
            raise self._fail(f"ingest command working directory does not exist: {cwd}")
        sentinel = self.sentinel_path
        before = _stat(sentinel)
        environment, missing = self._environment()
        log_path = self._open_log_path()
        self.last_log_path = log_path
        log = log_path.open("w", encoding="utf-8")
        log.write(f"# {shlex.join(shown)}\n")
        if cwd is not None:
            log.write(f"# cwd: {self._mask(str(cwd))}\n")
        if missing:
            log.write(f"# passthrough variables not set: {', '.join(missing)}\n")
        log.flush()
        start = time.monotonic()
        try:
            process = spawn(
                argv,
                cwd=cwd,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except FileNotFoundError:
            log.write(f"# not found: {shown[0]}\n")
            log.close()
            raise self._fail(f"ingest command not found: {argv[0]}") from None
        except PermissionError:
            log.write(f"# not executable: {shown[0]}\n")
            log.close()
            raise self._fail(f"ingest command not executable: {argv[0]}") from None
        except OSError as exc:
            log.write(f"# cannot start: {exc}\n")
            log.close()
            raise self._fail(f"ingest command cannot start: {argv[0]}: {exc.strerror}") from None
        assert process.stdout is not None
        pump = _LogPump(process.stdout, log, self._mask)
        cause: BaseException | None = None
        try:
            result = self._wait(process, pump, sentinel, before, start, shown, log_path)
            result = replace(result, missing_passthrough=missing)
        except BaseException as exc:
            cause = exc
            raise
        finally:
            self._stop_everything(process, pump, log_path, cause)
        self.last_result = result
        return result

    def _stop_everything(
        self,
        process: subprocess.Popen[bytes],
        pump: _LogPump,
        log_path: Path,
        cause: BaseException | None,
    ) -> None:
        """Whatever happened, nothing the command started outlives this run: stop its session
        and say in the log what was stopped and why."""
        running = process.poll() is None
        left = [pid for pid in session_members(process.pid) if pid != process.pid]
        if not running and not left:
            forget(process)
            pump.join(2.0)
            return
        code = stop(process, self.term_grace)
        pump.join(2.0)
        what = (
            "the command and everything it started"
            if running
            else (f"{len(left)} process{'es' if len(left) != 1 else ''} the command left running")
        )
        _log_note(log_path, f"{_why(cause)}: stopped {what} (exit {code})")

    def _open_log_path(self) -> Path:
        if self.log_path is not None:
            path = Path(self._substitute(str(self.log_path)))
            path.parent.mkdir(parents=True, exist_ok=True)
            return path
        fd, name = tempfile.mkstemp(prefix="dicomfab-ingest-", suffix=".log")
        os.close(fd)
        return Path(name)

    def _wait(
        self,
        process: subprocess.Popen[bytes],
        pump: _LogPump,
        sentinel: Path | None,
        before: tuple[int, int] | None,
        start: float,
        shown: tuple[str, ...],
        log_path: Path,
    ) -> CommandResult:
        deadline = start + self.timeout
        while True:
            returncode = process.poll()
            if sentinel is not None and _appeared(sentinel, before):
                terminated = False
                try:
                    returncode = process.wait(timeout=self.exit_grace)
                except subprocess.TimeoutExpired:
                    returncode = stop(process, self.term_grace)
                    terminated = True
                pump.join(2.0)
                if terminated:
                    _log_note(
                        log_path,
                        f"sentinel {sentinel} appeared; the command was still running "
                        f"{_seconds(self.exit_grace)} later: stopped it (exit {returncode})",
                    )
                return CommandResult(
                    shown, returncode, time.monotonic() - start, sentinel, log_path, terminated
                )
            if returncode is not None and returncode != 0:
                _drain(process, pump)
                last = pump.last_line or "no output"
                raise self._fail(f"ingest command exited with {returncode}: {last}")
            if returncode == 0 and sentinel is None:
                _drain(process, pump)
                return CommandResult(shown, 0, time.monotonic() - start, None, log_path)
            now = time.monotonic()
            if now >= deadline:
                still = process.poll() is None
                if still:
                    stop(process, self.term_grace)
                pump.join(2.0)
                waiting = f" waiting for sentinel {sentinel}" if sentinel is not None else ""
                after = _seconds(self.timeout)
                _log_note(
                    log_path,
                    f"timed out after {after}{waiting}: "
                    + ("stopped the command" if still else "the command had exited 0"),
                )
                why = f"ingest command timed out after {after}{waiting}"
                raise self._fail(why, TargetTimeoutError)
            time.sleep(min(self.poll, max(0.0, deadline - now)))


def _drain(process: subprocess.Popen[bytes], pump: _LogPump) -> None:
    """Let the log catch up with the exited command; not long when processes it left running
    hold the pipe open (they are stopped next)."""
    left = any(pid != process.pid for pid in session_members(process.pid))
    pump.join(0.5 if left else 5.0)


def _log_note(log_path: Path, text: str) -> None:
    """Append a ``# note`` line to the log (after the process's own output)."""
    with contextlib.suppress(OSError), log_path.open("a", encoding="utf-8") as log:
        log.write(f"# {text}\n")


def _stat(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _appeared(path: Path, before: tuple[int, int] | None) -> bool:
    now = _stat(path)
    return now is not None and now != before


def _why(cause: BaseException | None) -> str:
    """Why the command is being stopped, for its log."""
    if isinstance(cause, KeyboardInterrupt):
        signum = getattr(cause, "signum", signal.SIGINT)
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        return f"dicomfab was interrupted ({name})"
    if cause is None:
        return "the ingest is over"
    if isinstance(cause, TargetError):
        return f"the ingest failed ({cause})"
    return f"dicomfab stopped on an error ({type(cause).__name__})"


# ── the ``command`` ingest kind ──────────────────────────────────────────────────────────────

LOG_NAME = "ingest.log"  # in the run's logs folder


class CommandIngest(AdapterConfig):
    kind: Literal["command"]
    command: str | list[str] = Field(
        description="argv (a string is split like a shell would); {folder} is the merged "
        "dataset folder, {dicoms} and {jsons} its two parts"
    )
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict, description="extra environment (${…} ok)")
    passthrough: list[str] = Field(
        default_factory=list,
        description="variables copied from dicomfab's environment, e.g. BOLUS2_PASSWORD",
    )
    public: list[str] = Field(
        default_factory=list,
        description="passthrough variables, env keys or ${…} names used in env whose values "
        'may be shown, e.g. ["BOLUS2_PARTNER_NAME"]; every other passthrough and ${…} env '
        "value is masked in the console, the logs and the reports (a name that says it is a "
        "secret, like *_PASSWORD, is masked all the same)",
    )
    sentinel: str | None = Field(
        None, description="file whose appearance means done, e.g. {folder}/ingestion_complete.txt"
    )
    timeout: float = Field(3600, gt=0, description="seconds before giving up")


def command_argv(config: CommandIngest) -> list[str]:
    return shlex.split(config.command) if isinstance(config.command, str) else list(config.command)


def _describe(config: CommandIngest) -> str:
    sentinel = f" (sentinel {config.sentinel})" if config.sentinel else ""
    return f"command {shlex.join(command_argv(config))}{sentinel}"


def _build(config: CommandIngest, context: Context) -> CommandIngestor:
    return CommandIngestor(
        command_argv(config),
        folder=context.folder,
        cwd=Path(config.cwd) if config.cwd else None,
        env=config.env,
        passthrough=config.passthrough,
        sentinel=config.sentinel,
        timeout=config.timeout,
        log_path=context.logs / LOG_NAME,
        secrets=context.secrets,
        public=config.public,
    )


def _probe(config: CommandIngest, context: Context) -> str:
    """The program exists, the working directory exists, passthrough variables are set."""
    argv = command_argv(config)
    program = argv[0] if argv else ""
    if not program:
        raise DicomfabError("the command is empty")
    if "{" not in program and shutil.which(program) is None:
        raise DicomfabError(f"program not found: {program}")
    if config.cwd and "{" not in config.cwd and not Path(config.cwd).is_dir():
        raise DicomfabError(f"working directory does not exist: {config.cwd}")
    unset = [name for name in config.passthrough if name not in os.environ]
    if unset:
        raise DicomfabError(f"passthrough variables not set: {', '.join(unset)}")
    passed = f", {len(config.passthrough)} variables to pass" if config.passthrough else ""
    return f"{program} found{passed}"


def _logs(config: CommandIngest, context: Context) -> list[Path]:
    return [context.logs / LOG_NAME]


ADAPTER = Adapter("command", "ingest", CommandIngest, _describe, _build, _probe, _logs)
