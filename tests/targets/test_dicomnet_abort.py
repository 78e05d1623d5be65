"""An association's socket is closed even when the peer reset the connection first or refused
it (pynetdicom's own shutdown leaves it open then; the garbage collector found it much later,
as a ResourceWarning in an unrelated test), and an association is one connection."""

from __future__ import annotations

import contextlib
import gc
import socket
import struct
import threading
import time
import warnings
from collections.abc import Iterator

import pytest
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.transport import AssociationSocket

from dicomfab.errors import TargetConnectError
from dicomfab.targets._dicomnet import DicomNode, abort

VERIFICATION = "1.2.840.10008.1.1"


@pytest.fixture
def scp() -> Iterator[tuple[int, list[socket.socket]]]:
    """A Verification SCP on loopback: its port, and its side of each connection."""
    accepted: list[socket.socket] = []
    ae = AE(ae_title="PEER")
    ae.add_supported_context(VERIFICATION)
    handlers = [(evt.EVT_CONN_OPEN, lambda event: accepted.append(event.assoc.dul.socket.socket))]
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
    try:
        yield server.server_address[1], accepted
    finally:
        server.shutdown()


def _reset_by_peer(port: int, accepted: list[socket.socket]) -> tuple[Association, socket.socket]:
    """An association whose peer then resets the connection (closes with SO_LINGER 0 s: RST,
    as a PACS that drops a client does), once our side has seen it."""
    ae = AE(ae_title="DICOMFAB")
    ae.add_requested_context(VERIFICATION)
    assoc = ae.associate("127.0.0.1", port, ae_title="PEER")
    assert assoc.is_established
    peer = accepted[-1]
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()
    deadline = time.monotonic() + 10
    while assoc.is_established and time.monotonic() < deadline:
        time.sleep(0.01)
    return assoc, assoc.dul.socket.socket


def test_pynetdicoms_abort_leaves_the_socket_open_after_a_reset(
    scp: tuple[int, list[socket.socket]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the fault _dicomnet's patch exists for: if pynetdicom fixes it, this test says so
    patched = AssociationSocket._shutdown_socket
    monkeypatch.setattr(AssociationSocket, "_shutdown_socket", patched.original)  # type: ignore[attr-defined]
    assoc, sock = _reset_by_peer(*scp)
    assoc.abort()
    try:
        assert sock.fileno() != -1
    finally:
        sock.close()


def test_abort_closes_the_socket_after_a_reset(scp: tuple[int, list[socket.socket]]) -> None:
    assoc, sock = _reset_by_peer(*scp)
    abort(assoc)
    assert sock.fileno() == -1
    assert not assoc.dul.is_alive()


def test_abort_of_an_association_already_over_is_quiet(
    scp: tuple[int, list[socket.socket]],
) -> None:
    assoc, sock = _reset_by_peer(*scp)
    abort(assoc)
    abort(assoc)  # a second stop (Ctrl-C after a failure) changes nothing and raises nothing
    assert sock.fileno() == -1


def test_an_association_is_one_connection(scp: tuple[int, list[socket.socket]]) -> None:
    # no probe connection first: it would hold one of the peer's association slots
    port, accepted = scp
    ae = AE(ae_title="DICOMFAB")
    ae.add_requested_context(VERIFICATION)
    assoc = DicomNode("127.0.0.1", port, "PEER").associate(ae)
    assoc.release()
    assert len(accepted) == 1


def test_a_refused_connection_says_why_and_leaves_no_socket() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ae = AE(ae_title="DICOMFAB")
    ae.add_requested_context(VERIFICATION)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(3):
            with pytest.raises(TargetConnectError, match="Connection refused"):
                DicomNode("127.0.0.1", port, "PEER").associate(ae)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_a_peer_that_never_answers_the_request_is_a_timeout_asked_once() -> None:
    """A peer that accepts the connection and then says nothing (busy: it serves one
    association at a time and another is open) is reported as such, after one ACSE timeout, and
    asked only once (a quick abort is asked twice: see ``associate``)."""
    from dicomfab.errors import TargetTimeoutError

    listener = socket.create_server(("127.0.0.1", 0))
    connections: list[socket.socket] = []
    try:
        ae = AE(ae_title="DICOMFAB")
        ae.add_requested_context(VERIFICATION)
        ae.acse_timeout = 0.5
        ae.connection_timeout = 5

        def accept_all() -> None:
            listener.settimeout(5)
            with contextlib.suppress(OSError):
                while len(connections) < 2:
                    connections.append(listener.accept()[0])

        thread = threading.Thread(target=accept_all, daemon=True)
        thread.start()
        node = DicomNode("127.0.0.1", listener.getsockname()[1], "SILENT")
        start = time.monotonic()
        with pytest.raises(
            TargetTimeoutError, match=r"no answer to the association request within 0\.5 s"
        ):
            node.associate(ae)
        took = time.monotonic() - start
    finally:
        listener.close()
        thread.join(10)
        for connection in connections:
            connection.close()
    assert len(connections) == 1  # asked once
    assert 0.45 <= took < 2.0
