"""What a load measured, as data: latency percentiles (HdrHistogram), throughput and errors per
interval, and every study's record; written as ``load.json``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from dicomfab.load.records import StudyRecord

PERCENTILES = (50.0, 90.0, 99.0)
MAX_LATENCY_US = 3_600_000_000  # an hour: HdrHistogram's highest trackable value (µs)


def latency_histogram(latencies: list[float]) -> Any:
    """An HdrHistogram of ``latencies`` (seconds) at microsecond resolution with 3 significant
    digits (a ``--dask`` worker sends it encoded; the client adds them up)."""
    from hdrh.histogram import HdrHistogram

    histogram = HdrHistogram(1, MAX_LATENCY_US, 3)
    for seconds in latencies:
        histogram.record_value(min(MAX_LATENCY_US, max(1, round(seconds * 1e6))))
    return histogram


def merged_histogram(encoded: list[bytes]) -> Any:
    """One HdrHistogram holding every value of the ``encode()``-d ones."""
    from hdrh.histogram import HdrHistogram

    total = latency_histogram([])
    for data in encoded:
        total.add(HdrHistogram.decode(data))
    return total


def latency_stats(latencies: list[float], histogram: Any = None) -> dict[str, float | int | None]:
    """p50, p90, p99 and max of ``latencies`` (seconds), from an HdrHistogram at microsecond
    resolution with 3 significant digits (``histogram`` when given: it holds them already);
    None each when there is none."""
    if histogram is None:
        histogram = latency_histogram(latencies)
    count = int(histogram.get_total_count())
    stats: dict[str, float | int | None] = {"count": count}
    if not count:
        return stats | {f"p{p:g}": None for p in PERCENTILES} | {"max": None, "mean": None}
    for p in PERCENTILES:
        stats[f"p{p:g}"] = histogram.get_value_at_percentile(p) / 1e6
    stats["max"] = histogram.get_max_value() / 1e6
    stats["mean"] = histogram.get_mean_value() / 1e6
    return stats


def interval_width(elapsed: float) -> float:
    """About 60 intervals over the load, at least one second each, on a round width."""
    raw = max(1.0, elapsed / 60)
    for width in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if raw <= width:
            return float(width)
    return float(math.ceil(raw / 600) * 600)


def timeline(records: list[StudyRecord], elapsed: float, width: float) -> list[dict[str, Any]]:
    """Per interval of ``width`` seconds: studies whose first byte went out, studies fully
    acknowledged and instances acknowledged (per second), studies that became visible, studies
    that failed, and the error rate (failed ÷ finished in the interval)."""
    count = max(1, math.ceil(elapsed / width))
    rows = [
        {
            "start": i * width,
            "sent": 0,
            "acknowledged": 0,
            "instances": 0,
            "visible": 0,
            "failed": 0,
        }
        for i in range(count)
    ]

    def bin_of(t: float) -> dict[str, Any]:
        return rows[min(count - 1, max(0, int(t // width)))]

    for r in records:
        if r.sent_at is not None:
            bin_of(r.sent_at)["sent"] += 1
        if r.acked_at is not None:
            row = bin_of(r.acked_at)
            row["acknowledged"] += 1
            row["instances"] += len(r.sop_instance_uids)
        if r.state == "visible" and r.visible_at is not None:
            bin_of(r.visible_at)["visible"] += 1
        if r.errors and r.failed_at is not None:
            bin_of(r.failed_at)["failed"] += 1
    for row in rows:
        finished = row["acknowledged"] + row["failed"]
        row["instances_per_s"] = round(row["instances"] / width, 3)
        row["error_rate"] = round(row["failed"] / finished, 4) if finished else 0.0
    return rows


def throughput(records: list[StudyRecord]) -> dict[str, float | None]:
    """Sustained rates: acknowledged instances (and studies) per second from the first byte sent
    to the last acknowledgement; visible studies per minute from the first byte to the last
    study seen."""
    sent = [r.sent_at for r in records if r.sent_at is not None]
    acked = [r for r in records if r.acked_at is not None]
    visible = [r for r in records if r.state == "visible"]
    out: dict[str, float | None] = {
        "instances_per_s": None, "studies_per_min": None, "visible_studies_per_min": None,
    }  # fmt: skip
    if not sent:
        return out
    first = min(sent)
    if acked:
        span = max(r.acked_at or 0.0 for r in acked) - first
        if span > 0:
            instances = sum(len(r.sop_instance_uids) for r in acked)
            out["instances_per_s"] = instances / span
            out["studies_per_min"] = len(acked) / span * 60
    if visible:
        span = max(r.visible_at or 0.0 for r in visible) - first
        if span > 0:
            out["visible_studies_per_min"] = len(visible) / span * 60
    return out


def summary(
    records: list[StudyRecord],
    elapsed: float,
    extra: dict[str, Any] | None = None,
    histogram: Any = None,
) -> dict[str, Any]:
    """The numbers a reader wants first (``--json`` prints this). ``histogram``: the
    latencies' HdrHistogram, merged from the workers' (``--dask``)."""
    states = {s: 0 for s in ("visible", "acknowledged", "sending", "waiting", "failed")}
    for r in records:
        states[r.state] += 1
    latencies = [r.latency for r in records if r.latency is not None]
    lateness = [r.lateness for r in records if r.lateness is not None]
    unmeasured = sum(1 for r in records if not r.measured)
    return {
        **(extra or {}),
        "studies": len(records),
        "states": states,
        "elapsed": round(elapsed, 3),
        "latency": latency_stats(latencies, histogram),
        "lateness": {
            "max": max(lateness, default=None),
            "late_over_1s": sum(x > 1 for x in lateness),
        },
        "throughput": throughput(records),
        "errors": sum(1 for r in records if r.errors),
        **({"not_measured": unmeasured} if unmeasured else {}),
    }


def document(
    config: dict[str, Any],
    records: list[StudyRecord],
    elapsed: float,
    outcome: dict[str, Any],
    histogram: Any = None,
) -> dict[str, Any]:
    """All of ``load.json``: the configuration, the outcome, the summary, the timeline and
    every study's record."""
    width = interval_width(elapsed)
    return {
        "config": config,
        **outcome,
        "summary": summary(records, elapsed, histogram=histogram),
        "interval": width,
        "timeline": timeline(records, elapsed, width),
        "studies": [r.to_dict() for r in records],
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
