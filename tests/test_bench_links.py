"""benchmarks/links.py cannot rot: its smoke mode runs on the embedded PACS's SQLite index, and
its two checks (batched lookups, every verdict passing) fail when they should. No time is
asserted. The PostgreSQL part runs in tests/integration/test_bench_links_postgres.py."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "links.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_links", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_smoke_mode_prints_a_line_per_verifier() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--studies", "200", "--repeat", "1", "--no-postgres"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "200 studies (100 patients × current + prior)" in out
    assert "100 link verdicts (10 no-link)" in out
    assert "embedded (SQLite, same-patient): link verification: 200 studies, " in out
    assert " ms per 1,000 studies" in out and "ratio " in out
    assert "1 instance + 1 study lookups (batch 1000)" in out


def test_the_checks_fail_when_they_should(tmp_path: Path) -> None:
    bench = load()
    pop = bench.population(40, seed=1)
    url = bench.fill_embedded(tmp_path / "instances.sqlite", pop)
    (case,) = bench.cases(url, None, batch=5)
    assert "8 study lookups (batch 5)" in bench.check_batched(case, pop, 5)
    with pytest.raises(RuntimeError, match="not batched"):
        bench.check_batched(case, pop, 1000)  # it sent 8 study statements where 1 would do
    _, judge = bench.observe(case, pop)
    assert bench.verdicts(pop, judge) == 20
    prior = next(uid for uid, outcome in pop.expected.items() if outcome == "no-link")
    pop.expected[prior] = "link"  # that prior was filed under another PatientID
    with pytest.raises(RuntimeError, match="1 link verdicts did not pass"):
        bench.verdicts(pop, judge)
