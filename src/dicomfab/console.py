"""The ``dicomfab`` console script: the composition root joining the command line's commands
(:mod:`dicomfab.cli`) and the web UI's ``ui`` (:mod:`dicomfab.web.command`), which never
import each other."""

from __future__ import annotations

from dicomfab import cli as _cli
from dicomfab.web.command import command as ui_command

#: the whole ``dicomfab`` command line
cli = _cli.make_group(ui_command)


def main(argv: list[str] | None = None) -> None:
    """The console script's entry point: ``dicomfab ARGS``, exit code as :mod:`dicomfab.cli`
    documents."""
    _cli.main(argv, group=cli)
