"""C-STORE ingestion: send files to a Storage SCP over parallel associations.

Each file's outcome is data (:class:`~dicomfab.targets.receipt.InstanceResult`): the status
the SCP answered, or why the file was not sent. Only "cannot connect / association rejected"
raises :class:`~dicomfab.errors.TargetError`; it carries (``partial``) the receipt of what had
been sent and answered before the fault. Interrupted (Ctrl-C, SIGTERM), every association is
aborted and every sending thread ends before the interruption goes on; the exception carries
the same ``partial`` receipt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import AE, build_context
from pynetdicom.association import Association
from pynetdicom.dul import DULServiceProvider
from pynetdicom.fsm import InvalidEventError
from pynetdicom.status import STORAGE_SERVICE_CLASS_STATUS, code_to_category

from dicomfab.errors import DicomfabError, TargetError
from dicomfab.targets import _pdata
from dicomfab.targets._dicomnet import (
    CALLING_AE,
    DicomNode,
    DicomNodeConfig,
    abort,
    echo,
    pause_reactor,
    stop,
)
from dicomfab.targets.receipt import InstanceResult, Outcome, Progress, Receipt
from dicomfab.targets.registry import Adapter, Context

MAX_CONTEXTS = 128  # PS3.8: presentation context IDs are odd numbers 1..255
FALLBACKS = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
DEFAULT_TIMEOUT = 30.0  # seconds: ACSE, DIMSE and network timeouts
STOP_GRACE = 5.0  # seconds a sending thread gets to end after its association was aborted


@dataclass(frozen=True)
class _Item:
    """One file to send, from a header-only read."""

    index: int
    file: Path
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: UID
    raw: bool  # a Part 10 file whose meta names it exactly: its bytes can go as they are

    @property
    def contexts(self) -> set[tuple[str, str]]:
        return {(self.sop_class_uid, ts) for ts in (self.transfer_syntax, *FALLBACKS)}


def _describe_status(status: int) -> tuple[Outcome, str]:
    category = code_to_category(status)
    meaning = STORAGE_SERVICE_CLASS_STATUS.get(status, (category, "unknown status"))[1]
    if category == "Success":
        return "success", ""
    if category == "Warning":
        return "warning", meaning
    return "failure", meaning


def _transfer_syntax(ds: Any) -> UID:
    """The file's transfer syntax; for a file without one (no meta header), what it was read as."""
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    if ts:
        return UID(str(ts))
    implicit, little = ds.original_encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little in (True, None) else ExplicitVRBigEndian


def _not_sent(index: int, file: Path, uid: str | None, reason: str) -> tuple[int, InstanceResult]:
    return index, InstanceResult(file, uid, "not sent", sent=False, reason=reason)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def abort_and_wake(associations: list[Association]) -> None:
    """Abort each association and wake its sender: pynetdicom's waiting C-STORE returns at once
    instead of after the DIMSE timeout."""
    for assoc in associations:
        stop(assoc)


class _Sending:
    """What the sending threads share: the results so far, the stop flag, the live
    associations (aborted all at once when the ingest is stopped)."""

    def __init__(self, results: dict[int, InstanceResult]) -> None:
        self.results = results
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.live: set[Association] = set()

    def record(self, index: int, result: InstanceResult) -> None:
        with self.lock:
            self.results[index] = result

    def opened(self, assoc: Association) -> None:
        with self.lock:
            self.live.add(assoc)

    def closed(self, assoc: Association) -> None:
        with self.lock:
            self.live.discard(assoc)

    def abort_all(self) -> None:
        """Stop every thread: set the flag, abort each live association and wake its sender
        (pynetdicom's waiting C-STORE returns at once instead of after the DIMSE timeout)."""
        self.stop.set()
        with self.lock:
            live = list(self.live)
        abort_and_wake(live)

    def receipt(self, start: float) -> Receipt:
        with self.lock:
            done = [self.results[i] for i in sorted(self.results)]
        return Receipt(done, time.perf_counter() - start)


