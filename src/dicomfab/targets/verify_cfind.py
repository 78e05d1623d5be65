"""C-FIND verification: ask a Query/Retrieve SCP which instances it holds.

    CFindVerifier(host, port, called_ae, study_uids=[…]).observe(sop_instance_uids)

Study Root: one IMAGE-level query per study (all of its instances come back in that one query),
never one per instance, spread over ``parallel`` associations (default 4; one query at a time on
each). The answers are merged in the order of the studies, so the Observations do not depend on
which association answered first: any ``parallel`` gives the same as 1. Interrupted (Ctrl-C,
SIGTERM), every association is aborted and every worker thread ends before the interruption goes
on. The studies are given to the constructor (the
``Verifier`` protocol passes only SOP Instance UIDs); without them, one STUDY-level query lists
every study the SCP holds first (then asked in the order of their UIDs: an SCP's order of
answers may change from one query to the next). An instance the SCP does not return is data
(absent from the Observations); only "cannot connect / association rejected or broken /
C-FIND failure status" raises :class:`~dicomfab.errors.TargetError`.

Where each study landed (``Observations.studies``): STUDY-level answers with the patient keys
(PatientID, IssuerOfPatientID, PatientName, PatientBirthDate, PatientSex). The listing query
asks for them; with the studies given, one STUDY-level query per study an instance was found in
asks. ``patient_entity`` is None: Study Root C-FIND shows no patient record of the SCP's own.
An SCP may drop the optional keys (pynetdicom's qrscp returns PatientID and PatientName only)
and may answer a STUDY-level query once per instance (qrscp does): the first answer wins, unless
the answers name several patients (Orthanc files a Study Instance UID sent under two PatientIDs
as two studies): then the study is where most of its instances are
(:func:`~dicomfab.targets.observations.most_filed`).

Each request first parks the association's reactor (:func:`~dicomfab.targets._dicomnet.
pause_reactor`): pynetdicom's own pause can let the reactor take an answer off the DIMSE queue,
which lost about one match in 1,700 against the embedded qrscp and, against Orthanc in CI, a
final status (the query then waited for the DIMSE timeout). ``confirm=True`` still asks each
study until two answers agree (at most four times), for an SCP that loses matches itself. A
query left unanswered is asked once more on a new association; an association closed while
its worker was idle (a network timeout on either side) is replaced before its next query.

A returned attribute that is empty (or not returned: an SCP may drop optional keys such as
SOP Class UID, which pynetdicom's qrscp does) is None in the observation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Literal, TypeVar

from pydantic import Field
from pydicom.dataset import Dataset
from pydicom.uid import UID
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.status import QR_FIND_SERVICE_CLASS_STATUS, code_to_category

from dicomfab.errors import TargetError, TargetTimeoutError
from dicomfab.targets._dicomnet import (
    CALLING_AE,
    DicomNode,
    DicomNodeConfig,
    pause_reactor,
    stop,
)
from dicomfab.targets._parallel import DEFAULT_PARALLEL, run_parallel
from dicomfab.targets.cstore import _quiet_races_after_abort
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
_T = TypeVar("_T")


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


class _Associations:
    """One association per worker slot, made when the slot first needs it and kept for the
    slot's next query; every live one aborted at once when the verification is stopped."""

    def __init__(self, verifier: CFindVerifier, slots: int) -> None:
        self.verifier = verifier
        self.slots: list[Association | None] = [None] * slots
        self.lock = threading.Lock()
        self.stopped = False

    def get(self, slot: int) -> Association:
        """The slot's association: made on first use, and made again when the one kept was
        closed while the slot was idle (by either side's network timeout, e.g. while another
        slot waited for an answer)."""
        assoc = self.slots[slot]
        if assoc is None or not assoc.is_established:
            if self.stopped:
                raise TargetError(f"C-FIND to {self.verifier._where} failed: stopped")
            if assoc is not None:
                stop(assoc)
            assoc = self.put(slot, self.verifier.node.associate(self.verifier._ae()))
        return assoc

    def put(self, slot: int, assoc: Association) -> Association:
        """``assoc`` is slot's association from now on (a query may have replaced it)."""
        with self.lock:
            self.slots[slot] = assoc
            stopped = self.stopped
        if stopped:  # made while being stopped: it must not outlive the stop
            stop(assoc)
            raise TargetError(f"C-FIND to {self.verifier._where} failed: stopped")
        return assoc

    def abort_all(self) -> None:
        """Abort every association and wake the thread waiting on it (pynetdicom's waiting
        C-FIND returns at once instead of after the DIMSE timeout)."""
        with self.lock:
            self.stopped = True
            live = [a for a in self.slots if a is not None]
        for assoc in live:
            stop(assoc)

    def release_all(self) -> None:
        with self.lock:
            live = [a for a in self.slots if a is not None]
            self.slots = [None] * len(self.slots)
        for assoc in live:
            if assoc.is_established:
                assoc.release()


