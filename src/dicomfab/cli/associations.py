"""``dicomfab check --associations``: run the measurement, print its table and recommendation."""

from __future__ import annotations

import json
import signal
import tempfile
from pathlib import Path
from typing import Any

import click

from dicomfab.cli.common import console, console_err, escape, human_bytes
from dicomfab.errors import TargetError
from dicomfab.load.associations import PATIENT_NAME


def run_check(
    name: str,
    target: str | None,
    targets: Any,
    config: Path | None,
    data: dict[str, Any],
    max_k: int,
    studies: int,
    image_size: str,
    as_json: bool,
    repeat: int = 1,
) -> None:
    """Measure, print (also when interrupted: marked so), exit 3 on a fault or errors."""
    from dicomfab.load.associations import check_target
    from dicomfab.run.pipeline import fresh_seed

    seed = fresh_seed()

    def on_start(so_far: Any) -> None:
        if not as_json:
            console_err.print(
                f"sending to {name}: patient {PATIENT_NAME}, PatientID {so_far.patient_id}, "
                f"{human_bytes(so_far.instance_bytes)} per instance",
                markup=False, soft_wrap=True,
            )  # fmt: skip

    def on_step(step: Any, so_far: Any) -> None:
        if as_json:
            return
        label = "warm-up" if step.warmup else f"k={step.k}"
        rate = f"{step.rate:.1f}/s"
        if len(step.rounds) > 1:
            rate += f" (median of {', '.join(f'{r:.1f}' for r in step.rounds)})"
        console_err.print(
            f"  {label}: {step.ok} of {step.sent} instances in {step.seconds:.2f} s, {rate}"
            + (f", {step.errors} errors" if step.errors else ""),
            markup=False, soft_wrap=True,
        )  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="dicomfab-check-") as tmp:
        try:
            result = check_target(
                target, targets, Path(tmp), max_k=max_k, studies=studies,
                image_size=image_size, seed=seed, repeat=repeat, on_step=on_step,
                on_start=on_start,
            )  # fmt: skip
        except TargetError as exc:  # e.g. the embedded PACS did not start
            console_err.print(f"target failed: {exc}", markup=False, soft_wrap=True)
            raise SystemExit(3) from None
        except KeyboardInterrupt as exc:
            stopped = getattr(exc, "measurement", None)
            if stopped is not None:
                stopped.interrupted = signal.Signals(getattr(exc, "signum", 2)).name
                _print(name, config, data, stopped, as_json)
            raise
    _print(name, config, data, result, as_json)
    if result.fault is not None or result.errors:
        raise SystemExit(3)


def served_line(found: Any) -> str:
    """The probe's finding (:class:`dicomfab.load.associations.Concurrency`), in a line."""
    if found.served is None:
        return f"associations served at once: not measured ({found.reason})"
    if not found.limited:
        return f"associations served at once: all {found.served} tried"
    return f"associations served at once: {found.served} ({found.reason})"


def config_line(name: str, k: int) -> str:
    """Where the recommendation goes in dicomfab.toml: the target's ``ingest`` table."""
    return f'[targets.{name}] ingest = {{ kind = "cstore", …, associations = {k} }}'


def _print(
    name: str, config: Path | None, data: dict[str, Any], result: Any, as_json: bool
) -> None:
    from dicomfab.run.connect import EMBEDDED

    found = result.as_dict()
    k = result.recommended
    found["config_key"] = f"targets.{name}.ingest.associations"
    found["config_line"] = None if k is None or name == EMBEDDED else config_line(name, k)
    found["config_file"] = None if config is None else str(config)
    if as_json:
        click.echo(json.dumps(data | {"associations": found}, indent=2))
        return
    from rich.table import Table

    title = f"associations: {name}" + (" (INTERRUPTED)" if result.interrupted else "")
    table = Table(title=title)
    repeated = any(len(row["rounds"]) > 1 for row in found["steps"])
    columns = ("k", "instances/s", "gain", "errors", "instances", "time")
    for column in columns + (("bursts (instances/s)",) if repeated else ()):
        table.add_column(column, justify="right")
    for row in found["steps"]:
        gain = row["gain"]
        bursts = (", ".join(f"{r:.1f}" for r in row["rounds"]),) if repeated else ()
        table.add_row(
            "warm-up (1)" if row["warmup"] else str(row["associations"]),
            f"{row['instances_per_s']:.1f}",
            "" if gain is None else f"{gain:+.0%}",
            f"[red]{row['errors']}[/]" if row["errors"] else "0",
            str(row["instances"]),
            f"{row['seconds']:.2f} s",
            *bursts,
        )
    console.print(table)
    lines = []
    if result.interrupted:
        lines.append(f"interrupted ({result.interrupted}): the steps above were measured")
    if result.fault:
        lines.append(f"target failed: {result.fault}")
    errored = [s for s in result.steps if s.errors]
    if errored:
        lines.append(f"errors at k={errored[0].k}: {errored[0].first_error}")
    found_at_once = result.concurrency
    if found_at_once is not None:
        lines.append(served_line(found_at_once))
    if result.stopped:
        lines.append(f"stopped: {result.stopped}")
    if k is None:
        lines.append("no recommendation: no step stored anything without errors")
    else:
        best = max(s.rate for s in result.steps if not s.warmup and not s.errors)
        why = (
            "every association the target serves at once"
            if k == result.served
            else "the smallest count"
        )
        lines.append(
            f"recommended: {k} association{'s' if k > 1 else ''} ({why}, within 95 % of the "
            f"best measured rate, {best:.1f} instances/s)"
        )
        if name != EMBEDDED:
            where = f" in {config}" if config else ""
            lines.append(f"set it{where}: {config_line(name, k)}")
    kept = (
        "the embedded PACS was temporary"
        if name == EMBEDDED
        else "the target keeps them (nothing was deleted)"
    )
    sent = sum(s.sent for s in result.steps)
    lines.append(
        f"sent {sent} instances: patient {PATIENT_NAME}, PatientID {result.patient_id} "
        f"(seed {result.seed}); {kept}"
    )
    for line in lines:
        console.print(escape(line), highlight=False, soft_wrap=True)
