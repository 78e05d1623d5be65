"""STOW-RS ingestion: POST files to a DICOMweb server, ``batch`` files per request.

    StowIngestor("http://127.0.0.1:8042/dicom-web").ingest(files) -> Receipt

Each request is ``multipart/related; type="application/dicom"`` to ``{url}/studies``, one part
per file, streamed from the open files (with a Content-Length, no chunked encoding). Files are
sent as they are on disk: a file that cannot be opened is a "not sent" result; a file that is
not parseable as DICOM is sent anyway (the server decides). The answer asked for is a PS3.18
store instances response in DICOM JSON; each item is mapped back to its file by SOP Instance
UID (read from the file header with pydicom, ``None`` when it cannot be read):

- ReferencedSOPSequence (0008,1199) item -> "success", or "warning" when it carries a
  WarningReason (0008,1196) or FailureReason (0008,1197), that code as ``status``;
- FailedSOPSequence (0008,1198) item -> "failure", FailureReason as ``status``;
- a file the response does not mention -> "warning" (HTTP 2xx) or "failure" (any other status),
  reason "not mentioned in the STOW-RS response";
- an HTTP error whose body is not a store response -> "failure" for every file of the batch,
  reason "HTTP 500 Internal Server Error: <first line of the body>"; the next batch is sent.

Orthanc 1.10.1 (DICOMweb plugin 1.7) answers 200 with both sequences when every part was
stored (a duplicate of an instance it holds is listed as referenced), and **400** with the same
JSON body (no Content-Type) when a part could not be parsed as DICOM: the parts it stored are
in ReferencedSOPSequence, the unparseable one is in neither sequence (Orthanc cannot name it),
so it comes back as a "failure" "not mentioned in the STOW-RS response".

Only infrastructure failures raise :class:`~dicomfab.errors.TargetError`, in one line, with the
password masked: cannot connect (refused, DNS, connect timeout), no complete answer in time,
connection lost, and HTTP 401/403 on the first batch (nothing else would work either). Its
``partial`` is the :class:`~dicomfab.targets.receipt.Receipt` of the batches answered before the
fault, so that what the server acknowledged is reported.

``timeout`` bounds each request as a whole, from the first byte sent to the last byte of the
answer: a server that stops reading, never answers or trickles its answer is given up on after
about ``timeout`` seconds (at most twice that when a single read was already waiting).
"""

from __future__ import annotations

import json
import os
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import httpx
from pydantic import Field
from pydicom import dcmread
from pynetdicom.status import STORAGE_SERVICE_CLASS_STATUS, code_to_category

from dicomfab.errors import TargetAuthError, TargetError, TargetTimeoutError
from dicomfab.targets._dicomweb import (
    DICOM_JSON,
    DicomWebConfig,
    DicomWebEndpoint,
    describer,
    http_reason,
    transport_error,
    transport_reason,
)
from dicomfab.targets.receipt import InstanceResult, Outcome, Progress, Receipt
from dicomfab.targets.registry import NO_SUCH_UID, Adapter, Context
from dicomfab.targets.secrets import scrub

REFERENCED_SOP_SEQUENCE = "00081199"
FAILED_SOP_SEQUENCE = "00081198"
REFERENCED_SOP_INSTANCE_UID = "00081155"
WARNING_REASON = "00081196"
FAILURE_REASON = "00081197"
NOT_MENTIONED = "not mentioned in the STOW-RS response"
_CHUNK = 1 << 20


# --- the store instances response -------------------------------------------------------------


@dataclass(frozen=True)
class StoreItem:
    """One item of a PS3.18 store instances response."""

    sop_instance_uid: str | None
    outcome: Outcome
    status: int | None = None
    reason: str = ""


def _first_value(element: Any) -> Any:
    if not isinstance(element, dict):
        return None
    values = element.get("Value")
    if isinstance(values, list) and values:
        return values[0]
    return None


def _code(element: Any) -> int | None:
    value = _first_value(element)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip(), 0)
        except ValueError:
            return None
    return None


def describe_reason(code: int) -> str:
    """A Warning/Failure Reason code in words (PS3.18 uses the C-STORE status codes)."""
    category = code_to_category(code)
    meaning = STORAGE_SERVICE_CLASS_STATUS.get(code, (category, ""))[1]
    return f"0x{code:04X} {meaning}".rstrip() if meaning else f"0x{code:04X} ({category})"


