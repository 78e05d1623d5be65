"""``dicomfab run``: generate → merge → ingest → wait → verify → report, with live progress."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dicomfab.cli.common import (
    DASK_OPTION,
    TARGETS_CONFIG_OPTION,
    cluster,
    complete_scenarios,
    complete_tags,
    console,
    console_err,
    escape,
    no_workers_with_dask,
)
from dicomfab.cli.scenario_run import ScenarioRun, scenario_parameter_options

if TYPE_CHECKING:  # the run stack (SQLAlchemy, httpx, pynetdicom) loads when a run starts
    from rich.progress import TaskID

    from dicomfab.run.pipeline import RunOutcome, RunRequest

SHOWN_ROWS = 40  # more scenarios than this: the table lists only those that did not pass


class RichProgress:
    """One bar per stage; a finished stage leaves a ✓ line with its summary and time."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(
            TextColumn("[bold]{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console_err.rich,
            transient=True,
        )
        self.task: TaskID | None = None
        self.stage = ""
        self.started = 0.0

    def __enter__(self) -> RichProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def begin(self, stage: str, total: int | None = None) -> None:
        self.stage = stage
        self.task = self.bar.add_task(stage, total=total)
        self.started = time.perf_counter()

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.bar.advance(self.task, n)

    def end(self, summary: str) -> None:
        if self.task is None:
            return
        elapsed = time.perf_counter() - self.started
        self.bar.remove_task(self.task)
        self.task = None
        self.bar.console.print(f"[green]✓[/] [bold]{self.stage:<9}[/] {summary} ({elapsed:.1f} s)")


def replay_command(
    names: tuple[str, ...],
    tags: tuple[str, ...],
    category: str | None,
    options: dict[str, str | tuple[str, ...] | Path | None],
    seed: int,
) -> str:
    """The ``dicomfab run`` command that replays a run: its selection and every option that
    shapes what is generated or where it goes, with ``--seed`` (same seed ⇒ same UIDs)."""
    words = ["dicomfab", "run"]
    if names:
        words += ["-s", ",".join(names)]
    words += [w for tag in tags for w in ("--tag", tag)]
    if category:
        words += ["--category", category]
    for option, value in options.items():
        values = value if isinstance(value, tuple) else (value,)
        words += [w for v in values if v is not None for w in (option, str(v))]
    import shlex

    return shlex.join([*words, "--seed", str(seed)])


def link_summary(counts: dict[str, int]) -> str:
    """`` · link verdicts: 170 passed, 2 failed, 3 not checked`` (rich markup), or "" when the
    run had no link expectation."""
    if not counts.get("links"):
        return ""
    parts = [f"{counts['links_passed']} passed"]
    if counts["links_failed"]:
        parts.append(f"[red]{counts['links_failed']} failed[/]")
    if counts["links_not_checked"]:
        parts.append(f"[yellow]{counts['links_not_checked']} not checked[/]")
    if counts.get("links_not_observable"):
        parts.append(f"{counts['links_not_observable']} not observable")
    return " · link verdicts: " + ", ".join(parts)


def not_observable_summary(counts: dict[str, int]) -> str:
    """`` · not observable on this target: 3 instances, 1 study`` (what the scenarios say no
    index can show: neither passed nor failed), or "" when there is none."""
    parts = [
        f"{n} {one if n == 1 else many}"
        for n, one, many in (
            (counts.get("not_observable", 0), "instance", "instances"),
            (counts.get("studies_not_observable", 0), "study", "studies"),
        )
        if n
    ]
    return " · not observable on this target: " + ", ".join(parts) if parts else ""


def _print_outcome(outcome: RunOutcome, replay: str | None) -> None:
    from dicomfab.run import report

    results = outcome.results
    stopped = outcome.stop is not None
    if results:
        shown = results if len(results) <= SHOWN_ROWS else [r for r in results if not r.passed]
        if stopped and len(results) > SHOWN_ROWS:
            shown = []  # every one is "not run": the counts below say it
        if shown:
            console.print(report.console_table(shown))
        total = report.summary(results, outcome.error, outcome.stop)
        colour = "green" if outcome.passed else "red"
        console.print(
            f"[{colour}]{total['scenarios_passed']} of {total['scenarios']} scenarios met "
            f"their expectations[/]"
            + (f"[red], {total['scenarios_not_run']} not run[/]" if stopped else "")
            + link_summary(total["counts"])
            + not_observable_summary(total["counts"])
        )
    if outcome.error:
        console.print(f"[bold red]run stopped:[/] {escape(outcome.error)}", soft_wrap=True)
    if outcome.stop is not None:
        console.print(f"[bold red]{escape(outcome.stop.headline)}[/]", soft_wrap=True)
        if outcome.kept:
            console.print(f"kept:       {escape(outcome.kept)}", soft_wrap=True)
    console.print(f"run folder: {outcome.run_dir}", soft_wrap=True)
    if outcome.report_error:
        console.print(f"[bold red]error:[/] {escape(outcome.report_error)}", soft_wrap=True)
    else:
        console.print(f"reports:    {outcome.report_dir}", soft_wrap=True)
    if replay:
        console.print(f"seed {outcome.seed} — replay with: {escape(replay)}", soft_wrap=True)


def _run(request: RunRequest, quiet: bool) -> RunOutcome:
    from dicomfab.run.pipeline import execute

    if quiet:
        return execute(request)
    with RichProgress() as progress:
        return execute(request, progress)


