"""The front end's types come from the OpenAPI document: a front end that reads a field the API
does not send fails to compile. Needs web/node_modules (``make web`` runs ``npm ci``): missing,
the test fails, it is never skipped."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
FILES = ("package.json", "tsconfig.json", "openapi.json")


def typecheck(folder: Path) -> subprocess.CompletedProcess[str]:
    """``npm run typecheck`` (generate the types from openapi.json, then ``tsc``) in ``folder``."""
    return subprocess.run(
        ["npm", "run", "--silent", "typecheck"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow  # two TypeScript compilations
def test_a_front_end_that_drifts_from_the_api_does_not_compile(tmp_path: Path) -> None:
    assert (WEB / "node_modules").is_dir(), "run `make web` (npm ci) first"
    web = tmp_path / "web"
    shutil.copytree(WEB / "src", web / "src", ignore=shutil.ignore_patterns("*.gen.ts"))
    for name in FILES:
        shutil.copy(WEB / name, web / name)
    (web / "node_modules").symlink_to(WEB / "node_modules")

    same = typecheck(web)
    assert same.returncode == 0, same.stdout + same.stderr
    assert (web / "src" / "api-types.gen.ts").is_file()

    # the API renames the job of a 202 answer: the pages that read `answer.job` no longer compile
    document = json.loads((web / "openapi.json").read_text(encoding="utf-8"))
    answer = document["components"]["schemas"]["JobAnswer"]
    answer["properties"] = {"task": answer["properties"].pop("job")}
    answer["required"] = ["task"]
    (web / "openapi.json").write_text(json.dumps(document), encoding="utf-8")
    drifted = typecheck(web)
    assert drifted.returncode != 0
    assert "Property 'job' does not exist" in drifted.stdout + drifted.stderr
