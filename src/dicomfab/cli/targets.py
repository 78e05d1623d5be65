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
@click.option(
    "--associations", "measure", is_flag=True,
    help="Then probe how many associations the target serves at once, SEND short bursts of "
    "synthetic MG studies over 1, 2, 3, 4, 6, 8 … parallel associations and recommend how many "
    "the target wants (C-STORE targets only).",
)  # fmt: skip
@click.option(
    "--max-associations", type=click.IntRange(1, 16), default=8, show_default=True,
    help="With --associations: the most associations to try.",
)  # fmt: skip
@click.option(
    "--studies", type=click.IntRange(1, 1000), default=8, show_default=True,
    help="With --associations: 4-instance studies per step (raised so that each association "
    "gets two instances).",
)  # fmt: skip
@click.option(
    "--image-size", type=click.Choice(["full", "reduced", "small"]), default="reduced",
    show_default=True, help="With --associations: image size of the studies sent.",
)  # fmt: skip
@click.option(
    "--repeat", type=click.IntRange(1, 20), default=1, show_default=True,
    help="With --associations: bursts per association count; each count's rate is their "
    "median (3 on a shared or noisy machine).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def check_command(
    target: str | None,
    config: Path | None,
    measure: bool,
    max_associations: int,
    studies: int,
    image_size: str,
    repeat: int,
    as_json: bool,
) -> None:
    """Check that each part of a target answers (C-ECHO, DICOMweb, command, SQL through its SSH
    tunnel, C-FIND, QIDO-RS, the link relation); no data is sent unless --associations is given.

    \b
    --associations SENDS DATA into the target: after the checks, a probe (C-ECHO only) of how
    many associations the target serves at once, a warm-up burst, then a short burst of
    synthetic MG studies (new UIDs, pixels reused) at each of 1, 2, 3, 4, 6, 8 … associations
    until the rate gains less than 5 % (or falls, or errors appear), and never beyond the count
    the target serves at once. It prints instances/s per step and recommends the smallest count
    within 95 % of the best (or the count the target serves at once, when it is that near),
    with the line for the target's config. Every study sent belongs to the patient
    DICOMFAB^ASSOCIATION^CHECK, with a PatientID starting with DFCHECK (printed): nothing is
    deleted afterwards, remove them from the target yourself if you wish.

    \b
    Exit codes: 0 every part answered (and the steps had no errors); 2 bad input (e.g.
                --associations for a target without C-STORE); 3 a part failed, or the target
                failed or answered errors while measuring; 130 / 143 interrupted (what was
                measured so far is printed)."""
    from dicomfab.run.connect import EMBEDDED, configured_target, load_targets
    from dicomfab.run.probe import probe
    from dicomfab.targets.config import find_config

    path = find_config(config)
    targets = load_targets(path)
    configured = configured_target(target, targets)  # an unknown target: exit 2
    if measure and configured is not None and configured.ingest.kind != "cstore":
        from dicomfab.errors import Issue, SpecError
        from dicomfab.load.associations import not_cstore

        raise SpecError([Issue("--target", not_cstore(target or EMBEDDED))])
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dicomfab-check-") as tmp:
        probes = probe(target, targets, Path(tmp))
    name = target or EMBEDDED
    data: dict[str, object] = {"target": name, "probes": [p.__dict__ for p in probes]}
    if not as_json:
        from rich.table import Table

        table = Table(title=f"target {name}")
        for column in ("Part", "What", "Result", "Detail", "Time"):
            table.add_column(column, overflow="fold")
        for p in probes:
            result = "[green]ok[/]" if p.ok else "[red]FAIL[/]"
            table.add_row(p.part, p.what, result, p.detail, f"{p.seconds:.2f} s")
        console.print(table)
    if not all(p.ok for p in probes):
        if as_json:
            click.echo(json.dumps(data, indent=2))
        raise SystemExit(3)
    if not measure:
        if as_json:
            click.echo(json.dumps(data, indent=2))
        return
    from dicomfab.cli.associations import run_check

    run_check(
        name, target, targets, path, data, max_associations, studies, image_size, as_json, repeat
    )
