"""``dicomfab schema``: the spec's JSON Schema, for editors and the web UI."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("schema")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
def command(output: Path | None) -> None:
    """Print the JSON Schema of a spec (what `generate --config` reads)."""
    from dicomfab.builder.schema import spec_schema

    text = json.dumps(spec_schema(), indent=2) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
