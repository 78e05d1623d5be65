"""The ``dicomfab`` command line. Each subcommand lives in its own module and calls the public
library API; this module only wires them together and turns errors into exit codes:

    0  success          1  the job ran but found problems (e.g. validation failed)
    2  bad input (spec, options, files): one clear message, nothing written
    3  the target failed (``run``, ``check``): the reason is in the console and the reports
  130  interrupted by SIGINT (Ctrl-C)   143  stopped by SIGTERM (e.g. a CI cancel)
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click

from dicomfab._version import __version__
from dicomfab.cli.common import collect_from_here, console_err, escape
from dicomfab.errors import DicomfabError, Interrupted

#: the subcommands this package defines: name → ``module:attribute``, imported when used (so
#: ``dicomfab generate`` never loads the run stack: SQLAlchemy, httpx, pynetdicom …)
COMMANDS: dict[str, str] = {
    "generate": "dicomfab.cli.generate:command",
    "list": "dicomfab.cli.listing:command",
    "describe": "dicomfab.cli.describe:command",
    "schema": "dicomfab.cli.schema:command",
    "validate": "dicomfab.cli.validate:command",
    "inspect": "dicomfab.cli.inspect:command",
    "summary": "dicomfab.cli.summary:command",
    "run": "dicomfab.cli.run:command",
    "targets": "dicomfab.cli.targets:targets_command",
    "check": "dicomfab.cli.targets:check_command",
    "load": "dicomfab.cli.load:command",
}


#: commands that turn the garbage collector on themselves, once their stack is imported
#: (:func:`dicomfab.cli.common.collect_from_here`); every other one has it on from the start
SELF_COLLECTING = frozenset({"generate"})


class LazyGroup(click.Group):
    """A group whose :data:`COMMANDS` are imported on first use (click's documented pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SELF_COLLECTING:
            collect_from_here()
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, _, attribute = COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command) and command.name == cmd_name
            self.add_command(command)
        return super().get_command(ctx, cmd_name)


def make_group(*extra: click.Command) -> click.Group:
    """The ``dicomfab`` group: :data:`COMMANDS` plus ``extra``. The console script's group
    (:mod:`dicomfab.console`) adds the web UI's ``ui``; this package never imports the web."""

    @click.group(
        cls=LazyGroup,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    @click.version_option(__version__, prog_name="dicomfab")
    def cli() -> None:
        """Generate synthetic DICOM studies (clean or deliberately broken) and test ingestion.

        \b
        Start here:
          dicomfab generate --output out --config study.yaml   build a study from a spec
          dicomfab schema                                      the spec's JSON Schema
          dicomfab inspect out/<name>/dicoms/<uid>/<uid>.dcm   read a file back
          dicomfab run --image-size small                      every scenario, end to end
        """

    for command in extra:
        cli.add_command(command)
    return cli


#: the library's commands alone (no ``ui``); ``dicomfab.console.cli`` is the whole command line
cli = make_group()


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread while the command runs
    (so every ``finally`` and every ``except KeyboardInterrupt`` cleans up on SIGTERM too); the
    handlers in force before are restored on exit.

    A signal that lands while Python runs a finalizer (``__del__``, a weakref callback) raises
    there, where Python prints "Exception ignored" and drops it: the interruption would be
    lost. Such a dropped interruption is delivered again, to run on in ordinary code."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    saved_hook = sys.unraisablehook

    def redeliver(unraisable: sys.UnraisableHookArgs) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            signum = getattr(unraisable.exc_value, "signum", signal.SIGINT)
            # from another thread, a moment later (raised here, it would be dropped again), and
            # to the main thread itself: a process-wide kill may land on the sending thread,
            # which leaves the main thread asleep (a sleep of minutes would hide it that long)
            main = threading.main_thread().ident
            assert main is not None
            threading.Timer(0.01, signal.pthread_kill, (main, signum)).start()
        else:
            saved_hook(unraisable)

    for sig in saved:
        signal.signal(sig, _raise_interrupted)
    sys.unraisablehook = redeliver
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        sys.unraisablehook = saved_hook


def _interrupted(exc: BaseException) -> Interrupted:
    """The :class:`Interrupted` behind a KeyboardInterrupt (click wraps it in an Abort)."""
    while exc is not None and not isinstance(exc, KeyboardInterrupt):
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    if isinstance(exc, Interrupted):
        return exc
    found = Interrupted(signal.SIGINT)
    if exc is not None:
        found.__dict__.update(exc.__dict__)  # e.g. the run folder a pipeline attached
    return found


def _report_interrupted(exc: BaseException) -> int:
    """One line on stderr (never a traceback); the exit code, 128 + the signal."""
    stop = _interrupted(exc)
    name = signal.Signals(stop.signum).name
    stage = getattr(stop, "stage", None)
    run_dir = getattr(stop, "run_dir", None)
    text = f"interrupted ({name})" + (f" during {stage}" if stage else "")
    if run_dir is not None:
        text += f"; the run folder keeps what was done: {run_dir}"
    console_err.print(escape(text), highlight=False, soft_wrap=True)
    return stop.exit_code


def main(argv: list[str] | None = None, group: click.Group = cli) -> None:
    """Run ``group`` on ``argv`` (default: ``sys.argv``) and exit with its code."""
    with interruptible():
        code = _main(group, argv)
    sys.exit(code)


def _main(group: click.Group, argv: list[str] | None) -> int:
    try:
        group.main(args=argv, prog_name="dicomfab", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if exc.__cause__ is None and exc.__context__ is None:
            console_err.print("aborted")
            return 130
        return _report_interrupted(exc)
    except KeyboardInterrupt as exc:
        return _report_interrupted(exc)
    except click.ClickException as exc:
        exc.show()
        return 2 if isinstance(exc, click.UsageError) else exc.exit_code
    except DicomfabError as exc:
        # escape: a message quotes user values ("[red]" is not markup); soft_wrap: one line each
        console_err.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        return 2
    return 0
