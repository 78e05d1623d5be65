"""C-FIND verification: ask a Query/Retrieve SCP which instances it holds.

    CFindVerifier(host, port, called_ae, study_uids=[…]).observe(sop_instance_uids)

Study Root, on one association: one IMAGE-level query per study (all of its instances come back
in that one query), never one per instance. The studies are given to the constructor (the
``Verifier`` protocol passes only SOP Instance UIDs); without them, one STUDY-level query lists
every study the SCP holds first. An instance the SCP does not return is data (absent from the
Observations); only "cannot connect / association rejected or broken / C-FIND failure status"
raises :class:`~dicomfab.errors.TargetError`.

Where each study landed (``Observations.studies``): STUDY-level answers with the patient keys
(PatientID, IssuerOfPatientID, PatientName, PatientBirthDate, PatientSex). The listing query
asks for them; with the studies given, one STUDY-level query per study an instance was found in
asks. ``patient_entity`` is None: Study Root C-FIND shows no patient record of the SCP's own.
An SCP may drop the optional keys (pynetdicom's qrscp returns PatientID and PatientName only)
and may answer a STUDY-level query once per instance (qrscp does): the first answer wins, unless
the answers name several patients (Orthanc files a Study Instance UID sent under two PatientIDs
as two studies): then the study is where most of its instances are
(:func:`~dicomfab.targets.observations.most_filed`).

``confirm=True`` asks each study until two answers agree (at most four times): pynetdicom's
qrscp, the embedded target, loses about one pending response in 1,700 over loopback (measured:
the SCP logs four matches, the SCU receives three), which a single pass would report as a
missing instance. A query left unanswered (the SCP lost its final response) is asked once more
on a new association.

A returned attribute that is empty (or not returned: an SCP may drop optional keys such as
SOP Class UID, which pynetdicom's qrscp does) is None in the observation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Literal, TypeVar

from pydicom.dataset import Dataset
from pydicom.uid import UID
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.status import QR_FIND_SERVICE_CLASS_STATUS, code_to_category

from dicomfab.errors import TargetError, TargetTimeoutError
from dicomfab.targets._dicomnet import CALLING_AE, DicomNode, DicomNodeConfig
from dicomfab.targets.observations import (
    KEYWORDS,
    STUDY_KEYWORDS,
    Observations,
    ObservedInstance,
    ObservedStudy,
    most_filed,
    observed,
    observed_study,
    study_uids,
)
from dicomfab.targets.registry import Adapter, Context

_PENDING = (0xFF00, 0xFF01)
# pynetdicom.sop_class.StudyRootQueryRetrieveInformationModelFind (made at run time: mypy
# cannot see it)
STUDY_ROOT_FIND = UID("1.2.840.10008.5.1.4.1.2.2.1")


MAX_ASKS = 4  # with ``confirm``: ask a study until two answers agree, at most this often


class _NoResponse(TargetTimeoutError):
    """The SCP did not answer a C-FIND (timeout or abort)."""


_Observed = TypeVar("_Observed", ObservedInstance, ObservedStudy)


def _query(level: str, keywords: dict[str, str], study_uid: str) -> Dataset:
    """A ``level`` query returning ``keywords``' attributes, for ``study_uid`` ("": any)."""
    query = Dataset()
    query.QueryRetrieveLevel = level
    for keyword in keywords.values():
        setattr(query, keyword, "")
    query.StudyInstanceUID = study_uid
    return query


def _by_uid(
    answers: Iterable[Dataset], read: Callable[[Dataset], _Observed | None]
) -> dict[str, _Observed]:
    """Each answer as ``read`` sees it, by its SOP or Study Instance UID (first answer wins)."""
    found: dict[str, _Observed] = {}
    for ds in answers:
        seen = read(ds)
        if seen is None:
            continue
        uid = (
            seen.sop_instance_uid if isinstance(seen, ObservedInstance) else seen.study_instance_uid
        )
        found.setdefault(uid, seen)
    return found