def parse_store_response(body: bytes | str) -> list[StoreItem] | None:
    """The items of a DICOM JSON store instances response, or ``None`` when ``body`` is not one
    (not JSON, or neither ReferencedSOPSequence nor FailedSOPSequence at the top level)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(data, list) and len(data) == 1:  # some servers wrap the dataset in a list
        data = data[0]
    if not isinstance(data, dict):
        return None
    keys = {k.upper() for k in data}
    if REFERENCED_SOP_SEQUENCE not in keys and FAILED_SOP_SEQUENCE not in keys:
        return None
    data = {k.upper(): v for k, v in data.items()}
    items: list[StoreItem] = []
    for key in (REFERENCED_SOP_SEQUENCE, FAILED_SOP_SEQUENCE):
        element = data.get(key)
        values = element.get("Value") if isinstance(element, dict) else None
        for entry in values if isinstance(values, list) else []:
            if not isinstance(entry, dict):
                continue
            entry = {k.upper(): v for k, v in entry.items()}
            uid_value = _first_value(entry.get(REFERENCED_SOP_INSTANCE_UID))
            uid = str(uid_value).strip() or None if uid_value is not None else None
            failure = _code(entry.get(FAILURE_REASON))
            warning = _code(entry.get(WARNING_REASON))
            if key == FAILED_SOP_SEQUENCE:
                reason = describe_reason(failure) if failure is not None else "failed"
                items.append(StoreItem(uid, "failure", failure, reason))
            elif warning is not None or failure is not None:
                code = warning if warning is not None else failure
                assert code is not None
                items.append(StoreItem(uid, "warning", code, describe_reason(code)))
            else:
                items.append(StoreItem(uid, "success"))
    return items


def batch_results(
    files: Sequence[tuple[Path, str | None]], status_code: int, reason: str, body: bytes
) -> list[InstanceResult]:
    """The results for one batch (``files``: each file and its SOP Instance UID, in the order
    sent) from the HTTP answer: ``status_code``, ``reason`` (e.g. "HTTP 400 Bad Request: …",
    used when the body says nothing about a file) and ``body``."""
    items = parse_store_response(body) if body else None
    ok = 200 <= status_code < 300
    if items is None:
        if ok:
            why = f"HTTP {status_code} but the answer is not a DICOM JSON store response"
            return [InstanceResult(f, uid, "warning", sent=True, reason=why) for f, uid in files]
        return [InstanceResult(f, uid, "failure", sent=True, reason=reason) for f, uid in files]
    waiting: dict[str, list[int]] = {}
    for index, (_, uid) in enumerate(files):
        if uid is not None:
            waiting.setdefault(uid, []).append(index)
    found: dict[int, StoreItem] = {}
    for item in items:
        queue = waiting.get(item.sop_instance_uid or "")
        if queue:
            found[queue.pop(0)] = item
    results: list[InstanceResult] = []
    for index, (file, uid) in enumerate(files):
        answer = found.get(index)
        if answer is not None:
            results.append(
                InstanceResult(file, uid, answer.outcome, True, answer.status, answer.reason)
            )
        elif ok:
            results.append(InstanceResult(file, uid, "warning", sent=True, reason=NOT_MENTIONED))
        else:
            why = f"{reason.partition(':')[0]}: {NOT_MENTIONED}"
            results.append(InstanceResult(file, uid, "failure", sent=True, reason=why))
    return results


# --- the ingestor -----------------------------------------------------------------------------


@dataclass
class _Part:
    file: Path
    uid: str | None
    handle: IO[bytes]
    size: int


def _sop_instance_uid(handle: IO[bytes]) -> str | None:
    """The SOP Instance UID from the header (the meta header's when the data set has none)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(
                handle,
                stop_before_pixels=True,
                force=True,
                specific_tags=["SOPInstanceUID"],
            )
            uid = str(ds.get("SOPInstanceUID", "") or "").strip()
            if not uid:
                meta = getattr(ds, "file_meta", None)
                uid = str(meta.get("MediaStorageSOPInstanceUID", "") or "").strip() if meta else ""
    except Exception:  # not DICOM (or damaged): the server decides, we just cannot map it
        return None
    return uid or None


