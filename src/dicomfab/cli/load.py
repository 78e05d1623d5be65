"""``dicomfab load``: a stream of screening studies at a steady rate, latency to visible."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from dicomfab.cli.common import TARGETS_CONFIG_OPTION, console_err

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h)?\s*$")
_SECONDS = {None: 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


class RateType(click.ParamType):
    name = "RATE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        from dicomfab.load.schedule import parse_rate

        if isinstance(value, float):
            return value
        try:
            return parse_rate(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class DurationType(click.ParamType):
    name = "DURATION"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        match = _DURATION.match(str(value))
        if not match or float(match.group(1)) <= 0:
            self.fail(f"{value!r} is not a duration: write e.g. 90, 90s, 5m or 1h", param, ctx)
        return float(match.group(1)) * _SECONDS[match.group(2)]


@click.command("load")
@click.option("-t", "--target", help="Target to load (default: the embedded PACS).")
@TARGETS_CONFIG_OPTION
@click.option("-n", "--studies", type=click.IntRange(min=1), help="Studies to send.")
@click.option(
    "-r", "--rate", type=RateType(), required=True,
    help="Studies per minute: 120/min, 2/s, 600/h (a bare number is per minute).",
)  # fmt: skip
@click.option(
    "-d", "--duration", type=DurationType(),
    help="Send for this long (90s, 5m, 1h): rate × duration studies (with --studies, the "
    "smaller).",
)  # fmt: skip
@click.option(
    "-a", "--associations", type=click.IntRange(1, 32),
    help="Parallel associations (default: the target's cstore `associations`).",
)  # fmt: skip
@click.option(
    "--image-size", type=click.Choice(["full", "reduced", "small"]), default="reduced",
    show_default=True, help="Image size of the 4-view MG template study.",
)  # fmt: skip
@click.option(
    "--seed", type=click.IntRange(min=0),
    help="Derive the UIDs from this seed (default: a fresh one, printed and kept in load.json).",
)  # fmt: skip
@click.option(
    "--poll", type=click.FloatRange(min=0.05), default=0.5, show_default=True,
    help="Seconds between two verifier queries (one query for every study not yet seen).",
)  # fmt: skip
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=60.0, show_default=True,
    help="Seconds to wait for the last studies to become visible.",
)  # fmt: skip
@click.option(
    "-o", "--out", type=click.Path(file_okay=False, path_type=Path),
    help="Folder for load.json and load.html (default: <runs-dir>/<UTC timestamp>-load/).",
)  # fmt: skip
@click.option(
    "--runs-dir", type=click.Path(file_okay=False, path_type=Path), default="runs",
    show_default=True, help="Where the default output folder goes.",
)  # fmt: skip
@click.option(
    "--dask", "dask", metavar="ADDRESS", envvar="DICOMFAB_DASK",
    help="Send from the workers of the Dask cluster whose scheduler is at ADDRESS "
    "(tcp://host:8786; env DICOMFAB_DASK): worker w of N sends studies i ≡ w (mod N) at its "
    "share of the rate, reaching the --target (not the embedded PACS) itself; -a is per "
    "worker. Every worker needs this dicomfab version and a clock in sync (NTP). No live "
    "table. See docs/load.md.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No live table.")
def command(
    target: str | None,
    config: Path | None,
    studies: int | None,
    rate: float,
    duration: float | None,
    associations: int | None,
    image_size: str,
    seed: int | None,
    poll: float,
    timeout: float,
    out: Path | None,
    runs_dir: Path,
    dask: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Send a stream of screening studies at a steady rate; measure how long each takes to
    become visible.

    \b
    One 4-view MG study is generated once; study i gets new UIDs, PatientID and AccessionNumber
    derived from (seed, i) (pixels reused as encoded: the sender is never the bottleneck). Study
    i is due at i × 60 / rate seconds: a sender that falls behind records each study's
    lateness, it never slows down. Latency is first byte sent → every instance seen by the
    target's (first) verifier, polled every --poll seconds; percentiles from an HdrHistogram.
    Writes load.json (config, per-study records, percentiles, throughput and errors per
    interval) and load.html (latency and throughput charts).

    \b
    Exit codes: 0 every study visible; 1 some study failed or was not visible by --timeout;
                2 bad input; 3 the target or its verifier failed, or (--dask) the cluster
                cannot be used or a worker was lost;
                130 / 143 interrupted (load.json says what was measured).

    \b
    Examples:
      dicomfab load --studies 20 --rate 60/min                  the embedded PACS
      dicomfab load -t orthanc --rate 2/s --duration 5m -a 4    a configured target
      dicomfab load -t orthanc --rate 20/s -n 2000 --dask tcp://scheduler:8786
    """
    from dicomfab.extras import require

    require("load", "dicomfab load", "hdrh.histogram")
    from dicomfab.load.schedule import studies_for
    from dicomfab.run.connect import configured_target, load_targets
    from dicomfab.run.pipeline import fresh_seed
    from dicomfab.targets.config import find_config

    try:
        count = studies_for(studies, rate, duration)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    targets = load_targets(find_config(config))
    configured_target(target, targets)  # an unknown target: exit 2 before anything starts
    from dicomfab.load.job import LoadRequest

    request = LoadRequest(
        studies=count,
        per_minute=rate,
        seed=fresh_seed() if seed is None else seed,
        target=target,
        targets=targets,
        associations=associations,
        image_size=image_size,
        poll=poll,
        timeout=timeout,
        out=out,
        runs_dir=runs_dir,
        dask=dask or None,
    )
    _run(request, quiet or as_json, as_json)


