"""``dicomfab list``: what dicomfab can generate."""

from __future__ import annotations

import json

import click
from rich.table import Table

from dicomfab.build import encoding
from dicomfab.build.iods import registry
from dicomfab.cli.common import console


@click.command("list")
@click.argument("what", type=click.Choice(["iods", "transfer-syntaxes"]), default="iods")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (for scripts).")
def command(what: str, as_json: bool) -> None:
    """List the IODs or transfer syntaxes dicomfab can write."""
    rows: list[dict[str, object]]
    if what == "iods":
        rows = [
            {
                "name": t.name,
                "title": t.title,
                "sop_class_uid": t.sop_class_uid,
                "modality": t.modality,
                "aliases": list(t.aliases),
            }
            for t in registry.templates()
        ]
    else:
        rows = [
            {
                "name": ts.name,
                "title": ts.title,
                "uid": ts.uid,
                "lossy": ts.lossy,
                "available": ts.is_available(),
            }
            for ts in encoding.REGISTRY
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table()
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(", ".join(v) if isinstance(v, list) else str(v) for v in row.values()))
    console.print(table)
