"""Optional dependencies (pyproject's extras): a command that needs a missing one says which
extra to install, in one line, exit 2; the core commands never load them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

Run = Any  # the `cli` fixture (tests/cli/conftest.py)

UI_MESSAGE = "error: dicomfab ui needs the [ui] extra: pip install 'dicomfab[ui]'"
POSTGRES_MESSAGE = (
    "error: SQL verification through postgresql+psycopg needs the [postgres] extra: "
    "pip install 'dicomfab[postgres]'"
)


@pytest.mark.parametrize("missing", ["fastapi", "uvicorn"])
def test_ui_without_the_ui_extra_names_it(
    cli: Run, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # import fastapi → ImportError
    assert cli("ui", "--help").returncode == 0  # the options and help need no extra
    result = cli("ui", "--no-browser")
    assert result.returncode == 2
    assert result.stderr.strip() == UI_MESSAGE and result.stdout == ""


def test_sql_verifier_without_psycopg_names_the_postgres_extra(
    cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    (tmp_path / "dicomfab.toml").write_text(
        "[targets.pg]\n"
        'ingest = { kind = "cstore", port = 9, called_ae = "PACS" }\n'
        'verify = { kind = "sql", profile = "orthanc-postgres", '
        'url = "postgresql+psycopg://u:pw@127.0.0.1:9/db" }\n'
    )
    result = cli("run", "-s", "bits_consistent", "--image-size", "small", "--target", "pg")
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [POSTGRES_MESSAGE], result.stderr  # progress lines before it, then this
    assert result.stderr.strip().splitlines()[-1] == POSTGRES_MESSAGE
    assert "Traceback" not in result.stdout + result.stderr


# the commands that work without extras, through the console script's own module; then what
# was imported. A fresh interpreter: this test process has loaded everything already.
_CORE_ONLY = """
import sys
from dicomfab.console import main

for argv in (
    ["generate", "-s", "bits_consistent", "--set", "image_size=small", "-o", "out"],
    ["run", "-s", "bits_consistent", "--image-size", "small", "--runs-dir", "runs"],
):
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code == 0, (argv, exc.code)
extras = ("fastapi", "starlette", "uvicorn", "psycopg")
print(sorted(m for m in sys.modules if m.split(".")[0] in extras))
"""


def test_generate_and_an_embedded_run_load_no_extra(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _CORE_ONLY],
        cwd=tmp_path,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "out").is_dir() and any((tmp_path / "runs").iterdir())
