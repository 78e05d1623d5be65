"""``load.html``: one self-contained page (inline SVG, no script, no external resource) with the
latency of each study over time and the throughput per interval, from ``load.json``'s data."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

W, H, PAD = 900, 300, 50  # chart size and margin (px)
LINES = {"p50": "#2b7", "p90": "#e90", "p99": "#d33"}


def _scale(lo: float, hi: float, a: float, b: float) -> Any:
    span = (hi - lo) or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def _axes(x_max: float, y_max: float, x_label: str, y_label: str) -> list[str]:
    out = [
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - 10}" y2="{H - PAD}" stroke="#333"/>',
        f'<line x1="{PAD}" y1="10" x2="{PAD}" y2="{H - PAD}" stroke="#333"/>',
        f'<text x="{W // 2}" y="{H - 12}" text-anchor="middle">{escape(x_label)}</text>',
        f'<text x="14" y="{H // 2}" transform="rotate(-90 14 {H // 2})" '
        f'text-anchor="middle">{escape(y_label)}</text>',
    ]
    x = _scale(0, x_max, PAD, W - 10)
    y = _scale(0, y_max, H - PAD, 10)
    for i in range(6):
        xv, yv = x_max * i / 5, y_max * i / 5
        out.append(f'<text x="{x(xv):.0f}" y="{H - PAD + 16}" text-anchor="middle">{xv:.3g}</text>')
        out.append(f'<text x="{PAD - 6}" y="{y(yv) + 4:.0f}" text-anchor="end">{yv:.3g}</text>')
    return out


def latency_chart(studies: list[dict[str, Any]], latency: dict[str, Any], elapsed: float) -> str:
    points = [(s["sent_at"], s["latency"]) for s in studies if s.get("latency") is not None]
    failed = [s.get("sent_at") or s.get("due") or 0.0 for s in studies if s["errors"]]
    y_max = max([p[1] for p in points] + [latency.get("max") or 0.0, 0.001]) * 1.1
    x_max = max(elapsed, 0.001)
    x, y = _scale(0, x_max, PAD, W - 10), _scale(0, y_max, H - PAD, 10)
    parts = _axes(x_max, y_max, "first byte sent (s after start)", "latency to visible (s)")
    for name, colour in LINES.items():
        value = latency.get(name)
        if value is not None:
            parts.append(
                f'<line x1="{PAD}" x2="{W - 10}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                f'stroke="{colour}" stroke-dasharray="4 3"/><text x="{W - 12}" '
                f'y="{y(value) - 3:.1f}" text-anchor="end" fill="{colour}">{name} {value:.3g} s'
                "</text>"
            )
    parts += [f'<circle cx="{x(a):.1f}" cy="{y(b):.1f}" r="2.5" fill="#36c"/>' for a, b in points]
    parts += [
        f'<path d="M{x(a) - 4:.1f},{H - PAD - 4} l8,8 m0,-8 l-8,8" stroke="#d33"/>' for a in failed
    ]
    return _svg("latency per study", parts)


def throughput_chart(timeline: list[dict[str, Any]], width: float) -> str:
    y_max = max([row["instances_per_s"] for row in timeline] + [row["failed"] for row in timeline])
    y_max = max(y_max, 1.0) * 1.1
    x_max = max(len(timeline) * width, 0.001)
    x, y = _scale(0, x_max, PAD, W - 10), _scale(0, y_max, H - PAD, 10)
    parts = _axes(x_max, y_max, "time (s after start)", "instances/s acknowledged; failed studies")
    bar = max(1.0, x(width) - x(0) - 1)
    for row in timeline:
        left, top = x(row["start"]), y(row["instances_per_s"])
        parts.append(
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{bar:.1f}" '
            f'height="{H - PAD - top:.1f}" fill="#6a9fd8"/>'
        )
        if row["failed"]:
            top = y(row["failed"])
            parts.append(
                f'<rect x="{left + bar / 4:.1f}" y="{top:.1f}" width="{bar / 2:.1f}" '
                f'height="{H - PAD - top:.1f}" fill="#d33"/>'
            )
    return _svg("throughput per interval", parts)


def _svg(title: str, parts: list[str]) -> str:
    body = "\n".join(parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img" '
        f'aria-label="{escape(title)}" font-size="11" font-family="sans-serif">{body}</svg>'
    )


def page(data: dict[str, Any]) -> str:
    summary = data["summary"]
    latency = summary["latency"]
    rows = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape(_fmt(v))}</td></tr>"
        for k, v in [
            ("target", data["config"].get("target")),
            ("outcome", data.get("outcome")),
            ("studies", summary["studies"]),
            ("visible", summary["states"]["visible"]),
            ("failed", summary["states"]["failed"]),
            ("rate asked (studies/min)", data["config"].get("rate_per_min")),
            ("acknowledged (instances/s)", summary["throughput"]["instances_per_s"]),
            (
                "latency p50 / p90 / p99 / max (s)",
                " / ".join(_fmt(latency.get(k)) for k in ("p50", "p90", "p99", "max")),
            ),
            ("lateness max (s)", summary["lateness"]["max"]),
            *_worker_rows(data),
        ]
    )
    fault = data.get("fault")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dicomfab load</title>
<style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}
th,td{{text-align:left;padding:2px 12px 2px 0}}.fault{{color:#b00}}</style></head><body>
<h1>dicomfab load</h1>
{f'<p class="fault">{escape(str(fault))}</p>' if fault else ""}
<table>{rows}</table>
<h2>Latency: first byte sent → every instance visible</h2>
{latency_chart(data["studies"], latency, summary["elapsed"])}
<p>Each dot is a study; dashed lines are percentiles; a red cross is a failed study.</p>
<h2>Throughput</h2>
{throughput_chart(data["timeline"], data["interval"])}
<p>Bars: instances acknowledged per second in each {data["interval"]:g} s interval; red: failed
studies in it.</p>
</body></html>
"""


def _worker_rows(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """A ``--dask`` load's workers (each with its study count) and its studies not measured."""
    workers = data.get("workers")
    if not workers:
        return []
    names = ", ".join(
        f"{w['name']} ({w['studies']}{'' if w.get('reported') else ', not reported'})"
        for w in workers
    )
    return [("workers (studies)", names), ("not measured", data["summary"].get("not_measured", 0))]


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def write_html(path: Path, data: dict[str, Any]) -> None:
    path.write_text(page(data), encoding="utf-8")
