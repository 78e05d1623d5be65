"""A C-STORE whose data set is already encoded, written straight to the association's socket.

pynetdicom sends a data set as one P-DATA primitive per PDU, each queued to its DUL thread,
run through the state machine, encoded and written with its own ``send`` call: with the 16 KiB
PDUs Orthanc announces, that is about 270 trips through that machinery per 4.3 MB file, and it
was most of the sender's CPU. Here the command set is encoded by pynetdicom (so it is exactly
what ``send_c_store`` would send) and every P-DATA-TF PDU header is packed in one pass; the
PDUs go out in large ``sendmsg`` batches that point into the data set's buffer (no copy). The
answer is taken the way ``send_c_store`` takes it: from the DIMSE queue, with the association's
reactor paused.

The sending thread writes to the socket while the DUL thread only reads from it: nothing else
is queued to the DUL during the send. An abort from another thread (Ctrl-C) closes the socket,
and the send fails at once with :class:`OSError`.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from dicomfab.targets._dicomnet import abort, pause_reactor

P_DATA_TF = 0x04
HEADER = struct.Struct(">BBIIBB")  # PDU type, reserved, PDU length, PDV length, context, control
COMMAND_LAST, DATA, DATA_LAST = 0x03, 0x00, 0x02
UNLIMITED_FRAGMENT = 1 << 20  # our fragment size when the peer announces no maximum (0)
IDLE_WAIT = 0.02  # seconds an idle DUL thread waits for the socket (see hold)
BATCH = 256  # buffers per sendmsg (two per PDU; well below IOV_MAX, 1024 on Linux)


class SendFailed(Exception):
    """The connection broke (or stalled past the timeout) while the request was being sent."""


def fragment_size(peer_max_pdu: int) -> int:
    """The largest PDV value a PDU may carry for a peer that receives at most ``peer_max_pdu``
    bytes of PDU (its announced Maximum Length; 0 means no limit)."""
    if not peer_max_pdu:
        return UNLIMITED_FRAGMENT
    return peer_max_pdu - 6  # PDV item length (4), context ID (1), message control header (1)


def pdu_buffers(
    context_id: int,
    command: bytes,
    data: memoryview | Sequence[memoryview],
    fragment: int,
) -> list[bytes | memoryview]:
    """The P-DATA-TF PDUs of one message, as buffers: each PDU's header, then the pieces of its
    value (one PDV per PDU). ``data`` may come in parts (e.g. a new header and reused pixel
    bytes): they are sent as if joined, without joining them."""
    buffers: list[bytes | memoryview] = []
    pack = HEADER.pack
    for start in range(0, len(command), fragment):
        part = command[start : start + fragment]
        last = start + fragment >= len(command)
        control = COMMAND_LAST if last else 0x01
        buffers += (pack(P_DATA_TF, 0, len(part) + 6, len(part) + 2, context_id, control), part)
    parts = [data] if isinstance(data, memoryview) else [p for p in data if len(p)]
    size = sum(len(p) for p in parts)
    sent, k, offset = 0, 0, 0  # bytes framed so far; current part and offset in it
    while sent < size:
        length = min(fragment, size - sent)
        control = DATA_LAST if sent + length >= size else DATA
        buffers.append(pack(P_DATA_TF, 0, length + 6, length + 2, context_id, control))
        need = length
        while need:
            piece = parts[k][offset : offset + need]
            buffers.append(piece)
            need -= len(piece)
            offset += len(piece)
            if offset == len(parts[k]):
                k, offset = k + 1, 0
        sent += length
    return buffers


def sendmsg_all(sock: socket.socket, buffers: list[bytes | memoryview], timeout: float) -> None:
    """Write every buffer, in order, in few system calls; raise :class:`SendFailed` when the
    connection breaks or no byte can be written for ``timeout`` seconds."""
    i = 0
    while i < len(buffers):
        batch = buffers[i : i + BATCH]
        try:
            sent = sock.sendmsg(batch)
        except TimeoutError:
            raise SendFailed(f"no byte could be written for {timeout:g} s") from None
        except OSError as exc:
            raise SendFailed(exc.strerror or str(exc)) from None
        # skip what went out; a partly sent buffer is replaced by its unsent tail
        while sent and i < len(buffers):
            n = len(buffers[i])
            if sent >= n:
                sent -= n
                i += 1
            else:
                buffers[i] = memoryview(buffers[i])[sent:]
                sent = 0


LONG_VRS = {
    b"OB",
    b"OD",
    b"OF",
    b"OL",
    b"OV",
    b"OW",
    b"SQ",
    b"SV",
    b"UC",
    b"UN",
    b"UR",
    b"UT",
    b"UV",
}


def part10_dataset(buffer: bytes | memoryview) -> memoryview:
    """The data set of a Part 10 file's bytes: what follows the preamble, "DICM" and the group
    0002 elements (walked element by element: a wrong group length does not matter). Raise
    ValueError when ``buffer`` is not a Part 10 file."""
    if buffer[128:132] != b"DICM":
        raise ValueError("no DICM prefix: not a Part 10 file")
    view, at = memoryview(buffer), 132
    while at + 8 <= len(buffer) and buffer[at : at + 2] == b"\x02\x00":
        vr = bytes(buffer[at + 4 : at + 6])
        if vr in LONG_VRS:
            (length,) = struct.unpack_from("<I", buffer, at + 8)
            at += 12 + length
        else:
            (length,) = struct.unpack_from("<H", buffer, at + 6)
            at += 8 + length
    if at > len(buffer):
        raise ValueError("the file meta information runs past the end of the file")
    return view[at:]


def _ui(value: str) -> bytes:
    raw = value.encode("ascii")
    return raw + b"\0" if len(raw) % 2 else raw


def command_set(sop_class: str, sop_instance: str, msg_id: int, priority: int = 2) -> bytes:
    """The C-STORE-RQ command set (PS3.7 9.3.1.1), implicit VR little endian, with a data set;
    ``priority`` 2 (low) is what pynetdicom's ``send_c_store`` sends by default. Encoded by
    hand: the same bytes as pynetdicom's encoder (a test compares them), without a pydicom
    Dataset per file."""
    body = b"".join(
        struct.pack("<HHI", 0, element, len(value)) + value
        for element, value in (
            (0x0002, _ui(sop_class)),
            (0x0100, struct.pack("<H", 0x0001)),  # Command Field: C-STORE-RQ
            (0x0110, struct.pack("<H", msg_id)),
            (0x0700, struct.pack("<H", priority)),
            (0x0800, struct.pack("<H", 0x0001)),  # Command Data Set Type: a data set follows
            (0x1000, _ui(sop_instance)),
        )
    )
    return struct.pack("<HHII", 0, 0, 4, len(body)) + body


def read_part10(file: Path, buffer: bytearray | None) -> tuple[memoryview, bytearray]:
    """The data set of Part 10 file ``file`` (:func:`part10_dataset`), read into ``buffer``
    (reused from file to file: no fresh 4 MB allocation per file), or a larger new one."""
    with open(file, "rb", buffering=0) as fp:
        size = os.fstat(fp.fileno()).st_size
        if buffer is None or len(buffer) < size:
            buffer = bytearray(max(size, 1 << 16))
        view = memoryview(buffer)[:size]
        got = 0
        while got < size:
            n = fp.readinto(view[got:])
            if not n:
                break
            got += n
    return part10_dataset(view[:got]), buffer


def hold(assoc: Any) -> None:
    """Make an association that only this module's :func:`send_c_store` uses cheap to keep
    open: pynetdicom polls it from two threads a thousand times a second each (measured: 0.06 s
    of CPU a second per idle association, taken from the system under test on a shared
    machine, and growing with the run's length whatever the data).

    * Its association reactor stays paused (it serves requests from the peer, which a storage
    user does not get; release and abort restart it themselves). A pynetdicom ``send_*`` call
    restarts it too: :func:`send_c_store` pauses it again.
    * Its DUL thread, when there is nothing to read or send, waits in ``select`` on the socket
    for up to :data:`IDLE_WAIT` instead of sleeping 1 ms: an answer is read as soon as it
    arrives; a release or an abort we ask for waits at most that long."""
    dul = assoc.dul
    check = dul._is_transport_event

    def transport_event() -> bool:
        if check():
            return True
        sock = dul.socket.socket if dul.socket else None
        if sock is not None and dul.to_provider_queue.empty() and dul.event_queue.empty():
            # closed meanwhile (OSError, ValueError): the reactor finds out itself
            with contextlib.suppress(OSError, ValueError):
                select.select([sock], [], [], IDLE_WAIT)
        return False

    dul._is_transport_event = transport_event
    pause_reactor(assoc)
    assoc._dicomfab_held = True


def send_c_store(
    assoc: Any,
    context_id: int,
    sop_class: str,
    sop_instance: str,
    data: bytes | memoryview | Sequence[bytes | memoryview],
    msg_id: int,
    timeout: float,
) -> Dataset:
    """Send one C-STORE request whose data set is ``data`` (encoded in the context's transfer
    syntax) and return the response's status elements, like ``Association.send_c_store``: an
    empty Dataset when no (valid) answer came within the DIMSE timeout (the association is then
    aborted). Raise :class:`SendFailed` when the request could not be written (the association
    is aborted)."""
    sock = assoc.dul.socket.socket if assoc.dul.socket else None
    if sock is None or not assoc.is_established:
        raise SendFailed("the association is not established")
    command = command_set(sop_class, sop_instance, msg_id)
    fragment = fragment_size(int(assoc.acceptor.maximum_length or 0))
    parts = [data] if isinstance(data, bytes | memoryview) else list(data)
    buffers = pdu_buffers(context_id, command, [memoryview(p) for p in parts], fragment)
    held = getattr(assoc, "_dicomfab_held", False)
    pause_reactor(assoc)  # the association's reactor must not take the answer off the DIMSE queue
    try:
        if sock.gettimeout() != timeout:
            sock.settimeout(timeout)  # bounded writes; the DUL thread reads only when ready
        try:
            sendmsg_all(sock, buffers, timeout)
        except SendFailed:
            abort(assoc)
            raise
        _, rsp = assoc.dimse.get_msg(block=True)
    finally:
        if not held:
            assoc._reactor_checkpoint.set()
    if rsp is None:
        assoc._handle_no_response()
        return Dataset()
    status: Dataset = assoc._check_received_status(rsp)
    return status
