"""What the DICOM network adapters share: where a peer is (:class:`DicomNode`, and its table in
a targets file, :class:`DicomNodeConfig`), an AE with its timeouts, association with
TCP_NODELAY, and one clear :class:`~dicomfab.errors.TargetError` when an association cannot be
had."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from pydantic import Field
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.transport import AssociationSocket

from dicomfab.errors import (
    TargetConnectError,
    TargetError,
    TargetRefusedError,
    TargetTimeoutError,
)
from dicomfab.targets.registry import AdapterConfig

CALLING_AE = "DICOMFAB"  # the AE title dicomfab calls with unless told otherwise


def _nodelay(event: Any) -> None:
    """Turn Nagle's algorithm off as soon as the TCP connection is open (before A-ASSOCIATE).

    pynetdicom never sets TCP_NODELAY; with Nagle on, each DIMSE message whose command and data
    go out in separate writes waits for a delayed ACK (about 40 ms), capping small-instance
    C-STORE at ~20 per second."""
    sock = event.assoc.dul.socket.socket if event.assoc.dul.socket else None
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


NODELAY_HANDLERS: list[Any] = [(evt.EVT_CONN_OPEN, _nodelay)]


def _close_even_when_shutdown_fails() -> None:
    """pynetdicom (3.0.4) shuts a socket down and closes it in one ``try``: when the shutdown
    fails (the connection was refused, or the peer reset it first) the close is skipped and the
    socket is left to the garbage collector, which finds it much later as a ResourceWarning in
    whatever code runs then. Installed once, for every association of this process."""
    original = AssociationSocket._shutdown_socket
    if getattr(original, "closes_always", False):
        return

    def shutdown_socket(self: AssociationSocket) -> None:
        sock = self.socket
        try:
            original(self)
        finally:
            if sock is not None:
                sock.close()

    shutdown_socket.closes_always = True  # type: ignore[attr-defined]
    shutdown_socket.original = original  # type: ignore[attr-defined]
    AssociationSocket._shutdown_socket = shutdown_socket  # type: ignore[method-assign]


_close_even_when_shutdown_fails()


def abort(assoc: Association) -> None:
    """Abort ``assoc`` from any thread, if it is not over already (its socket is closed even
    when the peer reset the connection first: :func:`_close_even_when_shutdown_fails`)."""
    with suppress(Exception):  # already gone: nothing left to stop
        assoc.abort()


def stop(assoc: Association) -> None:
    """Abort ``assoc`` from another thread and wake the thread that uses it: an empty answer is
    queued, so a ``send_*`` waiting for one returns at once as "no response" instead of after
    the DIMSE timeout; and the association is marked paused, so a pynetdicom ``send_*`` that
    starts after the abort does not spin for ever waiting for a reactor that has ended."""
    abort(assoc)
    assoc._is_paused = True
    with suppress(Exception):  # already gone: nothing left to wake
        assoc.dimse.msg_queue.put((None, None))


class ReactorCheckpoint:
    """The gate an association's reactor thread waits at, which can also say whether the
    reactor is waiting at it right now (:attr:`parked`); installed by :func:`associate` in place
    of pynetdicom's ``threading.Event``, whose ``set``/``clear``/``wait``/``is_set`` it keeps.

    pynetdicom's ``send_*`` methods close the gate and spin until the reactor's ``_is_paused``
    flag is True. That flag is still True for a moment after the reactor is woken (it turns
    False only once the reactor thread runs again), so a request can go out while the reactor
    is about to poll the DIMSE queue: the reactor then takes the first answer off it ("Received
    unexpected C-FIND service message", pydicom/pynetdicom#875) and the request misses a match
    or waits for the DIMSE timeout. Here a reactor woken after the gate was closed again goes
    back to waiting, and :func:`pause_reactor` waits for :attr:`parked` instead of that flag."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._open = True
        self.parked = False  # written under the lock; True only while wait() blocks

    def set(self) -> None:
        with self._cond:
            self._open = True
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._open = False

    def is_set(self) -> bool:
        return self._open

    def wait(self, timeout: float | None = None) -> bool:
        with self._cond:
            self.parked = True
            try:
                return self._cond.wait_for(lambda: self._open, timeout)
            finally:
                self.parked = False


def pause_reactor(assoc: Association) -> None:
    """Stop ``assoc``'s reactor before a request is sent on it, so that only the caller takes
    the answer off the DIMSE queue: returns once the reactor waits at its gate, or at once when
    the association is over (the gate is then left open, for the reactor to reach its end).
    The request's own ``send_*`` (or our :mod:`._pdata`) opens the gate again when answered."""
    checkpoint = assoc._reactor_checkpoint
    checkpoint.clear()
    while True:
        if not (assoc.is_alive() and assoc.is_established):
            checkpoint.set()  # over: a reactor still winding down must not be held at the gate
            return
        if isinstance(checkpoint, ReactorCheckpoint) and checkpoint.parked:
            return
        if not isinstance(checkpoint, ReactorCheckpoint) and assoc._is_paused:
            return  # not made by associate(): pynetdicom's own (racy) flag is all there is
        time.sleep(0.0001)


def where(host: str, port: int, called_ae: str, calling_ae: str) -> str:
    return f"{host}:{port} (called AE {called_ae!r}, calling AE {calling_ae!r})"


@dataclass(frozen=True)
class DicomNode:
    """A DICOM application entity to associate with: where it listens, its AE title (called)
    and ours (calling)."""

    host: str
    port: int
    called_ae: str
    calling_ae: str = CALLING_AE

    def __str__(self) -> str:
        return f"{self.called_ae}@{self.host}:{self.port}"

    @property
    def where(self) -> str:
        """The long form, for error messages: both AE titles."""
        return where(self.host, self.port, self.called_ae, self.calling_ae)

    def ae(self, timeout: float, connect_timeout: float) -> AE:
        """Our AE (the calling AE title) with ACSE, DIMSE and network ``timeout``."""
        ae = AE(self.calling_ae)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
        ae.connection_timeout = connect_timeout
        return ae

    def associate(
        self, ae: AE, contexts: list[Any] | None = None, max_pdu: int = 16382
    ) -> Association:
        """An established association with this node (see :func:`associate`)."""
        return associate(ae, self.host, self.port, self.called_ae, contexts, max_pdu)


class DicomNodeConfig(AdapterConfig):
    """The keys of a table that names a DICOM node (``host``, ``port``, ``called_ae``,
    ``calling_ae``)."""

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    called_ae: str = Field(max_length=16)
    calling_ae: str = Field(CALLING_AE, max_length=16)

    @property
    def node(self) -> DicomNode:
        return DicomNode(self.host, self.port, self.called_ae, self.calling_ae)


def associate(
    ae: AE,
    host: str,
    port: int,
    called_ae: str,
    contexts: list[Any] | None = None,
    max_pdu: int = 16382,
) -> Association:
    """Return an established association, or raise TargetError saying why there is none.

    The peer sees one connection per association: when pynetdicom's connection fails (it only
    says "aborted"), a plain TCP connection is tried to tell why (refused, no answer …). A
    connection made only to probe would hold one of the peer's association slots until its
    ACSE timeout (pynetdicom's SCP does), and show in its log as a client that said nothing."""
    at = where(host, port, called_ae, ae.ae_title)
    timeout = ae.connection_timeout or 10.0
    opened: list[bool] = []

    def request() -> Association:
        return ae.associate(
            host,
            port,
            contexts=contexts,
            ae_title=called_ae,
            max_pdu=max_pdu,
            evt_handlers=[*NODELAY_HANDLERS, (evt.EVT_CONN_OPEN, lambda _: opened.append(True))],
        )

    start = time.monotonic()
    assoc = request()
    if not opened:
        raise _connect_error(at, host, port, timeout, time.monotonic() - start)
    acse = ae.acse_timeout
    if assoc.is_aborted and acse is not None and time.monotonic() - start >= 0.9 * acse:
        # connected, and no answer to the request: the peer is busy (e.g. it serves one
        # association at a time and another one is open), not refusing
        raise TargetTimeoutError(
            f"association with {at} failed: no answer to the association request within "
            f"{acse:g} s (is the peer busy with other associations?)"
        )
    if assoc.is_aborted:
        # a peer that rejects and closes at once can make pynetdicom read the closed connection
        # before the A-ASSOCIATE-RJ (an abort without a reason): one more request tells which
        assoc = request()
    if assoc.is_established:
        # no request is under way yet, so the gate is open: the reactor passes it whichever
        # object it reads, and waits at this one from its next turn on
        assoc._reactor_checkpoint = ReactorCheckpoint()  # type: ignore[assignment]
        return assoc
    if assoc.is_rejected:
        rsp = getattr(assoc.acceptor, "primitive", None)
        try:
            detail = f"{rsp.result_str} by the {rsp.source_str}: {rsp.reason_str}"  # type: ignore[union-attr]
        except (AttributeError, KeyError, TypeError):
            detail = "no reason given"
        raise TargetRefusedError(f"association rejected by {at}: {detail}")
    if assoc.is_aborted:
        why = "the peer accepted no presentation context or closed the connection"
        raise TargetError(f"association with {at} failed: {why}")
    raise TargetTimeoutError(f"association with {at} failed: no answer to the association request")


def _connect_error(at: str, host: str, port: int, timeout: float, waited: float) -> TargetError:
    """Why pynetdicom could not open a connection to ``host:port``: it waited ``waited`` s."""
    if waited >= 0.9 * timeout:
        return TargetTimeoutError(f"cannot connect to {at}: no answer within {timeout:g} s")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except TimeoutError:
        return TargetTimeoutError(f"cannot connect to {at}: no answer within {timeout:g} s")
    except OSError as exc:
        return TargetConnectError(f"cannot connect to {at}: {exc.strerror or exc}")
    return TargetConnectError(
        f"cannot connect to {at}: the connection failed (see pynetdicom's log)"
    )


def echo(node: DicomNode) -> int | None:
    """Send one C-ECHO; return its status (0 is success) or None when there was no answer.
    Raises TargetError when no association can be had."""
    ae = node.ae(timeout=10, connect_timeout=5)
    ae.add_requested_context("1.2.840.10008.1.1")
    assoc = node.associate(ae)
    try:
        pause_reactor(assoc)
        status = assoc.send_c_echo()
        return int(status.Status) if "Status" in status else None
    finally:
        assoc.release()