class CStoreIngestor:
    """Send files to ``called_ae`` at ``host:port`` with C-STORE over ``associations`` parallel
    associations (the list is split into contiguous chunks, so a study tends to travel on one;
    files that share a SOP Instance UID travel on one, in the order given).

    For each SOP class it proposes each transfer syntax its files use, each in its own
    presentation context, plus explicit and implicit VR little endian as fallbacks. A Part 10
    file whose meta information names its SOP class, instance and transfer syntax goes as its
    bytes, unparsed (what a real sender does: a broken data set reaches the system broken);
    any other file is read with pydicom (``force=True``) and sent as read. A file that cannot be
    read, or whose transfer syntax was not accepted, is a "not sent" result."""

    def __init__(
        self,
        host: str,
        port: int,
        called_ae: str,
        calling_ae: str = CALLING_AE,
        associations: int = 3,
        *,
        max_pdu: int = 16382,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = 10.0,
    ) -> None:
        if associations < 1:
            raise ValueError("associations must be at least 1")
        self.node = DicomNode(host, port, called_ae, calling_ae)
        self.associations = associations
        self.max_pdu = max_pdu
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._msg_id = 0
        self._local = threading.local()  # each sending thread's read buffer

    def ingest(self, files: Sequence[Path], progress: Progress | None = None) -> Receipt:
        start = time.perf_counter()
        results: dict[int, InstanceResult] = {}
        sending = _Sending(results)
        try:
            items: list[_Item] = []
            for index, file in enumerate(files):
                item_or_result = self._scan(index, Path(file))
                if isinstance(item_or_result, _Item):
                    items.append(item_or_result)
                else:
                    sending.record(index, item_or_result[1])
            if progress and results:
                progress(len(results))
            chunks = _split(items, min(self.associations, max(1, len(items))))
            _quiet_races_after_abort()
            self._run_chunks(chunks, sending, progress)
        except TargetError as exc:
            raise type(exc)(str(exc), partial=sending.receipt(start)) from exc
        except KeyboardInterrupt as exc:
            exc.partial = sending.receipt(start)  # type: ignore[attr-defined]
            raise
        ordered = [results[i] for i in range(len(files))]
        return Receipt(ordered, time.perf_counter() - start)

    def _run_chunks(
        self, chunks: list[list[_Item]], sending: _Sending, progress: Progress | None
    ) -> None:
        """The first chunk's first association is made before the others start: a target that
        refuses (down, wrong AE title) is told by one association, with one clear reason.

        The main thread only waits (in short, interruptible steps): a KeyboardInterrupt
        reaches it, aborts every association and waits (bounded) for the threads to end."""
        if len(chunks) == 1:
            try:
                self._send_chunk(chunks[0], sending, progress)
            except BaseException:
                sending.abort_all()
                raise
            return
        if not chunks:
            return
        errors: list[BaseException] = []

        def send(chunk: list[_Item], first_up: threading.Event | None = None) -> None:
            try:
                self._send_chunk(chunk, sending, progress, first_up)
            except BaseException as exc:
                errors.append(exc)
                sending.stop.set()

        def start(chunk: list[_Item], first_up: threading.Event | None = None) -> threading.Thread:
            thread = threading.Thread(
                target=send, args=(chunk, first_up), name="dicomfab-cstore", daemon=True
            )
            thread.start()
            return thread

        first_up = threading.Event()
        threads = [start(chunks[0], first_up)]
        try:
            while not first_up.wait(0.05) and threads[0].is_alive():
                pass
            if first_up.is_set() and not sending.stop.is_set():
                threads += [start(chunk) for chunk in chunks[1:]]
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.1)
        except BaseException:
            sending.abort_all()
            deadline = time.monotonic() + STOP_GRACE
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            raise
        if errors:
            raise errors[0]

    # --- reading ----------------------------------------------------------------------------

    def _scan(self, index: int, file: Path) -> _Item | tuple[int, InstanceResult]:
        try:
            ds = dcmread(file, force=True, stop_before_pixels=True)
        except Exception as exc:  # any reader failure is this file's outcome, not ours
            return _not_sent(index, file, None, f"cannot read: {_one_line(exc)}")
        try:
            sop_instance = str(ds.get("SOPInstanceUID", "") or "") or None
            sop_class = str(ds.get("SOPClassUID", "") or "")
            ts = _transfer_syntax(ds)
        except Exception as exc:
            return _not_sent(index, file, None, f"cannot read: {_one_line(exc)}")
        if not sop_class or not sop_instance:
            missing = " and ".join(
                k
                for k, v in (("SOPClassUID", sop_class), ("SOPInstanceUID", sop_instance))
                if not v
            )
            return _not_sent(index, file, sop_instance, f"not a DICOM instance: no {missing}")
        meta = getattr(ds, "file_meta", None) or {}
        raw = (
            getattr(ds, "preamble", None) is not None
            and str(meta.get("MediaStorageSOPInstanceUID", "")) == sop_instance
            and str(meta.get("MediaStorageSOPClassUID", "")) == sop_class
            and str(meta.get("TransferSyntaxUID", "")) == ts
        )
        return _Item(index, file, sop_class, sop_instance, ts, raw)

    # --- sending ----------------------------------------------------------------------------

    def _ae(self) -> AE:
        ae = self.node.ae(self.timeout, self.connect_timeout)
        ae.maximum_pdu_size = self.max_pdu
        return ae

    def _send_chunk(
        self,
        chunk: list[_Item],
        sending: _Sending,
        progress: Progress | None = None,
        associated: threading.Event | None = None,
    ) -> None:
        """Send one chunk; an association per group of files whose contexts fit in one.
        ``associated`` is set once the first association is up. Each result goes into
        ``sending`` as soon as it is known (a fault or an interruption keeps them)."""
        ae = self._ae()
        pending = list(chunk)
        while pending and not sending.stop.is_set():
            group, wanted = _fit(pending)
            contexts = [build_context(sop, [ts]) for sop, ts in sorted(wanted)]
            assoc = self.node.associate(ae, contexts, self.max_pdu)
            _pdata.hold(assoc)
            sending.opened(assoc)
            if associated is not None:
                associated.set()
            sent = 0
            try:
                for item in group:
                    if sending.stop.is_set():
                        break
                    sending.record(item.index, self._send_one(assoc, item))
                    sent += 1
                    if progress:
                        progress(1)
                    if not assoc.is_established:
                        break  # it broke: reconnect for the rest
            except BaseException:
                if assoc.is_established:
                    abort(assoc)
                raise
            else:
                if assoc.is_established:
                    assoc.release()
            finally:
                sending.closed(assoc)
            pending = pending[sent:]
        if sending.stop.is_set():
            for item in pending:
                reason = "stopped: another association failed or the ingest was interrupted"
                sending.record(
                    item.index, _not_sent(item.index, item.file, item.sop_instance_uid, reason)[1]
                )

    def _send_one(self, assoc: Association, item: _Item) -> InstanceResult:
        uid = item.sop_instance_uid
        accepted = {
            str(cx.transfer_syntax[0])
            for cx in assoc.accepted_contexts
            if cx.abstract_syntax == item.sop_class_uid
        }
        if not accepted:
            reason = f"no presentation context accepted for SOP class {item.sop_class_uid}"
            return _not_sent(item.index, item.file, uid, reason)[1]
        if item.raw and item.transfer_syntax in accepted:
            return self._send_raw(assoc, item)
        try:
            payload = dcmread(item.file, force=True)
            if "TransferSyntaxUID" not in getattr(payload, "file_meta", {}):
                payload.file_meta.TransferSyntaxUID = item.transfer_syntax
        except Exception as exc:
            return _not_sent(item.index, item.file, uid, f"cannot read: {_one_line(exc)}")[1]
        try:
            pause_reactor(assoc)
            status = assoc.send_c_store(payload)
        except (ValueError, AttributeError) as exc:  # pynetdicom: no usable context / encoding
            reason = f"{_one_line(exc)} (accepted: {', '.join(sorted(accepted))})"
            if item.transfer_syntax not in accepted:
                reason = (
                    f"transfer syntax {item.transfer_syntax} ({item.transfer_syntax.name}) "
                    f"not accepted for SOP class {item.sop_class_uid}"
                )
            return _not_sent(item.index, item.file, uid, reason)[1]
        return _result(item, status)

    def _send_raw(self, assoc: Association, item: _Item) -> InstanceResult:
        """The fast path (:mod:`._pdata`): the file's data set bytes, as they are."""
        uid = item.sop_instance_uid
        try:
            data, self._local.buffer = _pdata.read_part10(
                item.file, getattr(self._local, "buffer", None)
            )
        except (OSError, ValueError) as exc:
            return _not_sent(item.index, item.file, uid, f"cannot read: {_one_line(exc)}")[1]
        context = assoc._get_valid_context(
            item.sop_class_uid, item.transfer_syntax, "scu", allow_conversion=False
        )
        self._msg_id = self._msg_id % 0xFFFF + 1
        try:
            status = _pdata.send_c_store(
                assoc, int(context.context_id or 1), item.sop_class_uid, uid, data,
                self._msg_id, self.timeout,
            )  # fmt: skip
        except _pdata.SendFailed as exc:
            reason = f"the connection failed while sending: {exc}"
            return InstanceResult(item.file, uid, "failure", sent=True, reason=reason)
        return _result(item, status)