EXIT_CLUSTER = 3  # the cluster cannot be used: like a target that cannot be reached


def _run(request: Any, quiet: bool, as_json: bool) -> None:
    from dicomfab.errors import ClusterError
    from dicomfab.load import job
    from dicomfab.load.live import LiveTable

    live = None if quiet or request.dask else LiveTable(console_err.rich, request.studies)
    if request.dask and not quiet:
        console_err.print(f"sending from the workers of {request.dask} (no live table)",
                          markup=False, soft_wrap=True)  # fmt: skip
    try:
        if live is None:
            outcome = job.run(request)
        else:
            with live:
                outcome = job.run(request, live.update)
    except ClusterError as exc:
        console_err.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise SystemExit(EXIT_CLUSTER) from None
    except KeyboardInterrupt as exc:
        stopped = getattr(exc, "load_outcome", None)
        if stopped is not None:
            _print(stopped, as_json)
        raise
    _print(outcome, as_json)
    if outcome.exit_code:
        raise SystemExit(outcome.exit_code)


def _print(outcome: Any, as_json: bool) -> None:
    summary = outcome.summary
    if as_json:
        head = {
            "out": str(outcome.out),
            "exit_code": outcome.exit_code,
            "outcome": outcome.data.get("outcome"),
            "fault": outcome.data.get("fault"),
        }
        click.echo(json.dumps(head | summary, indent=2))
        return
    latency = summary.get("latency", {})
    states = summary.get("states", {})
    rate = summary.get("throughput", {}).get("instances_per_s")

    def s(v: Any) -> str:
        return "–" if v is None else f"{v:.3g} s"

    console_err.print(
        f"{outcome.data.get('outcome')}: {states.get('visible', 0)} of {summary.get('studies')} "
        f"studies visible, {summary.get('errors', 0)} failed; latency p50 {s(latency.get('p50'))}"
        f" p90 {s(latency.get('p90'))} p99 {s(latency.get('p99'))} max {s(latency.get('max'))};"
        f" {'–' if rate is None else f'{rate:.1f}'} instances/s acknowledged; "
        f"seed {outcome.data.get('config', {}).get('seed')}",
        markup=False, soft_wrap=True,
    )  # fmt: skip
    if outcome.data.get("fault"):
        console_err.print(f"{outcome.data.get('outcome')}: {outcome.data['fault']}", markup=False,
                          soft_wrap=True)  # fmt: skip
    console_err.print(f"written: {outcome.out / 'load.json'}, {outcome.out / 'load.html'}",
                      markup=False, soft_wrap=True)  # fmt: skip
