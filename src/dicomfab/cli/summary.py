"""``dicomfab summary``: a table of the datasets in an output folder, read from their manifests."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import click
from rich.table import Table

from dicomfab.build import encoding
from dicomfab.cli.common import console, human_bytes
from dicomfab.errors import DicomfabError
from dicomfab.output.manifest import Manifest


def _load(path: Path) -> Manifest:
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DicomfabError(f"{path}: not a dicomfab manifest ({exc})") from None


@dataclass(frozen=True)
class DatasetSummary:
    dataset: str
    patients: int
    studies: int
    instances: int
    files: int
    bytes: int
    iods: dict[str, int]
    transfer_syntaxes: dict[str, int]


def summarise(manifest: Manifest) -> DatasetSummary:
    instances = manifest.instances()
    ts_names = {ts.uid: ts.name for ts in encoding.REGISTRY}
    return DatasetSummary(
        dataset=manifest.dataset,
        patients=len(manifest.patients),
        studies=sum(len(p.studies) for p in manifest.patients),
        instances=len(instances),
        files=sum(i.written for i in instances),
        bytes=sum(i.size or 0 for i in instances),
        iods=dict(Counter(i.iod for i in instances)),
        transfer_syntaxes=dict(
            Counter(ts_names.get(i.transfer_syntax, i.transfer_syntax) for i in instances)
        ),
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name}×{n}" for name, n in counts.items())


@click.command("summary")
@click.argument(
    "folder", type=click.Path(file_okay=False, exists=True, path_type=Path), default="out"
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (for scripts).")
def command(folder: Path, as_json: bool) -> None:
    """Summarise every dataset in FOLDER (default: out): studies, files, IODs, syntaxes."""
    rows = [summarise(_load(path)) for path in sorted(folder.glob("*/manifest.json"))]
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    if not rows:
        raise DicomfabError(f"no datasets (no */manifest.json) in {folder}")
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
