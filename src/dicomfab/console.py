"""The ``dicomfab`` console script: the composition root joining the command line's commands
(:mod:`dicomfab.cli`) and the web UI's ``ui`` (:mod:`dicomfab.web.command`), which never
import each other."""

from __future__ import annotations

from dicomfab import cli as _cli
from dicomfab.web.command import command as ui_command

#: the whole ``dicomfab`` command line
cli = _cli.make_group(ui_command)


def main(argv: list[str] | None = None) -> None:
    """``dicomfab ARGS`` in this process (it raises SystemExit with the code :mod:`dicomfab.cli`
    documents); the console script runs :func:`run`."""
    _cli.main(argv, group=cli)


def run() -> None:
    """The process's entry point (the ``dicomfab`` script, ``python -m dicomfab``): :func:`main`,
    then the process ends without the interpreter's slow teardown when nothing needs it
    (:mod:`dicomfab.cli.process_exit`)."""
    import gc

    from dicomfab.cli.process_exit import exit_process

    gc.disable()  # until the command has imported its stack: dicomfab.cli.common.collect_from_here
    try:
        main()
    except SystemExit as exc:
        exit_process(exc.code)
    exit_process(0)  # pragma: no cover - main() always raises SystemExit
