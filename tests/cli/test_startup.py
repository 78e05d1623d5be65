"""What a command loads is what it needs: subcommands are imported when used, so ``dicomfab
--version`` or ``dicomfab generate`` never pay for the run stack (SQLAlchemy, httpx, pynetdicom),
and ``--help``, ``list`` and a subcommand's ``--help`` load none of the heavy packages (their
options are declared with click alone; a command imports its stack in its body)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

RUN_STACK = (
    "sqlalchemy",
    "httpx",
    "pynetdicom",
    "dicomfab.run.pipeline",
    "dicomfab.targets.config",
)

#: what ``--help``, ``list`` and ``<command> --help`` must not load (each costs tens of ms or more)
HEAVY = (
    *RUN_STACK,
    "pydicom",
    "numpy",
    "pydantic",
    "yaml",
    "imagecodecs",
    "highdicom",
    "fastapi",
    "uvicorn",
    "psycopg",
    "PIL",
    "dicomfab.builder",
    "dicomfab.studyspec",
    "dicomfab.scenarios",
    "dicomfab.output.generate",
)
#: what generating a small MG study must not load: the network, the SQL, the web, the SR tables
#: (pydicom.sr), the derived objects' builders (highdicom) and the TOML parser (TOML specs only)
NOT_FOR_GENERATE = (
    *RUN_STACK,
    "fastapi",
    "uvicorn",
    "highdicom",
    "pydicom.sr",
    "psycopg",
    "tomllib",
)

SCRIPT = """
import json, sys
from dicomfab import console
try:
    console.main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _heavy(loaded: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(
        m for m in loaded if m in prefixes or m.startswith(tuple(f"{p}." for p in prefixes))
    )


def _loaded(tmp_path: Path, *args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    last = json.loads(done.stderr.strip().splitlines()[-1])
    assert last["code"] == 0, done.stderr
    return set(last["modules"])


def test_version_and_generate_do_not_load_the_run_stack(tmp_path: Path) -> None:
    for args in (
        ["--version"],
        ["generate", "-o", "out", "-s", "bits_consistent", "--set", "image_size=small"],
    ):
        loaded = _loaded(tmp_path, *args)
        assert not {m for m in loaded if m.startswith(RUN_STACK)}, args
    assert (tmp_path / "out").is_dir()


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["list"],
        ["list", "--tag", "prior", "--search", "bits", "--json"],
        ["generate", "--help"],
        ["run", "--help"],
        ["describe", "--help"],
        ["targets", "--help"],
        ["check", "--help"],
        ["ui", "--help"],
    ],
    ids=" ".join,
)
def test_help_and_list_load_no_heavy_package(tmp_path: Path, args: list[str]) -> None:
    loaded = _loaded(tmp_path, *args)
    assert "click" in loaded  # the script did run the command line
    assert _heavy(loaded, HEAVY) == []
    assert _heavy(loaded, ("rich",)) == []  # help is click's, JSON json's, the list plain text


def test_small_generate_loads_only_what_it_uses(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, "generate", "-q", "-o", "out", "-s", "pr_bits_mismatch")
    assert _heavy(loaded, NOT_FOR_GENERATE) == []
    assert {"pydicom", "numpy", "dicomfab.output.generate"} <= loaded  # it did generate
    assert len(list((tmp_path / "out" / "pr_bits_mismatch" / "dicoms").glob("*/*.dcm"))) == 8


def test_run_help_loads_its_module(tmp_path: Path) -> None:
    """The lazy group does load a command when it is asked for, and only that one (else the
    tests above could pass on nothing); its stack waits for the command to run."""
    loaded = _loaded(tmp_path, "run", "--help")
    assert "dicomfab.cli.run" in loaded
    assert not {"dicomfab.cli.generate", "dicomfab.run.pipeline"} & loaded
