"""``dicomfab generate --scenario …``: compose, preview or generate scenarios, with progress."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dicomfab.cli.common import cluster, console, console_err, human_bytes

if TYPE_CHECKING:  # the scenario stack loads when a command runs (``--help`` stays light)
    from concurrent.futures import Executor

    from dicomfab.output.generate import GenerateResult
    from dicomfab.scenarios import ScenarioRequest


def scenario_parameter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--set``, ``--params`` and ``--sites``, for every command that builds scenarios."""
    options = (
        click.option(
            "--set",
            "assignments",
            multiple=True,
            metavar="NAME=VALUE",
            help="Set a scenario parameter, e.g. --set patient.name=Doe^Jane (repeatable).",
        ),
        click.option(
            "--params",
            "params_file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="YAML/JSON file of scenario parameters (NAME: VALUE); --set wins over it.",
        ),
        click.option(
            "--sites",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Your site-profile file (adds to or replaces the built-in profiles by name).",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


@dataclass
class ScenarioRun:
    output: Path
    overwrite: bool
    workers: int | None
    seed: int | None
    sites: Path | None
    quiet: bool
    dask: str | None = None  # a Dask scheduler's address: generate there (--dask)

    def requests(self, names: list[str], overrides: dict[str, Any]) -> list[ScenarioRequest]:
        from dicomfab.scenarios.selection import scenario_requests

        return scenario_requests(names, overrides, self.seed, self.sites, self.overwrite)

    def generate(
        self, names: list[str], overrides: dict[str, Any], *, preview: bool, as_json: bool
    ) -> None:
        requests = self.requests(names, overrides)
        if preview:
            self._preview(requests, as_json)
            return
        with cluster(self.dask, self.output) as executor:
            results = self._generate(requests, executor)
        if as_json:
            click.echo(json.dumps([_summary(r) for r in results], indent=2))
        elif not self.quiet:
            _print(results)

    def _generate(
        self, requests: list[ScenarioRequest], executor: Executor | None
    ) -> list[GenerateResult]:
        from dicomfab.scenarios.generate import generate_scenarios

        if self.quiet:
            return generate_scenarios(
                requests, self.output, workers=self.workers, executor=executor
            )
        else:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            columns = (
                TextColumn("[bold]generating scenarios"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console_err.rich, transient=True) as bar:
                task = bar.add_task("scenarios", total=len(requests))
                return generate_scenarios(
                    requests,
                    self.output,
                    workers=self.workers,
                    progress=lambda _result: bar.advance(task),
                    executor=executor,
                )

    def _preview(self, requests: list[ScenarioRequest], as_json: bool) -> None:
        from dicomfab.scenarios.compose import compose
        from dicomfab.scenarios.library import get
        from dicomfab.scenarios.profiles import load_profiles

        profiles = load_profiles(self.sites)
        composed = [compose(get(r.name), r.overrides, profiles, seed=r.seed) for r in requests]
        if as_json:
            rows = [
                {
                    "scenario": c.scenario.name,
                    "path": str(self.output / c.spec.name),
                    "studies": len(c.plan.studies),
                    "instances": len(c.plan.instances),
                    "defects": [d.what for d in c.scenario.defects],
                }
                for c in composed
            ]
            click.echo(json.dumps(rows, indent=2))
            return
        from rich.table import Table

        table = Table(title="preview (nothing written)", title_justify="left")
        for column in ("scenario", "studies", "instances", "defects", "path"):
            table.add_column(column, overflow="fold")
        for c in composed:
            table.add_row(
                c.scenario.name,
                str(len(c.plan.studies)),
                str(len(c.plan.instances)),
                "; ".join(d.what for d in c.scenario.defects) or "-",
                str(self.output / c.spec.name),
            )
        console.print(table)


def _summary(result: GenerateResult) -> dict[str, object]:
    instances = result.manifest.instances()
    return {
        "scenario": result.manifest.scenario,
        "path": str(result.path),
        "instances": len(instances),
        "files": result.files_written,
        "bytes": result.bytes_written,
        "defects": sum(bool(i.defects) for i in instances),
    }


def _print(results: list[GenerateResult]) -> None:
    from rich.table import Table

    table = Table(title=f"{len(results)} scenarios", title_justify="left")
    for column in ("scenario", "instances", "files", "broken", "size", "path"):
        table.add_column(column, overflow="fold")
    for r in results:
        s = _summary(r)
        table.add_row(
            str(s["scenario"]),
            str(s["instances"]),
            str(s["files"]),
            str(s["defects"]),
            human_bytes(r.bytes_written),
            str(r.path),
        )
    console.print(table)
    total = sum(r.bytes_written for r in results)
    console.print(f"wrote {sum(r.files_written for r in results)} files ({human_bytes(total)})")
