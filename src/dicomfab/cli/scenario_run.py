"""``dicomfab generate --scenario …``: compose, preview or generate scenarios, with progress."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dicomfab.cli.common import console, console_err, human_bytes
from dicomfab.errors import Issue, SpecError, shorten_text
from dicomfab.output.generate import GenerateResult
from dicomfab.scenarios import ScenarioRequest, compose, generate_scenarios, get, scenarios
from dicomfab.scenarios.compose import declared_parameters
from dicomfab.scenarios.model import Category
from dicomfab.scenarios.params import parse_assignment
from dicomfab.scenarios.profiles import load_profiles
from dicomfab.spec.loading import read_document


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


def expand_names(names: Sequence[str], extra: Sequence[str]) -> list[str]:
    """``-s a b`` / ``-s a -s b`` / ``-s all`` → scenario names, each checked (nearest on typo)."""
    wanted = [n for name in [*names, *extra] for n in name.split(",") if n]
    if "all" in wanted:
        return list(scenarios())
    return list(dict.fromkeys(get(n).name for n in wanted))


def check_filters(tags: Sequence[str], category: str | None) -> None:
    """``--tag`` and ``--category`` must name a tag or category some scenario has: a typo is an
    error with the nearest name, never an empty or silently widened selection."""
    library = scenarios().values()
    known_tags = sorted({t for s in library for t in s.tags})
    for tag in tags:
        if tag not in known_tags:
            near = _near(tag, known_tags)
            raise SpecError(Issue(f"--tag {tag}", "no scenario has this tag", near))
    if category is not None:
        known = sorted(get_args(Category))
        if category not in known:
            raise SpecError(
                Issue(
                    f"--category {category}",
                    f"unknown category (known: {', '.join(known)})",
                    _near(category, known),
                )
            )


def _near(word: str, known: Sequence[str]) -> str | None:
    near = difflib.get_close_matches(word, list(known), n=1)
    return near[0] if near else None


def flatten_parameters(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{patient: {name: x}}`` → ``{"patient.name": x}``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flatten_parameters(value, name))
        else:
            out[name] = value
    return out


def read_overrides(params_file: Path | None, assignments: Sequence[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if params_file is not None:
        data = read_document(params_file)
        if not isinstance(data, dict):
            raise SpecError(
                Issue("", "a parameter file is a mapping NAME: VALUE"), str(params_file)
            )
        overrides.update(flatten_parameters(data))
    overrides.update(parse_assignment(a) for a in assignments)
    return overrides


@dataclass
class ScenarioRun:
    output: Path
    overwrite: bool
    workers: int | None
    seed: int | None
    sites: Path | None
    quiet: bool

    def requests(self, names: list[str], overrides: dict[str, Any]) -> list[ScenarioRequest]:
        """One request per scenario, each with the overrides it declares; an override that no
        chosen scenario declares is an error (the nearest parameter name is suggested)."""
        requests = []
        used: set[str] = set()
        for name in names:
            declared = declared_parameters(get(name))
            mine = {k: v for k, v in overrides.items() if k in declared}
            used.update(mine)
            requests.append(ScenarioRequest(name, mine, self.seed, self.sites, self.overwrite))
        unused = set(overrides) - used
        if unused:
            if len(names) == 1:  # let compose name the nearest parameter of that scenario
                compose(get(names[0]), overrides, load_profiles(self.sites))
            raise SpecError(
                Issue(f"--set {shorten_text(sorted(unused)[0])}", "no chosen scenario has it")
            )
        return requests

    def generate(
        self, names: list[str], overrides: dict[str, Any], *, preview: bool, as_json: bool
    ) -> None:
        requests = self.requests(names, overrides)
        if preview:
            self._preview(requests, as_json)
            return
        if self.quiet:
            results = generate_scenarios(requests, self.output, workers=self.workers)
        else:
            columns = (
                TextColumn("[bold]generating scenarios"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console_err, transient=True) as bar:
                task = bar.add_task("scenarios", total=len(requests))
                results = generate_scenarios(
                    requests,
                    self.output,
                    workers=self.workers,
                    progress=lambda _result: bar.advance(task),
                )
        if as_json:
            click.echo(json.dumps([_summary(r) for r in results], indent=2))
        elif not self.quiet:
            _print(results)

    def _preview(self, requests: list[ScenarioRequest], as_json: bool) -> None:
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
