"""The public API and the CLI reference do not drift silently."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import click
from click.testing import CliRunner

import dicomfab
from dicomfab.console import cli

DOCS = Path(__file__).parent.parent / "docs" / "cli.md"


def test_public_api_is_exactly_all() -> None:
    # subpackages become attributes once anything imports them: they are not the API
    public = {
        name
        for name in dir(dicomfab)
        if not name.startswith("_") and not isinstance(getattr(dicomfab, name), ModuleType)
    }
    public.discard("annotations")  # from __future__
    assert public == set(dicomfab.__all__) - {"__version__"}
    assert sorted(dicomfab.__all__) == dicomfab.__all__


def _reference() -> str:
    runner = CliRunner()
    parts = [
        "# Command-line reference\n",
        "Generated from `--help`; `UPDATE_DOCS=1 pytest tests/test_public_api.py` rewrites it.\n",
    ]
    commands: list[tuple[str, list[str]]] = [("dicomfab", [])]
    assert isinstance(cli, click.Group)
    names = cli.list_commands(click.Context(cli))
    commands += [(f"dicomfab {name}", [name]) for name in names]
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


LIBRARY_DOC = Path(__file__).parent.parent / "docs" / "scenario-library.md"


def _library_reference() -> str:
    from dicomfab.scenarios import scenarios

    lines = [
        "# Scenario library",
        "",
        "Generated from the scenario files; `UPDATE_DOCS=1 pytest tests/test_public_api.py` "
        "rewrites it. `dicomfab describe NAME` shows a full card.",
        "",
    ]
    by_category: dict[str, list[str]] = {}
    for s in scenarios().values():
        expected = ", ".join(sorted({s.expect.default, *s.expect.instances.values()}))
        hidden = [
            key + (f" ({', '.join(mark.ingest)} ingest)" if mark.ingest else "")
            for key, mark in s.expect.unobservable().items()
        ]
        if hidden:
            expected += f"; not observable: {', '.join(hidden)}"
        aliases = f" (also: {', '.join(s.aliases)})" if s.aliases else ""
        summary = " ".join(s.description.split())
        by_category.setdefault(s.category, []).append(
            f"| `{s.name}`{aliases} | {summary} | {expected} |"
        )
    for category, rows in sorted(by_category.items()):
        lines += [f"## {category} ({len(rows)})", "", "| name | what | expected |", "|---|---|---|"]
        lines += [*rows, ""]
    return "\n".join(lines)


def test_scenario_library_reference_matches_the_library() -> None:
    text = _library_reference()
    if os.environ.get("UPDATE_DOCS"):
        LIBRARY_DOC.write_text(text, encoding="utf-8")
    hint = "the library changed: run UPDATE_DOCS=1 pytest tests/test_public_api.py"
    assert LIBRARY_DOC.read_text(encoding="utf-8") == text, hint


IODS_DOC = Path(__file__).parent.parent / "docs" / "iods.md"


def test_iod_reference_matches_the_registry() -> None:
    from dicomfab.builder.iods.reference import docs_blocks, fill_blocks

    text = IODS_DOC.read_text(encoding="utf-8")
    expected = fill_blocks(text, docs_blocks())
    if os.environ.get("UPDATE_DOCS"):
        IODS_DOC.write_text(expected, encoding="utf-8")
    hint = "the IOD registry changed: run UPDATE_DOCS=1 pytest tests/test_public_api.py"
    assert IODS_DOC.read_text(encoding="utf-8") == expected, hint