@click.command("run", context_settings={"allow_extra_args": True})
@click.option("-t", "--target", help="Target from dicomfab.toml (default: the embedded PACS).")
@TARGETS_CONFIG_OPTION
@click.option(
    "-s",
    "--scenario",
    "scenario_names",
    multiple=True,
    shell_complete=complete_scenarios,
    help="Scenario(s) to run, comma- or space-separated, repeatable (default: all).",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    shell_complete=complete_tags,
    help="Every scenario with this tag (repeatable).",
)
@click.option("--category", help="Every scenario of this category.")
@scenario_parameter_options
@click.option(
    "--image-size",
    type=click.Choice(["full", "reduced", "small"]),
    help="Image size for every scenario that has the parameter (default: each one's own).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Replay a run: the run seed it printed (same seed ⇒ same UIDs). Default: a fresh seed "
    "per run, so that a target that keeps its data never holds this run's UIDs already.",
)
@click.option(
    "--runs-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default="runs",
    show_default=True,
    help="Where run folders go (each run: <runs-dir>/<UTC timestamp>/).",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the reports here instead of <run folder>/reports.",
)
@click.option("-j", "--workers", type=click.IntRange(min=1), help="Processes to generate with.")
@DASK_OPTION
@click.option(
    "--strict",
    is_flag=True,
    help='Fail every verdict the run could not decide (a target with links = "none", a link '
    "expectation with no current study to judge it by) instead of counting it as not checked. "
    "What a scenario marks not observable (no index can show it) stays so.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
def command(
    target: str | None,
    config: Path | None,
    scenario_names: tuple[str, ...],
    tags: tuple[str, ...],
    category: str | None,
    assignments: tuple[str, ...],
    params_file: Path | None,
    sites: Path | None,
    image_size: str | None,
    seed: int | None,
    runs_dir: Path,
    report_dir: Path | None,
    workers: int | None,
    dask: str | None,
    strict: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run scenarios end to end against a target and check every record.

    \b
    Stages: generate → merge (one merged_dataset/ folder) → ingest → wait until the target's
    counts stop changing → verify (one batched lookup per verifier) → check each scenario's
    expectations instance by instance, and every link / no-link expectation by the patient
    record each study was filed under (or the target's own link relation) → reports
    (report.json, junit.xml, report.html).
    Without --target (and no [targets.embedded]), an embedded PACS (pynetdicom's qrscp) is
    started on a free loopback port, fed by C-STORE, verified by SQL and C-FIND, and stopped.

    \b
    Each run has its own seed (new UIDs): it is printed at the end and recorded in the merged
    manifest and the reports; --seed N replays that run exactly. An instance the target held
    before ingest (a replayed seed, a UID collision) is reported pre-existing, never credited:
    its scenario does not pass.

    \b
    Exit codes: 0 every scenario met its expectations; 1 some did not;
                2 bad input (nothing run); 3 the target failed (reason in the reports);
                130 / 143 interrupted by Ctrl-C / SIGTERM (the reports say what ran).

    \b
    Examples:
      dicomfab run --image-size small                   the whole library, embedded PACS
      dicomfab run -s pr_bits_mismatch,cu_private_tag   two scenarios
      dicomfab run --target orthanc --tag prior         a configured target
    """
    from dicomfab.run.connect import load_targets
    from dicomfab.run.pipeline import RunOutcome, RunRequest
    from dicomfab.run.prerun import check_run
    from dicomfab.scenarios.selection import choose, read_overrides, with_image_size
    from dicomfab.targets.config import find_config

    no_workers_with_dask(workers, dask)
    extra = click.get_current_context().args
    names = choose((*scenario_names, *extra), tags, category)
    overrides = read_overrides(params_file, assignments)
    if image_size and "image_size" not in overrides:
        overrides = with_image_size(names, overrides, image_size)
    requests = ScenarioRun(runs_dir, False, workers, seed, sites, quiet).requests(names, overrides)
    targets = load_targets(find_config(config))
    request = RunRequest(
        requests,
        target,
        targets,
        runs_dir=runs_dir,
        report_dir=report_dir,
        workers=workers,
        seed=seed,  # None: the run picks a fresh one
        strict=strict,
    )
    options: dict[str, str | tuple[str, ...] | Path | None] = {
        "--target": target,
        "--config": config,
        "--set": assignments,
        "--params": params_file,
        "--sites": sites,
        "--image-size": image_size,
    }
    selected = (*scenario_names, *extra)

    def replay(done: RunOutcome) -> str | None:
        if done.seed is None:
            return None
        return replay_command(selected, tags, category, options, done.seed)

    check_run(request)  # bad input is one error line, before the progress display starts
    try:
        with cluster(dask, runs_dir) as executor:
            outcome = _run(replace(request, executor=executor), quiet or as_json)
    except KeyboardInterrupt as exc:  # the reports are written: say where, then stop (130/143)
        stopped = getattr(exc, "outcome", None)
        if isinstance(stopped, RunOutcome):
            if as_json:
                click.echo(json.dumps(stopped.to_dict(replay(stopped)), indent=2))
            else:
                _print_outcome(stopped, replay(stopped))
        raise
    if as_json:
        click.echo(json.dumps(outcome.to_dict(replay(outcome)), indent=2))
    elif not quiet or outcome.exit_code:
        _print_outcome(outcome, replay(outcome))
    if outcome.exit_code:
        raise SystemExit(outcome.exit_code)