class CFindVerifier:
    """Observe instances with Study Root C-FIND at ``host:port`` (``called_ae``), over
    ``parallel`` associations."""

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
        parallel: int = DEFAULT_PARALLEL,
    ) -> None:
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        self.confirm = confirm
        self.parallel = parallel
        self.node = DicomNode(host, port, called_ae, calling_ae)
        self.study_uids = None if study_uids is None else list(dict.fromkeys(study_uids))
        self.timeout = timeout
        self.connect_timeout = connect_timeout

    def __repr__(self) -> str:
        return f"CFindVerifier({self._where}, parallel={self.parallel})"

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
        pool = _Associations(self, self.parallel)
        _quiet_races_after_abort()  # an abort mid-C-FIND can make pynetdicom's reactor complain
        # the first association is made before any worker starts: a target that refuses (down,
        # wrong AE title) is told by one association, with one clear reason
        pool.get(0)
        try:
            studies = self.study_uids
            if studies is None:
                listed = self._studies(pool, 0, None)
                studies = sorted(listed)  # not the order answered: it may change between asks
            answers = self._each(pool, studies, self._study_confirmed)
            for answer in answers:
                for uid, seen in answer.items():
                    if uid in wanted:
                        instances.setdefault(uid, seen)
            landed = self._landed(pool, instances.values(), listed)
        except BaseException:
            pool.abort_all()
            raise
        pool.release_all()
        return Observations(instances, source, time.perf_counter() - start, landed)

    def _each(
        self, pool: _Associations, studies: list[str], ask: Callable[[_Associations, int, str], _T]
    ) -> list[_T]:
        """``ask(pool, slot, study)`` for each study over the pool's associations, in order."""
        return run_parallel(
            studies,
            lambda slot, study: ask(pool, slot, study),
            self.parallel,
            stop=pool.abort_all,
            name="cfind",
        )

    def _study_confirmed(
        self, pool: _Associations, slot: int, study: str
    ) -> dict[str, ObservedInstance]:
        """The instances of ``study``; with ``confirm``, asked until two answers agree."""
        answer = self._study(pool, slot, study)
        if self.confirm:
            for _ in range(MAX_ASKS - 1):
                again = self._study(pool, slot, study)
                if again.keys() == answer.keys():
                    break
                answer = {**answer, **again}
        return answer

    def _landed(
        self,
        pool: _Associations,
        instances: Collection[ObservedInstance],
        known: dict[str, list[ObservedStudy]],
    ) -> dict[str, ObservedStudy]:
        """Where the study of each of ``instances`` landed: from ``known`` (the listing's
        answers), else one STUDY-level query for it (with ``confirm``, asked again while
        unanswered); a study answered under several patients is where most of its instances
        are."""
        out: dict[str, ObservedStudy] = {}
        known = dict(known)
        ask = [study for study in study_uids(instances) if study not in known]

        def where(pool: _Associations, slot: int, study: str) -> dict[str, list[ObservedStudy]]:
            found: dict[str, list[ObservedStudy]] = {}
            for _ in range(MAX_ASKS if self.confirm else 1):
                if study in found:
                    break
                found.update(self._studies(pool, slot, study))
            return found

        for answer in self._each(pool, ask, where):
            known.update(answer)
        for study in study_uids(instances):
            seen = most_filed(known.get(study, []), instances)
            if seen is not None:
                out[study] = seen
        return out

    # --- queries ----------------------------------------------------------------------------

    def _ask(self, pool: _Associations, slot: int, query: Dataset) -> list[Dataset]:
        """The answers to ``query`` on the slot's association; a query left unanswered is
        asked once more on a new association (the association it was on is aborted by then)."""
        for attempt in (1, 2):
            try:
                return list(self._find(pool.get(slot), query))
            except _NoResponse:
                if attempt == 2 or pool.stopped:
                    raise
                pool.put(slot, self.node.associate(self._ae()))
        raise AssertionError("unreachable")

    def _study(self, pool: _Associations, slot: int, study: str) -> dict[str, ObservedInstance]:
        """One IMAGE-level query for ``study``: its instances by SOP Instance UID."""
        answers = self._ask(pool, slot, _query("IMAGE", KEYWORDS, study))
        return _by_uid(answers, observed)

    def _studies(
        self, pool: _Associations, slot: int, study: str | None
    ) -> dict[str, list[ObservedStudy]]:
        """One STUDY-level query with the patient keys, for ``study`` (None: every study the
        SCP holds): each study by UID, with the patient (or patients) it is filed under, each
        distinct answer once, in the order answered."""
        answers = self._ask(pool, slot, _query("STUDY", STUDY_KEYWORDS, study or ""))
        found: dict[str, list[ObservedStudy]] = {}
        for ds in answers:
            seen = observed_study(ds)
            if seen is not None and seen not in found.get(seen.study_instance_uid, []):
                found.setdefault(seen.study_instance_uid, []).append(seen)
        return found

    def _find(self, assoc: Association, query: Dataset) -> Iterator[Dataset]:
        """The identifiers one C-FIND answers with; TargetError unless it ends in Success."""
        level = query.QueryRetrieveLevel
        if not assoc.is_established:
            raise TargetError(f"C-FIND to {self._where} failed: the association was lost")
        try:
            pause_reactor(assoc)
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
    parallel: int = Field(
        DEFAULT_PARALLEL, ge=1, le=16, description="C-FIND associations at once (one query each)"
    )


def _describe(config: CFindVerify) -> str:
    return f"C-FIND {config.node}"


def _build(config: CFindVerify, context: Context) -> CFindVerifier:
    return CFindVerifier(
        config.host,
        config.port,
        config.called_ae,
        config.calling_ae,
        context.study_uids,
        parallel=config.parallel,
    )


ADAPTER = Adapter("cfind", "verify", CFindVerify, _describe, _build)
