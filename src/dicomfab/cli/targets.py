"""``dicomfab targets`` (what is configured) and ``dicomfab check`` (can each part be reached)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dicomfab.cli.common import TARGETS_CONFIG_OPTION, console, escape


@click.command("targets")
@TARGETS_CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the targets as JSON.")
def targets_command(config: Path | None, as_json: bool) -> None:
    """List the targets `dicomfab run --target` knows, secrets masked.

    The embedded PACS is always there (used when no --target is given). A target that cannot be
    used (an unset ${VARIABLE}, an invalid field) is listed with its problem; the exit code is 2
    when the config defines targets and none of them can be used."""
    from dicomfab.run.connect import load_targets, target_rows
    from dicomfab.targets.config import find_config
    from dicomfab.targets.registry import plugin_problems

    path = find_config(config)
    targets = load_targets(path)
    rows = target_rows(targets)
    if as_json:
        click.echo(json.dumps({"config": str(path) if path else None, "targets": rows}, indent=2))
    else:
        from rich.table import Table

        table = Table(title=f"targets ({path or 'no dicomfab.toml found'})")
        for column in ("Name", "Description", "Ingest", "Verify", "Links"):
            table.add_column(column, overflow="fold")
        for row in rows:
            if row["problem"]:
                problem = f"[red]BROKEN:[/] {escape(row['problem'])}"
                table.add_row(row["name"], problem, "", "", "")
                continue
            verify = "\n".join(row["verify"])
            table.add_row(row["name"], row["description"], row["ingest"], verify, row["links"])
        console.print(table)
    for problem in plugin_problems():
        click.echo(f"warning: {problem}", err=True)
    if targets.broken and not targets.targets:
        raise SystemExit(2)


@click.command("check")
@click.option("-t", "--target", help="Target to check (default: the embedded PACS).")
@TARGETS_CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def check_command(target: str | None, config: Path | None, as_json: bool) -> None:
    """Check that each part of a target answers (C-ECHO, DICOMweb, command, SQL through its SSH
    tunnel, C-FIND, QIDO-RS, the link relation) without sending any data.

    Exit code 0 when every part answered, 3 otherwise."""
    from dicomfab.run.connect import EMBEDDED, load_targets
    from dicomfab.run.probe import probe
    from dicomfab.targets.config import find_config

    targets = load_targets(find_config(config))
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dicomfab-check-") as tmp:
        probes = probe(target, targets, Path(tmp))
    if as_json:
        rows = [p.__dict__ for p in probes]
        click.echo(json.dumps({"target": target or EMBEDDED, "probes": rows}, indent=2))
    else:
        from rich.table import Table

        table = Table(title=f"target {target or EMBEDDED}")
        for column in ("Part", "What", "Result", "Detail", "Time"):
            table.add_column(column, overflow="fold")
        for p in probes:
            result = "[green]ok[/]" if p.ok else "[red]FAIL[/]"
            table.add_row(p.part, p.what, result, p.detail, f"{p.seconds:.2f} s")
        console.print(table)
    if not all(p.ok for p in probes):
        raise SystemExit(3)
