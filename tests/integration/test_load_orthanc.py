"""``dicomfab load`` as a user runs it (the CLI in a subprocess) against the session's Orthanc +
PostgreSQL: studies at a fast rate, seen through the orthanc-postgres SQL profile; then a target
that is unreachable, and one whose connection dies mid-run (a proxy in front of Orthanc that
closes everything after some bytes): exit 3, the failures recorded, nothing credited."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stack import OrthancStack, free_port


def _targets(tmp_path: Path, stack: OrthancStack, port: int) -> Path:
    url = (
        f"postgresql+psycopg://{stack.user}:{stack.password}@{stack.pg_host}:{stack.pg_port}/"
        f"{stack.database}"
    )
    path = tmp_path / "dicomfab.toml"
    path.write_text(
        "[targets.orthanc]\n"
        f'ingest = {{ kind = "cstore", host = "{stack.host}", port = {port}, '
        f'called_ae = "{stack.ae_title}", timeout = 20 }}\n'
        f'verify = {{ kind = "sql", profile = "orthanc-postgres", url = "{url}" }}\n',
        encoding="utf-8",
    )
    return path


def _load(config: Path, out: Path, seed: int, *extra: str) -> tuple[int, dict[str, Any], str]:
    cmd = [sys.executable, "-m", "dicomfab", "load", "-c", str(config), "-t", "orthanc",
           "--image-size", "small", "--seed", str(seed), "-o", str(out), "-q", *extra]  # fmt: skip
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"}
    )
    data = (
        json.loads((out / "load.json").read_text("utf-8")) if (out / "load.json").exists() else {}
    )
    return done.returncode, data, done.stdout + done.stderr


def test_load_six_studies_all_visible(orthanc_stack: OrthancStack, tmp_path: Path) -> None:
    config = _targets(tmp_path, orthanc_stack, orthanc_stack.dicom_port)
    code, data, output = _load(
        config, tmp_path / "out", 910_001, "--studies", "6", "--rate", "600/min", "--poll", "0.2"
    )
    assert code == 0, output
    assert "Traceback" not in output
    studies = data["studies"]
    assert len(studies) == 6
    assert all(s["state"] == "visible" for s in studies), studies
    assert all(s["latency"] is not None and s["latency"] > 0 for s in studies)
    assert all(s["statuses"] == [0, 0, 0, 0] for s in studies)
    assert len({s["study_instance_uid"] for s in studies}) == 6
    summary = data["summary"]
    assert summary["latency"]["count"] == 6
    assert summary["latency"]["p50"] <= summary["latency"]["p99"] <= summary["latency"]["max"]
    assert summary["throughput"]["instances_per_s"] > 0
    assert data["config"]["associations"] == 3
    html = (tmp_path / "out" / "load.html").read_text("utf-8")
    assert html.count("<svg") == 2
    # the same seed again: the target holds these UIDs, which would be credited at once
    code, _, output = _load(config, tmp_path / "again", 910_001, "--studies", "2", "--rate", "60")
    assert code == 2, output
    assert "another --seed" in output and "Traceback" not in output


def test_unreachable_target_exit_3_nothing_credited(
    orthanc_stack: OrthancStack, tmp_path: Path
) -> None:
    config = _targets(tmp_path, orthanc_stack, free_port())  # nothing listens there
    code, data, output = _load(config, tmp_path / "out", 910_002, "-n", "3", "--rate", "600")
    assert code == 3, output
    assert "Traceback" not in output
    assert "cannot connect" in data["fault"]
    assert data["summary"]["states"]["visible"] == 0
    assert all(s["errors"] and s["latency"] is None for s in data["studies"])


class _Proxy:
    """Forwards one port to Orthanc's; once ``limit`` bytes went upstream it closes every
    connection and stops listening (the target "dies" mid-run)."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.upstream = (host, port)
        self.limit = limit
        self.sent = 0
        self.lock = threading.Lock()
        self.dead = threading.Event()
        self.sockets: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while not self.dead.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:  # a connection accepted while kill() ran is closed here, not leaked
                if self.dead.is_set():
                    client.close()
                    server.close()
                    return
                self.sockets += [client, server]
            for a, b, count in ((client, server, True), (server, client, False)):
                thread = threading.Thread(target=self._pump, args=(a, b, count), daemon=True)
                thread.start()
                self.threads.append(thread)

    def _pump(self, a: socket.socket, b: socket.socket, count: bool) -> None:
        try:
            while chunk := a.recv(65536):
                b.sendall(chunk)
                if count:
                    with self.lock:
                        self.sent += len(chunk)
                        over = self.sent > self.limit
                    if over:
                        self.kill()
                        return
        except OSError:
            pass

    def kill(self) -> None:
        with self.lock:
            self.dead.set()
            sockets = [self.listener, *self.sockets]
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


@pytest.fixture
def proxy(orthanc_stack: OrthancStack) -> Iterator[_Proxy]:
    # a small study is about 0.4 MB: the connection dies during the third study or so
    p = _Proxy(orthanc_stack.host, orthanc_stack.dicom_port, limit=1_000_000)
    try:
        yield p
    finally:
        p.kill()
        for thread in p.threads:
            thread.join(5)


def test_target_dies_mid_run_exit_3_failures_recorded(
    orthanc_stack: OrthancStack, proxy: _Proxy, tmp_path: Path
) -> None:
    config = _targets(tmp_path, orthanc_stack, proxy.port)
    code, data, output = _load(
        config, tmp_path / "out", 910_003, "-n", "8", "--rate", "300/min", "-a", "1"
    )
    assert proxy.dead.is_set()
    assert code == 3, output
    assert "Traceback" not in output
    assert data["fault"]
    studies = data["studies"]
    failed = [s for s in studies if s["state"] == "failed"]
    assert failed and all(s["errors"] for s in failed)
    assert any("connection" in e or "no response" in e for s in failed for e in s["errors"])
    for s in studies:  # credited only with every instance answered with success, and seen
        if s["state"] == "visible":
            assert s["statuses"] == [0, 0, 0, 0] and s["latency"] is not None
        else:
            assert s["latency"] is None
    assert data["summary"]["states"]["visible"] < 8
    assert sum(row["failed"] for row in data["timeline"]) == len(failed)


def test_interrupted_load_stops_in_seconds_and_writes_what_it_measured(
    orthanc_stack: OrthancStack, tmp_path: Path
) -> None:
    config = _targets(tmp_path, orthanc_stack, orthanc_stack.dicom_port)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "dicomfab", "load", "-c", str(config), "-t", "orthanc",
           "--image-size", "small", "--seed", "910004", "-o", str(out), "-q",
           "-n", "50", "--rate", "60/min"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        template = out / ".load-template"
        deadline = time.monotonic() + 120
        while not template.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        while template.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(3)  # a few studies out (one a second)
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        _, err = proc.communicate(timeout=30)
        stopped_in = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted (SIGINT)" in err
    assert stopped_in < 15
    data = json.loads((out / "load.json").read_text("utf-8"))
    assert data["interrupted"] == "SIGINT" and data["exit_code"] == 130
    states = data["summary"]["states"]
    assert any(s["sent_at"] is not None for s in data["studies"])  # it had started sending
    assert states["visible"] < 50
    assert all(s["latency"] is None for s in data["studies"] if s["state"] != "visible")
