"""What a command loads is what it needs: subcommands are imported when used, so ``dicomfab
--version`` or ``dicomfab generate`` never pay for the run stack (SQLAlchemy, httpx, pynetdicom)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUN_STACK = (
    "sqlalchemy",
    "httpx",
    "pynetdicom",
    "dicomfab.run.pipeline",
    "dicomfab.targets.config",
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


def test_run_help_loads_its_module(tmp_path: Path) -> None:
    """The lazy group does load a command when it is asked for (else the test above is empty)."""
    assert "dicomfab.run.pipeline" in _loaded(tmp_path, "run", "--help")
