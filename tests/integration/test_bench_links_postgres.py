"""benchmarks/links.py's PostgreSQL part in smoke mode (200 studies) on the session's private
cluster: the product-style index, the same-patient verifier and the ``sql`` links relation,
each batched, every verdict passing. No time is asserted."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest
from stack import Postgres

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "links.py"


def test_smoke_mode_on_postgres(
    postgres: Postgres, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location("bench_links_pg", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # its dataclasses look their module up there
    spec.loader.exec_module(bench)
    args = argparse.Namespace(studies=200, batch=1000, repeat=1, seed=7)
    bench.run(args, tmp_path, postgres)
    out = capsys.readouterr().out
    for name in ("embedded (SQLite, same-patient)", "postgres (same-patient)",
                 "postgres (relation: sql links)"):  # fmt: skip
        assert f"{name}: link verification: 200 studies, " in out
    assert out.count("1 instance + 1 study lookups (batch 1000)") == 2
    assert "1 instance + 1 relation lookups (batch 1000)" in out
