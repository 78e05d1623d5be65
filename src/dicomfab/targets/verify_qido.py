"""QIDO-RS verification: ask a DICOMweb server which instances it holds.

    QidoVerifier("http://127.0.0.1:8042/dicom-web", study_uids=[…]).observe(sop_instance_uids)

One ``GET {url}/studies/{uid}/instances?includefield=…`` per study (all of its instances come
back in that one query), never one per instance, over ``parallel`` HTTP connections (default 4;
one request at a time on each). The answers are merged in the order of the studies, so the
Observations do not depend on which request finished first: any ``parallel`` gives the same as
1. Interrupted (Ctrl-C, SIGTERM), the connections are closed and every worker thread ends before
the interruption goes on. The studies are given
to the constructor (the ``Verifier`` protocol passes only SOP Instance UIDs); without them,
``GET {url}/studies`` lists every study first, page by page (``limit``/``offset``) until a page
is empty or brings nothing new. An instance-level answer is followed with ``offset`` only when
the server says it truncated it (a ``Warning`` header, PS3.18 §8.3.4.4).

An instance the server does not return is data (absent from the Observations); a study it does
not know (200 with ``[]``, 204, or 404) has no instances; a 404 for ``{url}/studies`` itself
means a wrong DICOMweb root and raises. Only "cannot connect / no answer /
connection lost / HTTP 401, 403, other 4xx or 5xx / an answer that is not DICOM JSON" raises
:class:`~dicomfab.errors.TargetError`, in one line, with the password masked.

Orthanc 1.10.1 (DICOMweb plugin 1.7) answers a study-scoped instance query with every field
asked for filled (and more, includefield or not): Study/Series/SOP Instance UID, SOP Class UID,
InstanceNumber, Modality, PatientID, PatientName, AccessionNumber; an unknown study is 200 ``[]``.
PatientName comes as DICOM JSON ``{"Alphabetic": "Family^Given"}``: the Alphabetic string is
observed.
A value that is missing or empty is None in the observation.

Where each study landed (``Observations.studies``): ``GET {url}/studies?StudyInstanceUID={uid}``
with ``includefield`` for the patient attributes, one per study an instance was found in (the
study list, when it is asked for, asks for them already); a study answered under several
patients is where most of its instances are (:func:`~dicomfab.targets.observations.most_filed`:
Orthanc gives a Study Instance UID sent under two PatientIDs two study resources, and answers
both). ``patient_entity`` is None: a QIDO-RS
answer names no patient record of the server's own. Orthanc 1.10.1 (DICOMweb 1.7) answers all
five patient attributes: PatientID, PatientName, PatientBirthDate and PatientSex from its patient
record, IssuerOfPatientID (which its index does not keep) read from the stored files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

import httpx
from pydantic import Field

from dicomfab.targets._dicomweb import (
    DICOM_JSON,
    DicomWebConfig,
    DicomWebEndpoint,
    describer,
    http_error,
    http_reason,
    transport_error,
    transport_reason,
)
from dicomfab.targets._parallel import DEFAULT_PARALLEL, run_parallel
from dicomfab.targets.observations import (
    Observations,
    ObservedInstance,
    ObservedStudy,
    most_filed,
    study_uids,
)
from dicomfab.targets.registry import Adapter, Context

# ObservedInstance field -> DICOM JSON tag asked for with includefield
_TAGS = {
    "sop_instance_uid": "00080018",
    "study_instance_uid": "0020000D",
    "series_instance_uid": "0020000E",
    "patient_id": "00100020",
    "patient_name": "00100010",
    "accession_number": "00080050",
    "modality": "00080060",
    "sop_class_uid": "00080016",
    "instance_number": "00200013",
}
# ObservedStudy field -> DICOM JSON tag asked for with includefield (a study-level query)
_STUDY_TAGS = {
    "study_instance_uid": "0020000D",
    "patient_id": "00100020",
    "issuer_of_patient_id": "00100021",
    "patient_name": "00100010",
    "patient_birth_date": "00100030",
    "patient_sex": "00100040",
}
_T = TypeVar("_T")
STUDY_INSTANCE_UID = "0020000D"
STUDY_PAGE = 1000  # studies asked for per /studies request
MAX_PAGES = 10_000  # a server that ignores offset must not keep us here forever


def _text(dataset: dict[str, Any], tag: str) -> str | None:
    """The value of ``tag`` as text: PN as its Alphabetic group; several values joined by
    backslashes (as DICOM writes them); missing or empty -> None."""
    element = dataset.get(tag)
    if not isinstance(element, dict):
        return None
    values = element.get("Value")
    if not isinstance(values, list) or not values:
        return None
    texts: list[str] = []
    for value in values:
        if isinstance(value, dict):  # PN: {"Alphabetic": …, "Ideographic": …, "Phonetic": …}
            value = value.get("Alphabetic")
        if value is None:
            continue
        texts.append(str(value).strip())
    text = "\\".join(texts).strip("\\ ")
    return text or None


def _observed_study(dataset: dict[str, Any]) -> ObservedStudy | None:
    found = {f: _text(dataset, tag) for f, tag in _STUDY_TAGS.items()}
    uid = found.pop("study_instance_uid")
    return None if uid is None else ObservedStudy(uid, **found)


def _upper_keys(dataset: dict[str, Any]) -> dict[str, Any]:
    return {str(k).upper(): v for k, v in dataset.items()}


class QidoVerifier(DicomWebEndpoint):
    """Observe instances with QIDO-RS at ``url`` (e.g. ``http://host:8042/dicom-web``).
    ``username`` and ``password`` (or ``user:password@`` in the URL) are sent as HTTP Basic
    auth."""

    service = "QIDO-RS"

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        study_uids: Iterable[str] | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        parallel: int = DEFAULT_PARALLEL,
    ) -> None:
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        self.parallel = parallel
        super().__init__(
            url,
            username=username,
            password=password,
            timeout=timeout,
            connect_timeout=connect_timeout,
        )
        self.study_uids = None if study_uids is None else list(dict.fromkeys(study_uids))

    def __repr__(self) -> str:
        return f"QidoVerifier({self.safe_url!r}, parallel={self.parallel})"

    def observe(self, sop_instance_uids: Iterable[str]) -> Observations:
        start = time.perf_counter()
        wanted = {str(uid) for uid in sop_instance_uids}
        source = f"qido-rs {self.safe_url}"
        instances: dict[str, ObservedInstance] = {}
        landed: dict[str, list[ObservedStudy]] = {}
        if not wanted:
            return Observations(instances, source, time.perf_counter() - start)
        # httpx's pool opens a connection per worker at most (its limit is far above 16)
        with self._client({"Accept": DICOM_JSON}) as client:
            studies = self.study_uids
            if studies is None:
                landed = self._list_studies(client)
                studies = sorted(landed)  # not the order answered: it may change between asks
            for answer in self._each(client, studies, self._instances):
                for dataset in answer:
                    found = {f: _text(dataset, tag) for f, tag in _TAGS.items()}
                    uid = found["sop_instance_uid"]
                    if uid is None or uid not in wanted or uid in instances:
                        continue
                    instances[uid] = ObservedInstance(**found)  # type: ignore[arg-type]
            found_in: dict[str, ObservedStudy] = {}
            ask = [uid for uid in study_uids(instances.values()) if not landed.get(uid)]
            answered = dict(zip(ask, self._each(client, ask, self._study), strict=True))
            for uid in study_uids(instances.values()):
                seen = most_filed(landed.get(uid) or answered[uid], instances.values())
                if seen is not None:
                    found_in[uid] = seen
        return Observations(instances, source, time.perf_counter() - start, found_in)

    def _each(
        self, client: httpx.Client, studies: list[str], ask: Callable[[httpx.Client, str], _T]
    ) -> list[_T]:
        """``ask(client, study)`` for each study, ``parallel`` requests at a time, in order."""
        return run_parallel(
            studies,
            lambda _slot, study: ask(client, study),
            self.parallel,
            stop=client.close,
            name="qido",
        )

    # --- queries ----------------------------------------------------------------------------

    def _list_studies(self, client: httpx.Client) -> dict[str, list[ObservedStudy]]:
        """Every study the server holds, with the patient (or patients) it is filed under."""
        found: dict[str, list[ObservedStudy]] = {}
        offset = 0
        for _ in range(MAX_PAGES):
            params = {
                "includefield": list(_STUDY_TAGS.values()),
                "limit": STUDY_PAGE,
                "offset": offset,
            }
            page, _warned = self._get(client, "/studies", params, "studies", missing_ok=False)
            before = sum(map(len, found.values()))
            for dataset in page:
                study = _observed_study(dataset)
                if study is not None and study not in found.get(study.study_instance_uid, []):
                    found.setdefault(study.study_instance_uid, []).append(study)
            if not page or sum(map(len, found.values())) == before:
                break
            offset += len(page)
        return found

    def _study(self, client: httpx.Client, uid: str) -> list[ObservedStudy]:
        """Where study ``uid`` landed: one study-level query; one answer per patient it is filed
        under (none: the server does not say)."""
        params = {STUDY_INSTANCE_UID: uid, "includefield": list(_STUDY_TAGS.values())}
        page, _warned = self._get(client, "/studies", params, f"study {uid}", missing_ok=True)
        found = [_observed_study(dataset) for dataset in page]
        return [s for s in found if s is not None and s.study_instance_uid == uid]

    def _instances(self, client: httpx.Client, study: str) -> list[dict[str, Any]]:
        path = f"/studies/{study}/instances"
        what = f"instances of study {study}"
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        params: dict[str, Any] = {"includefield": list(_TAGS.values())}
        for _ in range(MAX_PAGES):
            page, truncated = self._get(client, path, params, what, missing_ok=True)
            fresh = [d for d in page if (_text(d, _TAGS["sop_instance_uid"]) or "") not in seen]
            out.extend(fresh)
            seen.update(_text(d, _TAGS["sop_instance_uid"]) or "" for d in fresh)
            if not truncated or not fresh:
                break
            params = {**params, "offset": len(out)}
        return out

    def _get(
        self,
        client: httpx.Client,
        path: str,
        params: dict[str, Any],
        what: str,
        *,
        missing_ok: bool,
    ) -> tuple[list[dict[str, Any]], bool]:
        """The datasets one QIDO-RS request answers with, and whether the server said it
        truncated them. No match (204, an empty body; 404 when ``missing_ok``: an unknown
        study) is an empty list; a 404 for the study list means a wrong DICOMweb root."""
        try:
            response = client.get(f"{self.url}{path}", params=params)
        except httpx.TransportError as exc:
            why = transport_reason(exc, self.timeout, self.connect_timeout)
            raise self._fail(why, transport_error(exc)) from None
        status = response.status_code
        if status in (401, 403):
            raise self._fail(f"authentication failed (HTTP {status})", http_error(status))
        if status == 204 or (status == 404 and missing_ok):
            return [], False
        if status == 404:
            why = f"{what}: {http_reason(response)} (is this the DICOMweb root?)"
            raise self._fail(why, http_error(status))
        if not 200 <= status < 300:
            raise self._fail(f"{what}: {http_reason(response)}", http_error(status))
        if not response.content.strip():
            return [], False
        try:
            data = response.json()
        except ValueError:
            content_type = response.headers.get("content-type", "no content type")
            raise self._fail(f"{what}: HTTP {status} answer is not JSON ({content_type})") from None
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise self._fail(f"{what}: HTTP {status} answer is not a DICOM JSON list")
        warning = response.headers.get("warning", "")
        truncated = "299" in warning or "additional results" in warning.lower()
        return [_upper_keys(d) for d in data], truncated


# ── the ``qido`` verify kind ─────────────────────────────────────────────────────────────────


class QidoVerify(DicomWebConfig):
    kind: Literal["qido"]
    parallel: int = Field(
        DEFAULT_PARALLEL, ge=1, le=16, description="HTTP connections at once (one request each)"
    )


def _build(config: QidoVerify, context: Context) -> QidoVerifier:
    return QidoVerifier.configured(config, study_uids=context.study_uids, parallel=config.parallel)


ADAPTER = Adapter("qido", "verify", QidoVerify, describer("QIDO-RS"), _build)
