"""A product's own link relation (``[targets.NAME.links]``): the ``sql``, ``http`` and
``command`` kinds against real peers (a SQLite file, an HTTP server on loopback, a Python
script), the config table, ``dicomfab targets`` and ``dicomfab check``."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from test_children import _alive as _running
from test_children import _signal_later, marker  # noqa: F401  (marker: a fixture)

from dicomfab.errors import TargetAuthError, TargetError, TargetTimeoutError
from dicomfab.run.connect import load_targets, target_rows
from dicomfab.run.probe import probe
from dicomfab.targets.links import LinkPairs, link_mode, relation_config, resolve_pointer
from dicomfab.targets.links_command import CommandLinks
from dicomfab.targets.links_http import HTTPLinks
from dicomfab.targets.links_sql import SQLLinks

A, B, C, D = "2.25.101", "2.25.102", "2.25.103", "2.25.104"
TOKEN = "tok-5f1e-secret"


# --- sql ------------------------------------------------------------------------------------------


@pytest.fixture
def link_db(tmp_path: Path) -> Path:
    path = tmp_path / "product.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE prior_link (study_uid TEXT, linked_study_uid TEXT)")
        db.executemany("INSERT INTO prior_link VALUES (?, ?)", [(A, B), (B, A), (C, D)])
    return path


QUERY = "SELECT study_uid, linked_study_uid FROM prior_link WHERE study_uid IN :study_uids"


def test_sql_returns_the_pairs_of_the_asked_studies_in_batches(link_db: Path) -> None:
    links = SQLLinks(f"sqlite:///{link_db}", QUERY, batch=1)
    found = links.pairs([A, B, A])
    assert found.pairs == {(A, B), (B, A)}
    assert found.linked(A) == {B} and found.linked(C) == frozenset()
    assert found.source.startswith("sql links sqlite:///")


def test_linked_reads_a_pair_either_way_and_ignores_a_study_paired_with_itself() -> None:
    found = LinkPairs(frozenset({(A, B), (C, A), (D, D), (B, A)}), "sql db")
    assert found.linked(A) == {B, C}
    assert found.linked(B) == {A} and found.linked(C) == {A}
    assert found.linked(D) == frozenset() and found.linked("2.25.9") == frozenset()


def test_sql_query_returning_no_rows_gives_empty_pairs(link_db: Path) -> None:
    found = SQLLinks(f"sqlite:///{link_db}", QUERY + " AND 1 = 0").pairs([A, B, C])
    assert isinstance(found, LinkPairs) and found.pairs == frozenset()


def test_sql_errors_are_one_line_target_errors(link_db: Path) -> None:
    bad = SQLLinks(f"sqlite:///{link_db}", "SELECT x FROM no_table WHERE y IN :study_uids")
    with pytest.raises(TargetError, match=r"^SQL links against sqlite:///.*no such table"):
        bad.pairs([A])


# --- http -----------------------------------------------------------------------------------------

LINKS = {A: [B], B: [A], C: [D]}


class _Handler(BaseHTTPRequestHandler):
    requests: list[str]

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._send(401, {"Message": "bad token"})
            return
        parts = urlsplit(self.path).path.split("/")
        if parts[1] == "study" and parts[2] in LINKS:  # /study/UID/links
            self._send(200, {"data": {"prior/links": LINKS[parts[2]]}})
        elif parts[1] == "study":
            self._send(404, {"Message": "unknown study"})
        else:  # /links/UID,UID,…
            uids = unquote(parts[2]).split(",")
            self._send(200, {"links": {u: LINKS.get(u, []) for u in uids}})

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def _root(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_http_per_study_with_a_json_pointer_and_bearer_auth(server: ThreadingHTTPServer) -> None:
    links = HTTPLinks(
        f"{_root(server)}/study/{{study_uid}}/links", "/data/prior~1links", token=TOKEN
    )
    found = links.pairs([A, C, "2.25.999"])
    assert found.pairs == {(A, B), (C, D)}  # the unknown study (404) is linked to nothing
    assert len(server.requests) == 3  # type: ignore[attr-defined]
    assert "per study" in found.source


def test_http_batch_form_asks_once_per_batch(server: ThreadingHTTPServer) -> None:
    links = HTTPLinks(f"{_root(server)}/links/{{study_uids}}", "/links", token=TOKEN, batch=2)
    found = links.pairs([A, B, C])
    assert found.pairs == {(A, B), (B, A), (C, D)}
    assert len(server.requests) == 2  # type: ignore[attr-defined]


def test_http_wrong_token_is_an_auth_error_without_the_token(server: ThreadingHTTPServer) -> None:
    links = HTTPLinks(f"{_root(server)}/links/{{study_uids}}", "/links", token="wrong-tok")
    with pytest.raises(TargetAuthError, match="HTTP 401") as caught:
        links.pairs([A])
    assert "wrong-tok" not in str(caught.value)


def test_json_pointer_follows_rfc_6901() -> None:
    doc = {"a/b": {"m~n": [10, {"x": 1}]}}
    assert resolve_pointer(doc, "/a~1b/m~0n/1/x") == 1
    assert resolve_pointer(doc, "") is doc
    with pytest.raises(KeyError):
        resolve_pointer(doc, "/a~1b/nothing")


# --- command --------------------------------------------------------------------------------------

SCRIPT = """\
import json, sys
links = LINKS
source = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
for uid in source.read().split():
    for other in links.get(uid, []):
        print(json.dumps({"study_uid": uid, "linked_study_uid": other}))
    print()
