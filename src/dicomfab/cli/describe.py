"""``dicomfab describe``: a scenario's full card."""

from __future__ import annotations

import json

import click

from dicomfab.cli.common import complete_scenarios, console, escape


@click.command("describe")
@click.argument("name", shell_complete=complete_scenarios)
@click.option("--json", "as_json", is_flag=True, help="Print the scenario as JSON.")
def command(name: str, as_json: bool) -> None:
    """Show scenario NAME: what is wrong, why it happens, where, what to expect, parameters."""
    from rich.table import Table

    from dicomfab.scenarios.compose import declared_parameters
    from dicomfab.scenarios.library import get
    from dicomfab.scenarios.selection import scenario_row

    scenario = get(name)
    parameters = declared_parameters(scenario)
    if as_json:
        data = scenario.model_dump(mode="json")
        data["parameters"] = {k: p.model_dump() for k, p in parameters.items()}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    row = scenario_row(scenario)
    console.print(
        f"[bold]{scenario.name}[/] — {escape(scenario.title)}  [dim]({scenario.category})[/]"
    )
    if scenario.aliases:
        console.print(f"also known as: {', '.join(scenario.aliases)}")
    console.print(f"\n{escape(str(row['description']))}")
    if scenario.why:
        console.print(f"\n[bold]Why it happens:[/] {escape(' '.join(scenario.why.split()))}")
    if scenario.network:
        console.print(f"\n[bold]Network-level:[/] {escape(' '.join(scenario.network.split()))}")
    if scenario.media is not None:
        media = scenario.media
        on = ", ".join(media.studies) if media.studies is not None else "every study"
        junk = ", with junk files beside them" if media.junk else ""
        console.print(f"\n[bold]On media:[/] {escape(on)} (media/DICOMDIR{junk})")
    if scenario.defects:
        table = Table(title="defects", title_justify="left")
        for column in ("where", "what", "how"):
            table.add_column(column)
        for d in scenario.defects:
            how = (
                d.mutation.name
                if d.mutation
                else "spec" + (" (permissive)" if d.permissive else "")
            )
            table.add_row(d.at, escape(d.what), how)
        console.print(table)
    expect = scenario.expect
    console.print(
        f"\n[bold]Expected:[/] instances {expect.default}"
        + "".join(f", {k}: {v}" for k, v in expect.instances.items())
        + f"; studies {expect.study_default}"
        + "".join(f", {k}: {v}" for k, v in expect.studies.items())
        + "".join(f"; copies {k}: {v} stored" for k, v in expect.copies.items())
    )
    if expect.note:
        console.print(escape(expect.note))
    for case in expect.when:
        given = ", ".join(f"{k}={v!r}" for k, v in case.parameters.items())
        changes = [f"instances {case.default}"] if case.default else []
        changes += [f"{k}: {v}" for k, v in case.instances.items()]
        changes += [f"studies {case.study_default}"] if case.study_default else []
        changes += [f"{k}: {v}" for k, v in case.studies.items()]
        console.print(f"[bold]When {escape(given)}:[/] {escape(', '.join(changes))}")
        if case.note:
            console.print(escape(" ".join(case.note.split())))
    for key, mark in expect.unobservable().items():
        only = f" (ingest {', '.join(mark.ingest)} only)" if mark.ingest else ""
        console.print(f"[bold]Not observable:[/] {key}{only}: {escape(mark.reason)}")
    if parameters:
        table = Table(title="parameters (--set NAME=VALUE)", title_justify="left")
        for column in ("name", "default", "description"):
            table.add_column(column)
        for key, p in parameters.items():
            table.add_row(key, escape(repr(p.default)), escape(p.description))
        console.print(table)
    if scenario.sources:
        console.print(f"\nsources: {escape('; '.join(scenario.sources))}")
