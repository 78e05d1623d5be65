"""No secret leaks: a distinct value is planted in every kind of secret a target can have, and
``dicomfab targets``, ``dicomfab check --target`` and ``dicomfab run`` (the CLI in a subprocess,
against the session's real Orthanc + PostgreSQL) must show none of them, raw or URL-encoded, on
the console or in any file of the run folder (binary files too).

The kinds: a variable of the environment and one of ``.env`` used in the import command's
``env``, a ``passthrough`` variable the import command prints to stdout and stderr, the password
in a DICOMweb URL's userinfo, and a database password with ``@``, ``/``, ``:`` and ``%`` (a real
PostgreSQL role). The run must still work with the encoded password: SQL verification finds the
instances."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from stack import OrthancStack

DICOMFAB = Path(sys.executable).with_name("dicomfab")
STORESCU = "/usr/bin/storescu"  # DCMTK's
SCENARIO = "bits_consistent"
READER = "dicomfab_secret_reader"

PLANTED = {
    "environment": "envplant-7Qx2-site",  # IMPORT_SITE_CODE, a ${…} in the command's env
    ".env": "dotenvplant-K9m4-licence",  # SITE_LICENSE, a ${…} in the command's env
    "passthrough": "passplant-Vk3z-vendor",  # VENDOR_IMPORT_KEY, printed by the command
    "URL userinfo": "urlplant-Hn8w+q/x",  # QIDO_VIEWER_CODE, http://viewer:${…}@host
    "database password": "pgplant@Sent/1nel:9%41x",  # READER_DB_PW (.env), a real role's
}


def forms(value: str) -> set[str]:
    """The value and the forms a URL or a log could give it."""
    return {
        value,
        quote(value, safe=""),
        quote(value),
        quote(value, safe=" +"),
        quote_plus(value, safe=""),
    }


@pytest.fixture(scope="module")
def reader(orthanc_stack: OrthancStack) -> Iterator[str]:
    """A PostgreSQL role that reads Orthanc's index, with a password full of URL characters."""
    password = PLANTED["database password"]
    pg = orthanc_stack.postgres
    pg.execute(
        f"DROP ROLE IF EXISTS {READER}",
        f"CREATE ROLE {READER} LOGIN PASSWORD '{password}' IN ROLE {orthanc_stack.user}",
    )
    try:
        yield READER
    finally:
        pg.execute(f"DROP ROLE IF EXISTS {READER}")


def _toml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string


def write_config(folder: Path, stack: OrthancStack, fail: bool = False) -> Path:
    """``dicomfab.toml`` with target ``leak`` (and ``.env`` beside it)."""
    say = (
        'echo "importing site=$SITE licence=$LIC key=$VENDOR_IMPORT_KEY"; '
        'echo "warning: vendor key $VENDOR_IMPORT_KEY" >&2; '
    )
    if fail:
        script = say + 'echo "import refused for key $VENDOR_IMPORT_KEY" >&2; exit 7'
    else:
        script = (
            say + f'{STORESCU} +sd +r -aet DICOMFAB -aec "$AET" "$HOST" "$PORT" '
            "'{dicoms}' && touch '{folder}/done.txt'"
        )
    http = stack.orthanc.http_port
    text = f"""
[targets.leak]
description = "every kind of secret"
wait = {{ timeout = 120, interval = 1, stable = 2 }}
policy = {{ reject = "accept", quarantine = "accept" }}
verify = [
  {{ kind = "sql", profile = "orthanc-postgres", url = "postgresql+psycopg://{READER}:${{READER_DB_PW}}@{stack.pg_host}:{stack.pg_port}/{stack.database}" }},
  {{ kind = "qido", url = "http://viewer:${{QIDO_VIEWER_CODE}}@{stack.host}:{http}/dicom-web" }},
]

[targets.leak.ingest]
kind = "command"
command = ["/bin/sh", "-c", {_toml(script)}]
env = {{ SITE = "${{IMPORT_SITE_CODE}}", LIC = "${{SITE_LICENSE}}", AET = "${{LEAK_AET}}", HOST = "${{LEAK_HOST}}", PORT = "${{LEAK_PORT}}" }}
passthrough = ["VENDOR_IMPORT_KEY"]
public = ["AET", "HOST", "PORT"]
sentinel = "{{folder}}/done.txt"
timeout = 120
"""  # noqa: E501
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "dicomfab.toml"
    config.write_text(text, encoding="utf-8")
    (folder / ".env").write_text(
        f"SITE_LICENSE={PLANTED['.env']}\nREADER_DB_PW={PLANTED['database password']}\n",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def env(orthanc_stack: OrthancStack, reader: str) -> dict[str, str]:
    return {
        **os.environ,
        "COLUMNS": "250",
        "IMPORT_SITE_CODE": PLANTED["environment"],
        "VENDOR_IMPORT_KEY": PLANTED["passthrough"],
        "QIDO_VIEWER_CODE": PLANTED["URL userinfo"],
        "LEAK_AET": orthanc_stack.ae_title,
        "LEAK_HOST": orthanc_stack.host,
        "LEAK_PORT": str(orthanc_stack.dicom_port),
    }


def dicomfab(*args: str | Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DICOMFAB), *map(str, args)],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def assert_no_secret(text: str, where: str) -> None:
    for kind, value in PLANTED.items():
        for form in forms(value):
            assert form not in text, f"the {kind} value ({form!r}) leaked into {where}"
    assert "1nel" not in text, f"a tail of the database password leaked into {where}"