def _result(item: _Item, status: Dataset) -> InstanceResult:
    """An answered (or unanswered) C-STORE's result."""
    uid = item.sop_instance_uid
    if "Status" not in status:
        reason = "no response: the association was aborted or timed out"
        return InstanceResult(item.file, uid, "failure", sent=True, reason=reason)
    code = int(status.Status)
    outcome, meaning = _describe_status(code)
    comment = status.get("ErrorComment")
    if comment:
        meaning = f"{meaning}: {comment}" if meaning else str(comment)
    return InstanceResult(item.file, uid, outcome, sent=True, status=code, reason=meaning)


def _quiet_races_after_abort() -> None:
    """Stop pynetdicom's reactor threads printing a traceback for an association we aborted.

    Aborting mid-send (Ctrl-C, SIGTERM, another association failed) can leave the sender's
    P-DATA event queued behind the abort; the reactor then raises ``InvalidEventError``
    ("Evt9 in Sta13") in its own thread, which Python prints to stderr. That association is
    over by our decision, so the error says nothing: it is dropped. Every other thread
    exception goes to the hook that was installed before. Installed once per process."""
    previous = threading.excepthook
    if getattr(previous, "dicomfab_quiet", False):
        return

    def hook(args: threading.ExceptHookArgs) -> None:
        thread = args.thread
        if (
            args.exc_type is not None
            and issubclass(args.exc_type, InvalidEventError)
            and isinstance(thread, DULServiceProvider)
            and getattr(thread.assoc, "_sent_abort", False)
        ):
            return
        previous(args)

    hook.dicomfab_quiet = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def _split(items: list[_Item], n: int) -> list[list[_Item]]:
    """``n`` contiguous chunks of nearly equal size (empty ones dropped). Files that share a SOP
    Instance UID (copies) all go on the chunk of the first one, in their order: parallel
    associations would let a later copy arrive first."""
    size, extra = divmod(len(items), n)
    chunks, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        chunks.append(items[start:end])
        start = end
    home: dict[str, int] = {}
    placed: list[list[_Item]] = [[] for _ in chunks]
    for i, chunk in enumerate(chunks):
        for item in chunk:  # a moved copy lands after every item of its new chunk: still in order
            placed[home.setdefault(item.sop_instance_uid, i)].append(item)
    return [c for c in placed if c]


