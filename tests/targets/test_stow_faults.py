"""STOW-RS faults mid-ingest against a real HTTP server on loopback that misbehaves on purpose
(a thread with a socket: Orthanc cannot be made to stall or drop a connection on cue): the
per-target timeout bounds every request as a whole, and a fault keeps what the server had
acknowledged before it (``TargetError.partial``)."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomfab import generate, parse_spec
from dicomfab.errors import (
    TargetAuthError,
    TargetConnectError,
    TargetError,
    TargetRefusedError,
    TargetTimeoutError,
)
from dicomfab.targets.receipt import Receipt
from dicomfab.targets.stow import StowIngestor

SPEC = {
    "seed": 20261203,
    "defaults": {"pixels": {"rows": 32, "columns": 32}},
    "patients": [{"studies": [{"series": [{}]}]}],
}

Behaviour = Callable[[socket.socket, int, bytes], bool]
"""Answer request number ``n`` (0-based) with body ``body``; False closes the connection."""


def _store_response(uids: list[str]) -> bytes:
    items = [
        {
            "00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.1.2"]},
            "00081155": {"vr": "UI", "Value": [uid]},
        }
        for uid in uids
    ]
    return json.dumps({"00081199": {"vr": "SQ", "Value": items}}).encode()


def _answer(conn: socket.socket, body: bytes) -> None:
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    conn.sendall(head.encode() + body)


def _read_request(conn: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return body


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests_seen = 0
        self.stop = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        conn = self.request
        while not self.server.stop.is_set():
            body = _read_request(conn)
            if body is None:
                return
            n = self.server.requests_seen
            self.server.requests_seen += 1
            if not self.server.behaviour(conn, n, body):
                return


@pytest.fixture
def serve() -> Iterator[Callable[[Behaviour], str]]:
    servers: list[_Server] = []

    def start(behaviour: Behaviour) -> str:
        server = _Server(behaviour)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/dicom-web"

    yield start
    for server in servers:
        server.stop.set()
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    result = generate(parse_spec(SPEC), tmp_path_factory.mktemp("stow"), workers=1)
    found = [(Path(result.path) / i.file, i.sop_instance_uid) for i in result.manifest.instances()]
    assert len(found) >= 4
    return sorted(found)


def _stall(stop: threading.Event, seconds: float = 40.0) -> None:
    stop.wait(seconds)


def _ingest(url: str, paths: list[Path], **kwargs: Any) -> tuple[TargetError, float]:
    start = time.monotonic()
    with pytest.raises(TargetError) as info:
        StowIngestor(url, **kwargs).ingest(paths)
    return info.value, time.monotonic() - start


def test_a_server_that_trickles_its_answer_is_given_up_on_after_the_timeout(
    serve: Callable[[Behaviour], str], files: list[tuple[Path, str]]
) -> None:
    stop = threading.Event()

    def trickle(conn: socket.socket, n: int, body: bytes) -> bool:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )
        for _ in range(200):  # one byte every 0.2 s: no single read ever times out
            if stop.wait(0.2):
                return False
            try:
                conn.sendall(b" ")
            except OSError:
                return False
        return False

    url = serve(trickle)
    try:
        error, took = _ingest(url, [f for f, _ in files], batch=2, timeout=2)
    finally:
        stop.set()

    assert took < 10, took
    assert "no complete answer within 2 s" in str(error), error
    assert "STOW-RS" in str(error) and isinstance(error, TargetTimeoutError)


def test_a_server_that_never_answers_ends_in_the_timeout(
    serve: Callable[[Behaviour], str], files: list[tuple[Path, str]]
) -> None:
    stop = threading.Event()

    def silent(conn: socket.socket, n: int, body: bytes) -> bool:
        _stall(stop)
        return False

    url = serve(silent)
    try:
        error, took = _ingest(url, [f for f, _ in files], batch=2, timeout=2)
    finally:
        stop.set()

    assert took < 10, took
    assert "within 2 s" in str(error), error
    assert isinstance(error.partial, Receipt) and error.partial.results == []
    assert isinstance(error, TargetTimeoutError)  # kept when the partial receipt is attached


def _status(code: int, phrase: str) -> Behaviour:
    def answer(conn: socket.socket, n: int, body: bytes) -> bool:
        conn.sendall(f"HTTP/1.1 {code} {phrase}\r\nContent-Length: 0\r\n\r\n".encode())
        return False

    return answer


def test_the_kind_of_an_http_failure_is_its_class(
    serve: Callable[[Behaviour], str], files: list[tuple[Path, str]]
) -> None:
    """401 is an authentication failure (STOW-RS and QIDO-RS), another 4xx a refusal, nothing
    listening a connection failure; each is a TargetError (exit 3)."""
    from dicomfab.targets.embedded import free_port
    from dicomfab.targets.verify_qido import QidoVerifier

    paths = [f for f, _ in files]
    error, _ = _ingest(serve(_status(401, "Unauthorized")), paths)
    assert isinstance(error, TargetAuthError) and "HTTP 401" in str(error)
    with pytest.raises(TargetAuthError):
        QidoVerifier(serve(_status(403, "Forbidden"))).observe(["1.2.3"])
    with pytest.raises(TargetRefusedError, match="HTTP 400"):
        QidoVerifier(serve(_status(400, "Bad Request"))).observe(["1.2.3"])
    with pytest.raises(TargetError) as info:
        QidoVerifier(serve(_status(500, "Internal Server Error"))).observe(["1.2.3"])
    assert type(info.value) is TargetError  # the server failed: none of the four kinds
    error, _ = _ingest(f"http://127.0.0.1:{free_port()}/dicom-web", paths)
    assert isinstance(error, TargetConnectError) and "cannot connect" in str(error)


@pytest.mark.parametrize("fault", ["stall", "drop"])
def test_what_was_acknowledged_before_a_fault_is_in_the_error(
    fault: str, serve: Callable[[Behaviour], str], files: list[tuple[Path, str]]
) -> None:
    stop = threading.Event()
    first = [uid for _, uid in files[:2]]

    def then_fault(conn: socket.socket, n: int, body: bytes) -> bool:
        if n == 0:
            _answer(conn, _store_response(first))
            return True
        if fault == "stall":
            _stall(stop)
        return False  # closes the connection without an answer

    url = serve(then_fault)
    try:
        error, took = _ingest(url, [f for f, _ in files], batch=2, timeout=3)
    finally:
        stop.set()

    assert took < 15, took
    partial = error.partial
    assert isinstance(partial, Receipt), error
    assert [(r.file, r.sop_instance_uid, r.outcome) for r in partial.results] == [
        (f, uid, "success") for f, uid in files[:2]
    ]
    assert "\n" not in str(error)
    if fault == "stall":
        assert "within 3 s" in str(error), error
    else:
        assert "connection lost" in str(error) or "cannot connect" in str(error), error
