"""Secrets: which values of a target are secret, how they are masked (by value, raw and
URL-encoded, plus any URL's password), and that one module does all the masking."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy.engine import make_url

from dicomfab.errors import TargetError
from dicomfab.run.connect import describe, target_rows
from dicomfab.targets._dicomweb import DicomWebEndpoint
from dicomfab.targets.command import CommandIngestor
from dicomfab.targets.config import load_targets
from dicomfab.targets.secrets import (
    MASK,
    Masker,
    expanded,
    in_password,
    in_userinfo,
    mask_url,
    scrub,
    secret_values,
)
from dicomfab.targets.verify_sql import SQLVerifier

SRC = Path(__file__).resolve().parents[2] / "src" / "dicomfab"
DB_PW = "pg@Sent/1nel:9%41x"  # every character a URL gives a meaning to


def _load(tmp_path: Path, text: str, environ: dict[str, str], dotenv: str = "") -> object:
    config = tmp_path / "dicomfab.toml"
    config.write_text(text, encoding="utf-8")
    if dotenv:
        (tmp_path / ".env").write_text(dotenv, encoding="utf-8")
    return load_targets(config, environ)


# ── masking ──────────────────────────────────────────────────────────────────────────────────


def test_a_value_is_masked_raw_and_in_every_url_encoded_form() -> None:
    masker = Masker([DB_PW])
    for form in (DB_PW, quote(DB_PW, safe=""), quote(DB_PW, safe=" +"), quote(DB_PW)):
        assert masker(f"before {form} after") == f"before {MASK} after"


def test_the_longer_secret_is_masked_whole() -> None:
    assert Masker(["abc", "abcdef"])("x abcdef y abc") == f"x {MASK} y {MASK}"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://viewer:hunter2@pacs:8042/dicom-web", "http://viewer:***@pacs:8042/dicom-web"),
        ("postgresql+psycopg://r:p%40w@db:5432/x", "postgresql+psycopg://r:***@db:5432/x"),
        ("https://u:@h/", "https://u:***@h/"),
        ("http://pacs:8042/dicom-web", "http://pacs:8042/dicom-web"),
        ("http://viewer@pacs/", "http://viewer@pacs/"),
        ("sqlite:////tmp/x.sqlite", "sqlite:////tmp/x.sqlite"),
    ],
)
def test_mask_url_hides_only_the_password(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_any_url_password_in_text_is_masked_without_knowing_it() -> None:
    text = "STOW-RS http://a:lit3ral@h:1/w → QIDO-RS https://b:other@h/w, ssh me@bastion:22"
    assert (
        Masker()(text)
        == "STOW-RS http://a:***@h:1/w → QIDO-RS https://b:***@h/w, ssh me@bastion:22"
    )


def test_dicomweb_and_sql_errors_use_the_same_masking() -> None:
    assert scrub(f"bad {quote(DB_PW, safe='')}\nline", DB_PW) == f"bad {MASK} line"
    endpoint = DicomWebEndpoint(f"http://viewer:{quote(DB_PW, safe='')}@127.0.0.1:9/dicom-web")
    assert endpoint.username == "viewer" and endpoint._password == DB_PW  # sent as basic auth
    assert endpoint.url == "http://127.0.0.1:9/dicom-web" and DB_PW not in endpoint.safe_url
    sql = SQLVerifier(f"postgresql+psycopg://r:{quote(DB_PW, safe='')}@127.0.0.1:9/x", "SELECT 1")
    assert sql.safe_url == "postgresql+psycopg://r:***@127.0.0.1:9/x"


# ── expansion: ${VAR} in a URL's userinfo is percent-encoded ─────────────────────────────────


def test_userinfo_positions() -> None:
    text = "postgresql+psycopg://${U}:${PW}@${HOST}:5432/${DB}?x=${Q}"
    at = {name: text.index("${" + name) for name in ("U", "PW", "HOST", "DB", "Q")}
    assert in_userinfo(text, at["U"]) and in_userinfo(text, at["PW"])
    assert in_password(text, at["PW"]) and not in_password(text, at["U"])
    for name in ("HOST", "DB", "Q"):
        assert not in_userinfo(text, at[name])
    assert expanded("a@b/c", text, at["PW"]) == "a%40b%2Fc"
    assert expanded("a@b/c", text, at["DB"]) == "a@b/c"
    assert not in_userinfo("no url ${X} here", 7)


def test_a_database_password_with_url_characters_stays_a_password(tmp_path: Path) -> None:
    targets = _load(
        tmp_path,
        '[targets.db]\ningest = { kind = "cstore", port = 4242, called_ae = "X" }\n'
        'verify = { kind = "sql", profile = "orthanc-postgres", '
        'url = "postgresql+psycopg://reader:${READER_DB_PW}@db.example:5432/orthanc" }\n',
        {},
        dotenv=f"READER_DB_PW={DB_PW}\n",
    )
    url = make_url(targets.get("db").verify.url)  # type: ignore[attr-defined]
    assert (url.host, url.port, url.database) == ("db.example", 5432, "orthanc")
    assert url.username == "reader" and url.password == DB_PW
    for text in (describe(targets.get("db"), targets), str(target_rows(targets))):  # type: ignore[attr-defined,arg-type]
        assert "db.example:5432/orthanc" in text and "reader:***@" in text
        assert DB_PW not in text and quote(DB_PW, safe="") not in text
        assert "1nel" not in text  # no tail of the password either


# ── which values are secret ──────────────────────────────────────────────────────────────────

COMMAND_TARGET = """
[targets.product]
verify = { kind = "qido", url = "http://viewer:${QIDO_VIEWER_CODE}@${PRODUCT_HOST}:8042/dicom-web" }

