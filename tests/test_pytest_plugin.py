"""The pytest plugin (dicomfab.pytest_plugin): loaded through its entry point, free to import,
its fixtures in a real pytest session (pytester), and the example suite of examples/pytest."""

from __future__ import annotations

import importlib.metadata
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
# the inner sessions (each in a new process) load the plugin by its module whether or not the
# entry point is installed (blocking the entry point's name keeps it from being registered twice)
PLUGIN = ("-p", "no:dicomfab", "-p", "dicomfab.pytest_plugin", "-W", "error")
HEAVY = ("numpy", "pydicom", "pydantic", "pynetdicom", "sqlalchemy", "dicomfab.builder")


def test_pyproject_declares_the_entry_point() -> None:
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["entry-points"]["pytest11"] == {"dicomfab": "dicomfab.pytest_plugin"}


def test_the_entry_point_is_installed_and_loaded(pytestconfig: pytest.Config) -> None:
    """Needs dicomfab installed with this pyproject.toml (pip install -e .)."""
    found = importlib.metadata.entry_points(group="pytest11", name="dicomfab")
    assert [ep.value for ep in found] == ["dicomfab.pytest_plugin"]
    import dicomfab.pytest_plugin

    assert pytestconfig.pluginmanager.get_plugin("dicomfab") is dicomfab.pytest_plugin


def test_importing_the_plugin_costs_nothing() -> None:
    """pytest imports it in every session: no numpy, pydicom, pydantic, … until a fixture runs."""
    code = (
        "import sys, dicomfab.pytest_plugin\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


def test_the_plugin_defines_only_dicomfab_names() -> None:
    import dicomfab.pytest_plugin as plugin

    # (pytest's assertion rewriting adds @py_builtins and @pytest_ar to a plugin it loads)
    public = {n for n in vars(plugin) if not n.startswith(("_", "@"))} - {"annotations"}
    assert public == {"dicomfab_generate", "dicomfab_embedded_pacs", "dicomfab_run"}


def test_a_dataset_is_generated_once_per_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_one="""
        def test_a(dicomfab_generate):
            a = dicomfab_generate("bits_consistent", image_size="small")
            assert len(a.files) == 8 and all(f.is_file() for f in a.files)
            assert a.manifest.scenario == "bits_consistent"

        def test_b(dicomfab_generate):
            a = dicomfab_generate("bits_consistent", image_size="small")
            b = dicomfab_generate("bits_consistent", image_size="small")
            assert a is b
        """,
        test_two="""
        def test_c(dicomfab_generate):
            dicomfab_generate("bits_consistent", image_size="small")
            other = dicomfab_generate("bits_consistent", image_size="small", seed=3)
            same = dicomfab_generate("bits_consistent", image_size="small")
            assert other.path != same.path and other.manifest.seed != same.manifest.seed
            assert dicomfab_generate.generated == 2
        """,
    )
    basetemp = pytester.path / "basetemp"
    result = pytester.runpytest_subprocess(*PLUGIN, f"--basetemp={basetemp}")
    result.assert_outcomes(passed=3)
    folders = [p for p in basetemp.glob("dicomfab-dataset*") if not p.is_symlink()]  # *current
    manifests = [m for folder in folders for m in folder.glob("*/manifest.json")]
    assert len(manifests) == 2, manifests