def assert_no_secret_in_files(root: Path) -> int:
    """Every file under ``root``, as bytes; returns how many were read."""
    checked = 0
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            for kind, value in PLANTED.items():
                for form in forms(value):
                    assert form.encode() not in data, f"the {kind} value ({form!r}) is in {path}"
            assert b"1nel" not in data, f"a tail of the database password is in {path}"
            checked += 1
    return checked


def run(config: Path, seed: int, env: dict[str, str], cwd: Path) -> tuple[int, str, Path]:
    runs = cwd / "runs"
    done = dicomfab(
        "run", "--config", config, "--target", "leak", "-s", SCENARIO, "--image-size", "small",
        "--seed", str(seed), "--runs-dir", runs, env=env, cwd=cwd,
    )  # fmt: skip
    made = [p for p in runs.iterdir() if p.is_dir()]
    assert len(made) == 1, done.stdout + done.stderr
    return done.returncode, done.stdout + done.stderr, made[0]


def test_targets_and_check_show_no_secret(
    env: dict[str, str], orthanc_stack: OrthancStack, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config", orthanc_stack)
    shown = []
    for args in (
        ("targets", "--config", config),
        ("targets", "--config", config, "--json"),
        ("check", "--config", config, "--target", "leak"),
        ("check", "--config", config, "--target", "leak", "--json"),
    ):
        done = dicomfab(*args, env=env, cwd=tmp_path)
        output = done.stdout + done.stderr
        assert done.returncode == 0, output  # the encoded password logs in
        assert "Traceback" not in output
        assert_no_secret(output, " ".join(map(str, args[:1] + args[3:])))
        shown.append(output)
    listing = json.loads(shown[1])["targets"]
    (row,) = [r for r in listing if r["name"] == "leak"]
    sql, qido = row["verify"]
    pg = f"@{orthanc_stack.pg_host}:{orthanc_stack.pg_port}/{orthanc_stack.database}"
    assert f"{READER}:***{pg}" in sql  # the host is the host: no part of the password
    assert "http://viewer:***@" in qido
    probes = json.loads(shown[3])["probes"]
    assert [p["ok"] for p in probes] == [True, True, True], probes


def test_a_run_leaks_no_secret_and_verifies_with_the_encoded_password(
    env: dict[str, str], orthanc_stack: OrthancStack, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config", orthanc_stack)
    code, output, run_dir = run(config, 70911, env, tmp_path)
    assert code == 0, output
    assert_no_secret(output, "the console")
    assert assert_no_secret_in_files(run_dir) >= 8
    report = json.loads((run_dir / "reports" / "report.json").read_text("utf-8"))
    assert report["summary"]["passed"] is True
    log = (run_dir / "logs" / "run.log").read_text("utf-8")
    found = re.search(r"verify: sql \S+ \((\d+) found\)", log)
    assert found and int(found[1]) > 0, log
    ingest = (run_dir / "logs" / "ingest.log").read_text("utf-8")
    assert "importing site=*** licence=*** key=***" in ingest  # the command did print them
    assert "warning: vendor key ***" in ingest


def test_a_failing_import_command_leaks_no_secret(
    env: dict[str, str], orthanc_stack: OrthancStack, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config", orthanc_stack, fail=True)
    code, output, run_dir = run(config, 70912, env, tmp_path)
    assert code == 3, output
    assert "run stopped: ingest: ingest command exited with 7: import refused for key ***" in output
    assert_no_secret(output, "the console")
    assert assert_no_secret_in_files(run_dir) >= 8
    report = json.loads((run_dir / "reports" / "report.json").read_text("utf-8"))
    assert "import refused for key ***" in report["summary"]["error"]
