"""A run's checks as one self-contained HTML page, beside ``report.json`` and the JUnit XML.

    write_html(results, path, dataset_root=..., title=..., meta=..., error=...) -> Path

One file, nothing external: inline CSS, no scripts, thumbnails as ``data:image/png`` URIs.
Failed scenarios come first, each in an open ``<details>`` with its diff lines, what could not be
checked and thumbnails (at most :data:`MAX_THUMBS`, longest side :data:`THUMB_SIZE` px) of its
failed instances' images, or of its instances when only a study-level check failed. A file that
is missing, unreadable or undecodable (the library writes such files on purpose) becomes a grey
box with the reason. Passed scenarios get one row of the table.

Like the other reports, the page holds what the :class:`ScenarioResult` objects hold and what
the caller passes (``title``, ``meta``, ``error``), nothing else: no environment, no credentials.
Every text is escaped.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

from PIL import Image
from pydicom.pixels import pixel_array

from dicomfab.output.merge import merged_file_path
from dicomfab.output.preview import _window, decoding_plugin, read_header
from dicomfab.run.checks import NOT_PASSED, InstanceCheck, ScenarioResult, verdicts
from dicomfab.run.report import Stop, overridden, passed_by_override, summary, write_atomically

MAX_THUMBS = 8
THUMB_SIZE = 160

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{margin:0 0 .3em}
table{border-collapse:collapse;margin:.6em 0}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f2f2f2}
td.n{text-align:right}
.pass{color:#1a7f37;font-weight:600}.fail{color:#c62828;font-weight:600}
.nc{color:#8a6d00;font-weight:600}
.error{border:2px solid #c62828;background:#fdecea;color:#8b1a1a;padding:.6em;margin:.8em 0;
white-space:pre-wrap}
details{border:1px solid #ddd;border-radius:4px;margin:.8em 0;padding:.4em .8em}
summary{font-weight:600;cursor:pointer}
ul.lines{font-family:ui-monospace,monospace;font-size:12px;padding-left:1.2em}
.thumbs{display:flex;flex-wrap:wrap;gap:.6em}
figure{margin:0;width:170px;font-size:11px;word-break:break-all}
figure img{display:block;max-width:160px;max-height:160px;background:#000}
.ph{width:160px;height:120px;background:#ddd;color:#555;display:flex;align-items:center;
justify-content:center;text-align:center;padding:4px;box-sizing:border-box;overflow:hidden}
@media print{body{margin:0}details{break-inside:avoid}summary{list-style:none}}
"""


# ── thumbnails ───────────────────────────────────────────────────────────────────────────────


def _find_file(result: ScenarioResult, check: InstanceCheck, root: Path) -> Path | None:
    """The instance's file under ``root``: a merged folder (manifest paths already rewritten, or
    not: ``dicoms/<StudyUID>/<file>``), a dataset folder, or the folder holding the datasets."""
    candidates = [
        root / check.file,
        root / merged_file_path(check.study_instance_uid, check.file),
        root / result.dataset / check.file,
    ]
    return next((p for p in candidates if p.is_file()), None)