class StowIngestor(DicomWebEndpoint):
    """Send files to the DICOMweb server at ``url`` (e.g. ``http://host:8042/dicom-web``) with
    STOW-RS, ``batch`` files per request, one connection for the whole run. ``username`` and
    ``password`` (or ``user:password@`` in the URL) are sent as HTTP Basic auth."""

    service = "STOW-RS"

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        batch: int = 20,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        super().__init__(
            url,
            username=username,
            password=password,
            timeout=timeout,
            connect_timeout=connect_timeout,
        )
        self.batch = batch

    def __repr__(self) -> str:
        return f"StowIngestor({self.safe_url!r}, batch={self.batch})"

    def ingest(self, files: Sequence[Path], progress: Progress | None = None) -> Receipt:
        start = time.perf_counter()
        paths = [Path(f) for f in files]
        results: list[InstanceResult] = []
        try:
            with self._client() as client:
                for first in range(0, len(paths), self.batch):
                    chunk = paths[first : first + self.batch]
                    results.extend(self._send_batch(client, chunk, first_batch=first == 0))
                    if progress:
                        progress(len(chunk))
        except TargetError as exc:  # what was answered before the fault is kept
            partial = Receipt(list(results), time.perf_counter() - start)
            raise type(exc)(str(exc), partial=partial) from None
        return Receipt(results, time.perf_counter() - start)

    def _send_batch(
        self, client: httpx.Client, chunk: list[Path], *, first_batch: bool
    ) -> list[InstanceResult]:
        opened: dict[int, _Part] = {}
        out: dict[int, InstanceResult] = {}
        try:
            for index, file in enumerate(chunk):
                try:
                    handle = file.open("rb")
                except OSError as exc:
                    reason = f"cannot read: {exc.strerror or type(exc).__name__}"
                    out[index] = InstanceResult(file, None, "not sent", sent=False, reason=reason)
                    continue
                try:
                    size = os.fstat(handle.fileno()).st_size
                    uid = _sop_instance_uid(handle)
                    handle.seek(0)
                except OSError as exc:
                    handle.close()
                    reason = f"cannot read: {exc.strerror or type(exc).__name__}"
                    out[index] = InstanceResult(file, None, "not sent", sent=False, reason=reason)
                    continue
                opened[index] = _Part(file, uid, handle, size)
            if opened:
                parts = [opened[i] for i in sorted(opened)]
                sent = self._post(client, parts, first_batch=first_batch)
                for index, result in zip(sorted(opened), sent, strict=True):
                    out[index] = result
        finally:
            for part in opened.values():
                part.handle.close()
        return [out[i] for i in range(len(chunk))]

    def _post(
        self, client: httpx.Client, parts: list[_Part], *, first_batch: bool
    ) -> list[InstanceResult]:
        boundary = f"dicomfab-{uuid.uuid4().hex}"
        head = f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        tail = f"--{boundary}--\r\n".encode()
        length = sum(len(head) + p.size + 2 for p in parts) + len(tail)

        deadline = time.monotonic() + self.timeout

        def body() -> Iterator[bytes]:
            for part in parts:
                _in_time(deadline)
                yield head
                remaining = part.size
                while remaining > 0:
                    data = part.handle.read(min(_CHUNK, remaining))
                    if not data:  # shrank since fstat: keep the announced length honest
                        raise OSError(f"{part.file.name} shrank while being sent")
                    remaining -= len(data)
                    _in_time(deadline)
                    yield data
                yield b"\r\n"
            yield tail

        headers = {
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            "Content-Length": str(length),
            "Accept": DICOM_JSON,
        }
        overdue = f"no complete answer within {self.timeout:g} s (the STOW-RS timeout)"
        try:
            with client.stream(
                "POST", f"{self.url}/studies", content=body(), headers=headers
            ) as response:
                received = bytearray()
                for chunk in response.iter_bytes():
                    received += chunk
                    _in_time(deadline)
        except _Overdue:
            raise self._fail(overdue, TargetTimeoutError) from None
        except httpx.TransportError as exc:
            stalled = isinstance(exc, httpx.TimeoutException) and not isinstance(
                exc, httpx.ConnectTimeout
            )
            if stalled:
                raise self._fail(overdue, TargetTimeoutError) from None
            why = transport_reason(exc, self.timeout, self.connect_timeout)
            raise self._fail(why, transport_error(exc)) from None
        except OSError as exc:  # a file could not be read while streaming
            raise self._fail(f"reading a file while sending: {exc}") from None
        if response.status_code in (401, 403) and first_batch:
            raise self._fail(
                f"authentication failed (HTTP {response.status_code})", TargetAuthError
            )
        answer = httpx.Response(response.status_code, content=bytes(received))
        reason = scrub(http_reason(answer), self._password)
        files = [(p.file, p.uid) for p in parts]
        return batch_results(files, response.status_code, reason, answer.content)


class _Overdue(Exception):
    """The request's deadline passed while sending or receiving."""


def _in_time(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise _Overdue


# ── the ``stow`` ingest kind ─────────────────────────────────────────────────────────────────


class StowIngest(DicomWebConfig):
    kind: Literal["stow"]
    batch: int = Field(20, ge=1)
    timeout: float = Field(60, gt=0, description="seconds per request")


def _build(config: StowIngest, context: Context) -> StowIngestor:
    return StowIngestor.configured(config, batch=config.batch, timeout=config.timeout)


def _probe(config: StowIngest, context: Context) -> str:
    """Nothing is stored: a study query on the STOW-RS root shows that it answers and takes the
    credentials; its errors name STOW-RS (the part being checked), not the query used."""
    from dicomfab.targets.verify_qido import QidoVerifier

    verifier = QidoVerifier.configured(config, study_uids=[NO_SUCH_UID])
    verifier.service = "STOW-RS"
    verifier.observe([NO_SUCH_UID])
    return "STOW-RS root answers (DICOMweb study query, nothing stored)"


ADAPTER = Adapter("stow", "ingest", StowIngest, describer("STOW-RS"), _build, _probe)
