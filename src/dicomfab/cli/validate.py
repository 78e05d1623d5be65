"""``dicomfab validate``: check a spec without writing anything."""

from __future__ import annotations

from pathlib import Path

import click

from dicomfab.cli.common import console, note, plan_from


@click.command("validate")
@click.argument("spec_file", type=click.Path(dir_okay=False, path_type=Path))
def command(spec_file: Path) -> None:
    """Check SPEC_FILE: fields, tag keywords and values, dates, IODs, transfer syntaxes.

    Exit code 0 when valid; 2 with every problem and its path when not.
    """
    from dicomfab.studyspec.loading import load_spec

    plan = plan_from(load_spec(spec_file, warn=note), spec_file)
    console.print(
        f"[green]valid[/]: {len(plan.patients)} patients, {len(plan.studies)} studies, "
        f"{len(plan.instances)} instances"
    )