""".replace("LINKS", repr({A: [B], C: [D]}))


@pytest.mark.parametrize("with_file", [True, False], ids=["file", "stdin"])
def test_command_prints_json_lines(tmp_path: Path, with_file: bool) -> None:
    script = tmp_path / "links.py"
    script.write_text(SCRIPT)
    argv = [sys.executable, str(script), *(["{study_uids_file}"] if with_file else [])]
    found = CommandLinks(argv).pairs([A, B, C])
    assert found.pairs == {(A, B), (C, D)}


def test_command_that_prints_garbage_or_fails_says_so(tmp_path: Path) -> None:
    garbage = CommandLinks([sys.executable, "-c", "print('not json')"])
    with pytest.raises(TargetError, match="line 1: not JSON"):
        garbage.pairs([A])
    failing = CommandLinks([sys.executable, "-c", "import sys; sys.exit('no db: pw-x1')"],
                           secrets=["pw-x1"])  # fmt: skip
    with pytest.raises(TargetError, match=r"exited with 1: no db: \*\*\*"):
        failing.pairs([A])


def test_command_that_times_out_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = (
        "import os, subprocess, sys, time; "
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); "
        f"open({str(pid_file)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}'); time.sleep(300)"
    )
    links = CommandLinks([sys.executable, "-c", code], timeout=2)
    with pytest.raises(TargetTimeoutError, match="timed out after 2 s"):
        links.pairs([A])
    for pid in map(int, pid_file.read_text().split()):  # the command and what it started
        assert not _alive(pid)


def test_command_interrupted_is_stopped_with_what_it_started(marker: str) -> None:  # noqa: F811
    """Ctrl-C (SIGINT) during the lookup: the command and its children are stopped, and the
    interruption goes on."""
    links = CommandLinks(["/bin/sh", "-c", f"{marker} & {marker}"], timeout=600)
    thread = _signal_later(signal.SIGINT, 1.0)
    with pytest.raises(KeyboardInterrupt):
        links.pairs([A])
    thread.join()
    assert _running(marker) == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


# --- the targets file, dicomfab targets, dicomfab check -------------------------------------------

BASE = """\
[targets.p]
ingest = { kind = "cstore", host = "127.0.0.1", port = 1, called_ae = "P" }
verify = { kind = "sql", profile = "embedded", url = "sqlite:///%(db)s" }
"""


def _targets(tmp_path: Path, links: str, environ: dict[str, str] | None = None) -> Any:
    path = tmp_path / "dicomfab.toml"
    path.write_text(BASE % {"db": tmp_path / "product.sqlite"} + links)
    return load_targets(path, environ or {})


def test_links_table_parses_and_is_shown_and_probed(tmp_path: Path, link_db: Path) -> None:
    table = f'links = {{ kind = "sql", url = "sqlite:///{link_db}", query = "{QUERY}" }}\n'
    targets = _targets(tmp_path, table)
    target = targets.get("p")
    assert relation_config(target) is not None
    row = next(r for r in target_rows(targets) if r["name"] == "p")
    assert row["links"] == f"SQL links query sqlite:///{link_db}"
    probes = probe("p", targets, tmp_path)
    links = [p for p in probes if p.part == "links"]
    assert len(links) == 1 and links[0].ok, links
    assert "answers" in links[0].detail


def test_links_mode_defaults_to_same_patient_and_typos_are_named(tmp_path: Path) -> None:
    assert _targets(tmp_path, "").get("p").links == "same-patient"
    assert _targets(tmp_path, 'links = "none"\n').get("p").links == "none"
    by_id = _targets(tmp_path, 'links = "same-patient-id"\n').get("p")
    assert by_id.links == "same-patient-id" and link_mode(by_id) == "same-patient-id"
    typo = _targets(tmp_path, 'links = "same-patien"\n')
    assert typo.problem("p") == (
        "targets.p.links: must be 'same-patient' or 'same-patient-id' or 'none', or a table with"
        " a kind"
        " (did you mean same-patient?)"
    )
    kind = _targets(tmp_path, 'links = { kind = "htp", url = "http://h/{study_uid}" }\n')
    assert kind.problem("p") == (
        "targets.p.links: unknown kind 'htp' (known: command, http, sql) (did you mean http?)"
    )


def test_http_links_token_is_a_secret(tmp_path: Path) -> None:
    table = 'links = { kind = "http", url = "http://h/{study_uid}", token = "${LINK_KEY}" }\n'
    targets = _targets(tmp_path, table, {"LINK_KEY": "k-77e1"})
    assert "k-77e1" in targets.secrets
    assert targets.mask("Bearer k-77e1") == "Bearer ***"


def test_probe_of_a_broken_relation_fails_as_data(tmp_path: Path) -> None:
    table = 'links = { kind = "command", command = ["no-such-program-4711"] }\n'
    probes = probe("p", _targets(tmp_path, table), tmp_path)
    links = [p for p in probes if p.part == "links"]
    assert len(links) == 1 and not links[0].ok
    assert links[0].detail == "program not found: no-such-program-4711"
