"""``dicomfab inspect``: a readable header of a DICOM file, and a PNG preview."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dicomfab.cli.common import console
from dicomfab.errors import DicomfabError


@click.command("inspect")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--png",
    "png",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a windowed PNG preview of the (first frame of the) image.",
)
@click.option(
    "--size",
    type=click.IntRange(16, 4096),
    default=512,
    show_default=True,
    help="Longest side of the PNG preview, in pixels.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the header as DICOM JSON.")
def command(file: Path, png: Path | None, size: int, as_json: bool) -> None:
    """Print the header of FILE (a DICOM Part 10 file)."""
    from dicomfab.output.preview import read_header, render_png

    ds = read_header(file)
    if as_json:
        click.echo(
            json.dumps(
                ds.to_json_dict(bulk_data_threshold=256, bulk_data_element_handler=lambda e: ""),
                indent=2,
            )
        )
    else:
        console.print(str(ds), markup=False)
    if png:
        try:
            render_png(file, png, size)
        except DicomfabError:
            raise
        console.print(f"preview written to {png}")
