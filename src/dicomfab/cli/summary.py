"""``dicomfab summary``: a table of the datasets in an output folder, read from their manifests."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from dicomfab.cli.common import console, human_bytes
from dicomfab.errors import DicomfabError


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name}×{n}" for name, n in counts.items())


@click.command("summary")
@click.argument(
    "folder", type=click.Path(file_okay=False, exists=True, path_type=Path), default="out"
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (for scripts).")
def command(folder: Path, as_json: bool) -> None:
    """Summarise every dataset in FOLDER (default: out): studies, files, IODs, syntaxes."""
    from dicomfab.output.summary import load_manifest, summarise

    rows = [summarise(load_manifest(path)) for path in sorted(folder.glob("*/manifest.json"))]
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    if not rows:
        raise DicomfabError(f"no datasets (no */manifest.json) in {folder}")
    from rich.table import Table

    table = Table(title=f"datasets in {folder}", title_justify="left")
    for column in ("dataset", "patients", "studies", "files", "size", "IODs", "transfer syntaxes"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r.dataset,
            str(r.patients),
            str(r.studies),
            f"{r.files}/{r.instances}",
            human_bytes(r.bytes),
            _counts(r.iods),
            _counts(r.transfer_syntaxes),
        )
    console.print(table)