def test_a_failing_verdict_prints_the_record_level_diff(pytester: pytest.Pytester) -> None:
    """A PACS that stores what should be rejected: the test fails with the scenario, the
    instance and expected against observed, as the reports word it."""
    pytester.makepyfile(
        """
        import pathlib

        def test_pacs_rejects_broken_bits(dicomfab_embedded_pacs, dicomfab_run):
            pacs = dicomfab_embedded_pacs
            strict = {  # the embedded PACS without its policy: it must reject the broken prior
                "ingest": {"kind": "cstore", "host": pacs.host, "port": pacs.port,
                           "called_ae": pacs.ae_title},
                "verify": {"kind": "sql", "profile": "embedded",
                           "url": f"sqlite:///{pacs.database_path}"},
                "wait": {"timeout": 30, "interval": 0.2, "stable": 2},
            }
            outcome = dicomfab_run(strict, "pr_bits_mismatch", image_size="small", seed=11)
            pathlib.Path("port").write_text(str(pacs.port))
            assert not outcome.scenarios["pr_bits_mismatch"].passed
            outcome.assert_passed()
        """
    )
    result = pytester.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E * dicomfab run against test-target did not pass (run folder *)",
            "E * scenario pr_bits_mismatch: 1 of 8 instances failed",
            "E *   prior * 2.25.* expected absent (reject), found in the index*",
        ]
    )
    port = int((pytester.path / "port").read_text())
    with pytest.raises(ConnectionRefusedError):  # the session's end stopped the PACS
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


@pytest.mark.slow
def test_the_example_suite_passes(tmp_path: Path) -> None:
    """examples/pytest as a user runs it: the fixtures come from the installed entry point
    (no -p), under this project's pytest settings (filterwarnings = error)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    args = ["examples/pytest", "-p", "no:cacheprovider", "-q", f"--basetemp={tmp_path / 'bt'}"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_a_stopped_run_says_why_and_what_was_not_run(tmp_path: Path) -> None:
    """An importer that fails: assert_passed names the stage and the error, then each scenario
    as not run (dicomfab.testing.run is what the dicomfab_run fixture calls)."""
    from dicomfab.testing import run

    index = tmp_path / "index.sqlite"
    with sqlite3.connect(index) as con:
        con.execute("CREATE TABLE instance (sop_instance_uid TEXT)")
    con.close()
    failing = {
        "ingest": {"kind": "command", "command": [sys.executable, "-c", "raise SystemExit(4)"]},
        "verify": {
            "kind": "sql",
            "url": f"sqlite:///{index}",
            "query": "SELECT sop_instance_uid FROM instance WHERE sop_instance_uid IN :uids",
        },
    }
    outcome = run(failing, "bits_consistent", run_dir=tmp_path / "run", image_size="small")
    assert not outcome.passed and outcome.scenarios["bits_consistent"].status == "not run"
    with pytest.raises(AssertionError) as failed:
        outcome.assert_passed()
    lines = str(failed.value).splitlines()
    head = f"dicomfab run against test-target did not pass (run folder {outcome.run_dir})"
    assert lines[0] == head
    assert lines[1].startswith("STOPPED during ingest by an error: ingest: ")
    assert "exit" in lines[1] and "4" in lines[1]
    reason = "not run: the run stopped on an error during ingest"
    assert lines[2:] == [f"scenario bits_consistent: {reason}"]


def test_a_spec_as_data_or_file_is_generated_with_the_seed_given(
    tmp_path: Path, small_spec: dict[str, Any]
) -> None:
    from dicomfab.testing import DatasetCache

    folders = iter(tmp_path / f"d{i}" for i in range(10))
    cache = DatasetCache(lambda: next(folders))
    data = cache(small_spec, seed=42)
    assert data is cache(dict(small_spec), seed=42)  # equal data: the same dataset
    assert data.manifest.seed == 42 and data.path == tmp_path / "d0" / "small"
    assert len(data.files) == 8 and all(f.suffix == ".dcm" for f in data.files)
    spec_file = tmp_path / "small.json"
    spec_file.write_text(json.dumps(small_spec), encoding="utf-8")
    from_file = cache(spec_file, seed=42)
    assert from_file.path == tmp_path / "d1" / "small" and cache.generated == 2
    # same spec, same seed: byte-identical files
    assert [f.read_bytes() for f in from_file.files] == [f.read_bytes() for f in data.files]
    with pytest.raises(TypeError, match="scenario parameters"):
        cache(small_spec, image_size="small")
