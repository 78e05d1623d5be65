"""The public API and the CLI reference do not drift silently."""

from __future__ import annotations

import os
from pathlib import Path

import click
from click.testing import CliRunner

import dicomfab
from dicomfab.cli import cli

DOCS = Path(__file__).parent.parent / "docs" / "cli.md"


def test_public_api_is_exactly_all() -> None:
    public = {name for name in dir(dicomfab) if not name.startswith("_")}
    modules = {"build", "cli", "errors", "output", "spec", "scenarios", "annotations"}
    assert public - modules == set(dicomfab.__all__) - {"__version__"}
    assert sorted(dicomfab.__all__) == dicomfab.__all__


def _reference() -> str:
    runner = CliRunner()
    parts = [
        "# Command-line reference\n",
        "Generated from `--help`; `UPDATE_DOCS=1 pytest tests/test_public_api.py` rewrites it.\n",
    ]
    commands: list[tuple[str, list[str]]] = [("dicomfab", [])]
    assert isinstance(cli, click.Group)
    commands += [(f"dicomfab {name}", [name]) for name in sorted(cli.commands)]
    for title, args in commands:
        result = runner.invoke(cli, [*args, "--help"], prog_name="dicomfab", terminal_width=100)
        assert result.exit_code == 0, result.output
        parts.append(f"## `{title}`\n\n```text\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


def test_cli_reference_matches_help() -> None:
    text = _reference()
    if os.environ.get("UPDATE_DOCS"):
        DOCS.write_text(text, encoding="utf-8")
    assert DOCS.read_text(encoding="utf-8") == text, (
        "run: UPDATE_DOCS=1 pytest tests/test_public_api.py"
    )