def thumbnail_png(path: Path, size: int = THUMB_SIZE) -> bytes:
    """PNG bytes of a windowed preview of the first frame, longest side at most ``size``.

    Decodes like :func:`dicomfab.output.preview.preview_image`, but strides the pixel array down
    to about twice ``size`` before windowing and resampling. Raises on any unreadable file."""
    ds = read_header(path)
    if "PixelData" not in ds:
        raise ValueError("no pixel data")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    pixels = pixel_array(ds, index=0 if frames > 1 else None, decoding_plugin=decoding_plugin(ds))
    step = max(1, max(pixels.shape[:2]) // (2 * size))
    small = pixels[::step, ::step]
    image = Image.fromarray(_window(ds, small) if small.ndim == 2 else small)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _placeholder(reason: str) -> str:
    return f'<div class="ph">{escape(reason)}</div>'


def _tile(result: ScenarioResult, check: InstanceCheck, root: Path | None) -> str:
    if not check.written:
        body = _placeholder("file not written")
    elif root is None:
        body = _placeholder("no dataset folder given")
    elif (path := _find_file(result, check, root)) is None:
        body = _placeholder(f"file not found: {check.file}")
    else:
        try:
            data = base64.b64encode(thumbnail_png(path)).decode("ascii")
            body = f'<img src="data:image/png;base64,{data}" alt="{escape(check.label)}">'
        except Exception as exc:  # a broken file is data here: show why, never fail the report
            body = _placeholder(f"cannot preview: {type(exc).__name__}: {exc}"[:300])
    caption = f"{check.label} — {check.status}"
    if check.evidence:  # several verifiers: what each one concluded
        caption += f" ({verdicts(check.evidence)})"
    return (
        f"<figure>{body}<figcaption>{escape(caption)}<br>{escape(check.file)}</figcaption></figure>"
    )


def _thumb_checks(result: ScenarioResult) -> list[InstanceCheck]:
    """The failed instances; when only a study failed, that study's instances (else all)."""
    failed = [c for c in result.instances if c.status in NOT_PASSED]
    if not failed:
        studies = {s.study_instance_uid for s in result.studies if s.status in NOT_PASSED}
        failed = [c for c in result.instances if c.study_instance_uid in studies]
    return failed or list(result.instances)


# ── page ─────────────────────────────────────────────────────────────────────────────────────


def _status(result: ScenarioResult) -> str:
    if result.not_run is not None:
        return "not run"
    if not result.passed:
        return "fail"
    statuses = [c.status for c in result.instances] + [s.status for s in result.studies]
    undecided = statuses and all(s == "not checked" for s in statuses)
    return "not checked" if undecided else "pass"


_CLASS = {"pass": "pass", "fail": "fail", "not checked": "nc", "not run": "nc"}
NOT_OBSERVABLE_TITLE = "Not observable on this target"


def _link_summary(counts: Mapping[str, int]) -> str:
    """``Link verdicts: 12 — 10 passed, 1 failed, 1 not checked.`` ("" without any)."""
    if not counts.get("links"):
        return ""
    return (
        f"Link verdicts: {counts['links']} — "
        f'<span class="pass">{counts["links_passed"]} passed</span>, '
        f'<span class="fail">{counts["links_failed"]} failed</span>, '
        f'<span class="nc">{counts["links_not_checked"]} not checked</span>'
        + (
            f", {counts['links_not_observable']} not observable"
            if counts.get("links_not_observable")
            else ""
        )
        + "."
    )


def _lines(title: str, lines: Sequence[str]) -> str:
    if not lines:
        return ""
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f"<h4>{escape(title)} ({len(lines)})</h4><ul class=lines>{items}</ul>"


def _row(result: ScenarioResult, anchor: str | None) -> str:
    c, status = result.counts, _status(result)
    name = escape(result.name)
    if anchor:
        name = f'<a href="#{anchor}">{name}</a>'
    cells = [
        name,
        escape(result.category or ""),
        f'<span class="{_CLASS[status]}">{escape(status)}</span>',
        f"{c['passed']}/{c['instances']}",
        str(c["failed"] or ""),
        f"{c['links_passed']}/{c['links']}" if c["links"] else "",
        str(c["not_checked"] + c["studies_not_checked"] or ""),
        str(c["not_observable"] + c["studies_not_observable"] or ""),
        str(c["studies_failed"] or ""),
        str(passed_by_override(result) or ""),
        escape(result.source),
    ]
    return (
        "<tr>"
        + "".join(
            f'<td class="n">{v}</td>' if 3 <= i <= 9 else f"<td>{v}</td>"
            for i, v in enumerate(cells)
        )
        + "</tr>"
    )


def override_lines(result: ScenarioResult) -> list[str]:
    """One line per instance that passed only through the target's overrides:
    ``prior LMLO 2.25.…: pass (override reject→accept)``."""
    return [
        f"{c.label} {c.sop_instance_uid}: pass (override {change})"
        for c in result.instances
        if c.status == "pass" and (change := overridden(c.declared_outcome, c.expected_outcome))
    ]


def _not_run_section(result: ScenarioResult, anchor: str) -> str:
    d = result.delivery
    head = (
        f"{d['sent']} of {d['files']} files handed to the ingestor were sent, "
        f"{d['acknowledged']} acknowledged by the system, before the stop"
    )
    return (
        f'<details id="{anchor}"><summary><span class="nc">NOT RUN</span> '
        f"{escape(result.name)} <small>({escape(result.not_run or '')})</small></summary>"
        + (f"<p>{escape(head)}</p>" if d["files"] else "")
        + _lines("Sent before the stop", [str(x) for x in result.delivered])
        + "</details>"
    )


def _stop_banner(stop: Stop, meta: Mapping[str, str] | None) -> str:
    where = (meta or {}).get("run folder")
    data = f"<br>The data of what was done is in {escape(where)}." if where else ""
    return f'<div class="error"><b>{escape(stop.headline)}</b>{data}</div>'


def _section(result: ScenarioResult, anchor: str, root: Path | None) -> str:
    if result.not_run is not None:
        return _not_run_section(result, anchor)
    checks = _thumb_checks(result)
    thumbs = "".join(_tile(result, c, root) for c in checks[:MAX_THUMBS])
    more = f"<p>{MAX_THUMBS} of {len(checks)} shown.</p>" if len(checks) > MAX_THUMBS else ""
    return (
        f'<details open id="{anchor}"><summary><span class="fail">FAIL</span> '
        f"{escape(result.name)} <small>({escape(result.dataset)})</small></summary>"
        + _lines("Failures", result.failures())
        + _lines("Not checked", result.not_checked())
        + _lines(NOT_OBSERVABLE_TITLE, result.not_observable())
        + _lines("Link verdicts", result.link_verdicts())
        + (f'<h4>Images</h4><div class="thumbs">{thumbs}</div>{more}' if thumbs else "")
        + "</details>"
    )


def render_html(
    results: Sequence[ScenarioResult],
    *,
    dataset_root: Path | None = None,
    title: str = "dicomfab run",
    meta: Mapping[str, str] | None = None,
    error: str | None = None,
    stop: Stop | None = None,
) -> str:
    """The page as a string (see :func:`write_html`)."""
    ordered = sorted(results, key=lambda r: r.passed)  # stable: failed first, in run order
    total = summary(results)
    counts = total["counts"]
    statuses = [_status(r) for r in results]
    root = Path(dataset_root) if dataset_root is not None else None
    anchors = {id(r): f"s{i}" for i, r in enumerate(ordered) if not r.passed}
    meta_rows = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>"
        for k, v in (meta or {}).items()
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<table>{meta_rows}</table>" if meta_rows else "",
        _stop_banner(stop, meta) if stop else "",
        f'<div class="error"><b>Run error:</b> {escape(error)}</div>' if error else "",
        "<h2>Summary</h2><p>",
        f"Scenarios: {len(results)} — "
        f'<span class="pass">{statuses.count("pass")} passed</span>, '
        f'<span class="fail">{statuses.count("fail")} failed</span>, '
        f'<span class="nc">{statuses.count("not checked")} not checked</span>'
        + (
            f', <span class="nc">{statuses.count("not run")} not run</span>'
            if "not run" in statuses
            else ""
        )
        + ".<br>",
        f"Instances: {counts.get('instances', 0)} — {counts.get('passed', 0)} as expected, "
        f"{counts.get('failed', 0)} failed, {counts.get('not_checked', 0)} not checked"
        + (
            f", {counts['pre_existing']} already in the target before ingest (not credited)"
            if counts.get("pre_existing")
            else ""
        )
        + (
            f", {counts['not_observable']} not observable on this target"
            if counts.get("not_observable")
            else ""
        )
        + (
            f", {counts['passed_by_override']} passed through the target's overrides"
            " (the scenario declares another outcome)"
            if counts.get("passed_by_override")
            else ""
        )
        + ".<br>",
        _link_summary(counts) + "</p>",
        "<h2>Scenarios</h2><table><thead><tr><th>Scenario</th><th>Category</th><th>Result</th>"
        "<th>Instances ok</th><th>Failed</th><th>Links ok</th><th>Not checked</th>"
        "<th>Not observable</th><th>Studies failed</th><th>Passed via override</th>"
        "<th>Verifier</th></tr></thead><tbody>",
        *(_row(r, anchors.get(id(r))) for r in ordered),
        "</tbody></table>",
    ]
    failed = [r for r in ordered if not r.passed]
    if failed:
        parts.append("<h2>Failed scenarios</h2>" if not stop else "<h2>Scenarios not passed</h2>")
        parts.extend(_section(r, anchors[id(r)], root) for r in failed)
    linked = [r for r in ordered if r.passed and r.link_verdicts()]
    if linked:
        parts.append("<h2>Link verdicts of the scenarios that passed</h2>")
        parts.extend(
            f"<details><summary>{escape(r.name)}</summary>"
            + _lines("Link verdicts", r.link_verdicts())
            + "</details>"
            for r in linked
        )
    via = [r for r in ordered if override_lines(r)]
    if via:
        parts.append("<h2>Passes through the target's overrides</h2>")
        parts.extend(
            f"<details><summary>{escape(r.name)} ({len(override_lines(r))})</summary>"
            + _lines("Passed through an override", override_lines(r))
            + "</details>"
            for r in via
        )
    hidden = [r for r in ordered if r.passed and r.not_observable()]
    if hidden:
        parts.append(f"<h2>{NOT_OBSERVABLE_TITLE}: what the scenarios that passed cannot show</h2>")
        parts.extend(
            f"<details><summary>{escape(r.name)}</summary>"
            + _lines(NOT_OBSERVABLE_TITLE, r.not_observable())
            + "</details>"
            for r in hidden
        )
    parts.append("</body></html>\n")
    return "\n".join(p for p in parts if p)


def write_html(
    results: Sequence[ScenarioResult],
    path: Path,
    *,
    dataset_root: Path | None = None,
    title: str = "dicomfab run",
    meta: Mapping[str, str] | None = None,
    error: str | None = None,
    stop: Stop | None = None,
) -> Path:
    """Write the run's HTML report to ``path`` (atomically). ``dataset_root`` is the folder the
    instances' ``file`` paths are relative to (a merged folder or one dataset's folder); without
    it the page has placeholders instead of thumbnails. ``stop``: the run was interrupted (a
    banner says so, and where the data is)."""
    text = render_html(
        results, dataset_root=dataset_root, title=title, meta=meta, error=error, stop=stop
    )
    return write_atomically(Path(path), text)


__all__ = ["MAX_THUMBS", "THUMB_SIZE", "render_html", "thumbnail_png", "write_html"]
