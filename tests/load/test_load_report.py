"""``load.json``'s numbers and ``load.html``: percentiles, timeline, charts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dicomfab.load.html import write_html
from dicomfab.load.records import StudyRecord
from dicomfab.load.report import document, latency_stats, timeline, write_json


def _record(i: int, sent: float, latency: float | None, failed: bool = False) -> StudyRecord:
    r = StudyRecord(i, f"2.25.{i}", f"P{i}", f"A{i}", [f"2.25.{i}.{k}" for k in range(4)], i)
    r.sent_at = sent
    if failed:
        r.statuses = [0, 0xA700]
        r.fail(sent + 0.2, "instance 2: status 0xA700 Out of resources")
        return r
    r.statuses = [0, 0, 0, 0]
    r.acked_at = sent + 0.2
    if latency is not None:
        r.visible_at = sent + latency
    return r


def test_percentiles_from_hdrhistogram() -> None:
    stats = latency_stats([i / 100 for i in range(1, 101)])  # 0.01 … 1.00 s
    assert stats["count"] == 100
    assert stats["p50"] == pytest.approx(0.50, rel=1e-3)
    assert stats["p90"] == pytest.approx(0.90, rel=1e-3)
    assert stats["p99"] == pytest.approx(0.99, rel=1e-3)
    assert stats["max"] == pytest.approx(1.00, rel=1e-3)
    assert latency_stats([])["p50"] is None


def test_a_failed_or_unseen_study_is_never_credited() -> None:
    records = [_record(0, 0.0, 1.0), _record(1, 1.0, None), _record(2, 2.0, None, failed=True)]
    assert [r.state for r in records] == ["visible", "acknowledged", "failed"]
    assert [r.latency for r in records] == [1.0, None, None]
    data = document({"target": "t"}, records, 3.0, {"outcome": "not all visible"})
    assert data["summary"]["latency"]["count"] == 1
    assert data["summary"]["states"]["visible"] == 1
    assert data["summary"]["errors"] == 1


def test_timeline_counts_per_interval() -> None:
    records = [_record(i, float(i), 0.5) for i in range(4)] + [_record(4, 2.5, None, failed=True)]
    rows = timeline(records, 5.0, 2.0)
    assert [row["start"] for row in rows] == [0.0, 2.0, 4.0]
    assert [row["sent"] for row in rows] == [2, 3, 0]
    assert [row["acknowledged"] for row in rows] == [2, 2, 0]
    assert [row["instances_per_s"] for row in rows] == [4.0, 4.0, 0.0]
    assert [row["failed"] for row in rows] == [0, 1, 0]
    assert rows[1]["error_rate"] == pytest.approx(1 / 3, abs=1e-3)


def test_json_and_html_are_written(tmp_path: Path) -> None:
    records = [_record(i, i * 0.5, 0.3 + i / 10) for i in range(6)]
    records.append(_record(6, 3.0, None, failed=True))
    data = document({"target": "orthanc", "rate_per_min": 120}, records, 4.0, {"outcome": "x"})
    write_json(tmp_path / "load.json", data)
    write_html(tmp_path / "load.html", data)
    back = json.loads((tmp_path / "load.json").read_text("utf-8"))
    assert len(back["studies"]) == 7 and back["studies"][6]["errors"]
    html = (tmp_path / "load.html").read_text("utf-8")
    assert html.count("<svg") == 2
    assert html.count("<circle") == 6  # one dot per visible study
    assert "p99" in html
    assert not re.search(r"""(src|href)=["']https?:""", html)  # self-contained
    assert "<script" not in html