class CFindVerifier:
    """Observe instances with Study Root C-FIND at ``host:port`` (``called_ae``)."""

    def __init__(
        self,
        host: str,
        port: int,
        called_ae: str,
        calling_ae: str = CALLING_AE,
        study_uids: Iterable[str] | None = None,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        confirm: bool = False,
    ) -> None:
        self.confirm = confirm
        self.node = DicomNode(host, port, called_ae, calling_ae)
        self.study_uids = None if study_uids is None else list(dict.fromkeys(study_uids))
        self.timeout = timeout
        self.connect_timeout = connect_timeout

    def __repr__(self) -> str:
        return f"CFindVerifier({self._where})"

    @property
    def _where(self) -> str:
        return self.node.where

    def _ae(self) -> AE:
        ae = self.node.ae(self.timeout, self.connect_timeout)
        ae.add_requested_context(STUDY_ROOT_FIND)
        return ae

    def observe(self, sop_instance_uids: Iterable[str]) -> Observations:
        start = time.perf_counter()
        wanted = {str(uid) for uid in sop_instance_uids}
        source = f"c-find {self.node.host}:{self.node.port}"
        instances: dict[str, ObservedInstance] = {}
        landed: dict[str, ObservedStudy] = {}
        if not wanted:
            return Observations(instances, source, time.perf_counter() - start)
        listed: dict[str, list[ObservedStudy]] = {}
        assoc = self.node.associate(self._ae())
        try:
            studies = self.study_uids
            if studies is None:
                listed, assoc = self._studies(assoc, None)
                studies = list(listed)
            for study in studies:
                answer, assoc = self._study(assoc, study)
                if self.confirm:
                    for _ in range(MAX_ASKS - 1):
                        again, assoc = self._study(assoc, study)
                        if again.keys() == answer.keys():
                            break
                        answer = {**answer, **again}
                for uid, seen in answer.items():
                    if uid in wanted:
                        instances.setdefault(uid, seen)
            landed, assoc = self._landed(assoc, instances.values(), listed)
        finally:
            if assoc.is_established:
                assoc.release()
        return Observations(instances, source, time.perf_counter() - start, landed)

    def _landed(
        self,
        assoc: Association,
        instances: Collection[ObservedInstance],
        known: dict[str, list[ObservedStudy]],
    ) -> tuple[dict[str, ObservedStudy], Association]:
        """Where the study of each of ``instances`` landed: from ``known`` (the listing's
        answers), else one STUDY-level query for it (with ``confirm``, asked again while
        unanswered); a study answered under several patients is where most of its instances
        are."""
        out: dict[str, ObservedStudy] = {}
        known = dict(known)
        for study in study_uids(instances):
            for _ in range(MAX_ASKS if self.confirm else 1):
                if study in known:
                    break
                answer, assoc = self._studies(assoc, study)
                known.update(answer)
            seen = most_filed(known.get(study, []), instances)
            if seen is not None:
                out[study] = seen
        return out, assoc

    # --- queries ----------------------------------------------------------------------------

    def _ask(self, assoc: Association, query: Dataset) -> tuple[list[Dataset], Association]:
        """The answers to ``query``; a query left unanswered is asked once more on a new
        association (the association it was on is aborted by then)."""
        for attempt in (1, 2):
            try:
                return list(self._find(assoc, query)), assoc
            except _NoResponse:
                if attempt == 2:
                    raise
                assoc = self.node.associate(self._ae())
        raise AssertionError("unreachable")

    def _study(
        self, assoc: Association, study: str
    ) -> tuple[dict[str, ObservedInstance], Association]:
        """One IMAGE-level query for ``study``: its instances by SOP Instance UID."""
        answers, assoc = self._ask(assoc, _query("IMAGE", KEYWORDS, study))
        return _by_uid(answers, observed), assoc

    def _studies(
        self, assoc: Association, study: str | None
    ) -> tuple[dict[str, list[ObservedStudy]], Association]:
        """One STUDY-level query with the patient keys, for ``study`` (None: every study the
        SCP holds): each study by UID, with the patient (or patients) it is filed under, each
        distinct answer once, in the order answered."""
        answers, assoc = self._ask(assoc, _query("STUDY", STUDY_KEYWORDS, study or ""))
        found: dict[str, list[ObservedStudy]] = {}
        for ds in answers:
            seen = observed_study(ds)
            if seen is not None and seen not in found.get(seen.study_instance_uid, []):
                found.setdefault(seen.study_instance_uid, []).append(seen)
        return found, assoc

    def _find(self, assoc: Association, query: Dataset) -> Iterator[Dataset]:
        """The identifiers one C-FIND answers with; TargetError unless it ends in Success."""
        level = query.QueryRetrieveLevel
        if not assoc.is_established:
            raise TargetError(f"C-FIND to {self._where} failed: the association was lost")
        try:
            responses = assoc.send_c_find(query, STUDY_ROOT_FIND)
            for status, identifier in responses:
                if not status or "Status" not in status:
                    raise _NoResponse(
                        f"C-FIND ({level} level) to {self._where} failed: no response "
                        f"(the association was aborted or timed out after {self.timeout:g} s)"
                    )
                code = int(status.Status)
                if code in _PENDING:
                    if identifier is not None:
                        yield identifier
                    continue
                if code == 0x0000:
                    return
                category = code_to_category(code)
                meaning = QR_FIND_SERVICE_CLASS_STATUS.get(code, (category, "unknown status"))[1]
                comment = status.get("ErrorComment")
                detail = f"{meaning}: {comment}" if comment else meaning
                raise TargetError(
                    f"C-FIND ({level} level) to {self._where} failed: status 0x{code:04X} "
                    f"({category}: {detail})"
                )
        except (ValueError, RuntimeError) as exc:  # no accepted context, association gone
            text = str(exc).strip().splitlines()
            raise TargetError(
                f"C-FIND ({level} level) to {self._where} failed: {text[0] if text else exc}"
            ) from None


# ── the ``cfind`` verify kind ────────────────────────────────────────────────────────────────


class CFindVerify(DicomNodeConfig):
    kind: Literal["cfind"]


def _describe(config: CFindVerify) -> str:
    return f"C-FIND {config.node}"


def _build(config: CFindVerify, context: Context) -> CFindVerifier:
    return CFindVerifier(
        config.host, config.port, config.called_ae, config.calling_ae, context.study_uids
    )


ADAPTER = Adapter("cfind", "verify", CFindVerify, _describe, _build)