def _fit(pending: list[_Item]) -> tuple[list[_Item], set[tuple[str, str]]]:
    """The longest prefix of ``pending`` whose presentation contexts fit in one association."""
    wanted: set[tuple[str, str]] = set()
    group: list[_Item] = []
    for item in pending:
        more = wanted | item.contexts
        if len(more) > MAX_CONTEXTS and group:
            break
        wanted = more
        group.append(item)
    return group, wanted


# ── the ``cstore`` ingest kind ───────────────────────────────────────────────────────────────


class CStoreIngest(DicomNodeConfig):
    kind: Literal["cstore"]
    associations: int = Field(
        3, ge=1, le=16, description="parallel associations (3: measured best against Orthanc)"
    )
    timeout: float = Field(
        DEFAULT_TIMEOUT,
        gt=0,
        description="seconds to wait for the system (ACSE, DIMSE and network timeouts; default "
        "30): a file it stalls on fails after this long instead of holding the run",
    )


def _describe(config: CStoreIngest) -> str:
    return f"C-STORE {config.node}"


def _build(config: CStoreIngest, context: Context) -> CStoreIngestor:
    return CStoreIngestor(
        config.host,
        config.port,
        config.called_ae,
        config.calling_ae,
        config.associations,
        timeout=config.timeout,
    )


def _probe(config: CStoreIngest, context: Context) -> str:
    """A C-ECHO on an association to the called AE title."""
    status = echo(config.node)
    if status != 0:
        raise DicomfabError(f"C-ECHO answered {status!r}, not success (0)")
    return "C-ECHO success"


ADAPTER = Adapter("cstore", "ingest", CStoreIngest, _describe, _build, _probe)