[targets.product.ingest]
kind = "command"
command = ["import", "{folder}"]
passthrough = ["VENDOR_IMPORT_KEY", "BOLUS2_USER", "BOLUS2_PASSWORD"]
env = { SITE = "${IMPORT_SITE_CODE}", HOST = "${PRODUCT_HOST}", LIC = "${SITE_LICENSE}" }
public = ["BOLUS2_USER", "HOST", "BOLUS2_PASSWORD"]
"""
ENVIRON = {
    "VENDOR_IMPORT_KEY": "vik-1d2e3f",
    "BOLUS2_USER": "bolus-user-visible",
    "BOLUS2_PASSWORD": "bolus-pw-still-secret",
    "IMPORT_SITE_CODE": "site-code-9c8b",
    "PRODUCT_HOST": "product.example",
    "QIDO_VIEWER_CODE": "qido-77aa",
}


def test_passthrough_env_and_url_passwords_are_secret_unless_public(tmp_path: Path) -> None:
    targets = _load(tmp_path, COMMAND_TARGET, ENVIRON, dotenv="SITE_LICENSE=lic-from-dotenv\n")
    secrets = targets.secrets  # type: ignore[attr-defined]
    assert secrets == {
        "vik-1d2e3f",  # passthrough
        "bolus-pw-still-secret",  # public, but its name says it is a secret
        "site-code-9c8b",  # ${…} in env
        "lic-from-dotenv",  # ${…} in env, from .env
        "qido-77aa",  # a URL's password
    }
    shown = str(target_rows(targets))  # type: ignore[arg-type]
    assert "viewer:***@product.example:8042" in shown and "qido-77aa" not in shown


def test_secret_values_reads_the_table_as_written() -> None:
    table = {
        "ingest": {"kind": "stow", "url": "http://u:${A}@h/", "password": "literal-pw"},
        "verify": [
            {"kind": "qido", "url": "http://${USER_NAME}@h/", "username": "${USER_NAME}"},
            {"kind": "sql", "url": "postgresql://r:in%40url@${HOST}/x", "profile": "embedded"},
        ],
    }
    env = {"A": "a-value", "USER_NAME": "alice", "HOST": "db"}
    assert secret_values(table, env) == {"a-value", "literal-pw", "in@url"}


def test_the_command_ingestor_masks_every_passthrough_not_public(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VENDOR_IMPORT_KEY", "vik-planted-4711")
    monkeypatch.setenv("BOLUS2_USER", "shown-user")
    log = tmp_path / "ingest.log"
    ingestor = CommandIngestor(
        ["/bin/sh", "-c", 'echo "key=$VENDOR_IMPORT_KEY user=$BOLUS2_USER"; '
         'echo "failed for $VENDOR_IMPORT_KEY" >&2; exit 4'],
        folder=tmp_path,
        passthrough=["VENDOR_IMPORT_KEY", "BOLUS2_USER"],
        public=["BOLUS2_USER"],
        log_path=log,
    )  # fmt: skip
    with pytest.raises(TargetError) as info:
        ingestor.run()
    assert str(info.value) == "ingest command exited with 4: failed for ***"
    text = log.read_text()
    assert "key=*** user=shown-user" in text and "vik-planted-4711" not in text


# ── one place ────────────────────────────────────────────────────────────────────────────────


def _masking_lines(path: Path) -> list[int]:
    """Lines of ``path`` with a string (not a docstring) holding ``***``, a ``MASK =`` or a
    ``.replace(…secret…/…password…)``."""
    tree = ast.parse(path.read_text("utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "***" in node.value and id(node) not in docstrings:
                found.append(node.lineno)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "MASK" for t in targets):
                found.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "replace"
            and re.search(r"secret|password", ast.unparse(node), re.IGNORECASE)
        ):
            found.append(node.lineno)
    return found


def test_one_module_masks() -> None:
    """Only targets/secrets.py defines MASK, writes "***" or replaces secrets in text."""
    offenders = [
        f"{path.relative_to(SRC)}:{line}"
        for path in sorted(SRC.rglob("*.py"))
        if path != SRC / "targets" / "secrets.py"
        for line in _masking_lines(path)
    ]
    assert offenders == []
    assert _masking_lines(SRC / "targets" / "secrets.py")  # the check does see masking
