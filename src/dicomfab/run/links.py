"""Link verdicts: did the system file each study a scenario expects ``link`` (or ``no-link``)
with its scenario's current study, or keep it apart?

    anchors = link_anchors(manifests)          # study UID → the current studies to judge it by
    judge = SamePatient.of(observations)       # or Relation(pairs), or None for links = "none"
    status, reason = decide("link", "prior", study_uid, anchors[study_uid], judge)

A study's **anchors** are the current studies of its own patient entry in the manifest, else those
of its scenario (a scenario may put its current study in another dataset: ``dual_output``), else
its patient entry's own patient (external priors sent with no current study: linked when filed
under that PatientID). Every link verdict of a target with ``links = "none"`` is ``not checked``,
never a pass, as is one the judge cannot tell.

Two ways to judge, chosen per target (see :mod:`dicomfab.targets.links`):

- :class:`SamePatient` (archives): linked when both studies were filed under the same patient
  record as the system stores it: its own patient entity where it shows one (Orthanc's patient
  resource), else PatientID + IssuerOfPatientID as stored (``same-patient``), or PatientID alone
  (``same-patient-id``: a system that ignores the issuer, seen through a verifier that shows no
  patient record of its own, as Orthanc through QIDO-RS and C-FIND).
- :class:`Relation`: the product's own relation returned a pair joining the two studies.

``link`` passes when the study is linked to one of its anchors; ``no-link`` when it is linked to
none (a study the system did not store is linked to nothing). The reason is the evidence, e.g.
``prior filed under patient P-123 (issuer MASC), current 2.25.… under patient P-123: linked``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from dicomfab.output.manifest import Manifest, StudyEntry
from dicomfab.targets.links import LinkPairs
from dicomfab.targets.observations import Observations, ObservedStudy

LINK_OUTCOMES = ("link", "no-link")
LinkStatus = Literal["pass", "fail", "not checked"]
SamePatientMode = Literal["same-patient", "same-patient-id"]
LINKS_NONE = 'links = "none" on this target: not checked'
NO_ANCHOR = "nothing in this scenario to judge the link against: not checked"


@dataclass(frozen=True)
class Anchor:
    """What a study is linked to or kept apart from: a current study, or (a scenario with no
    current study) the patient it was made for, by PatientID."""

    study_uid: str | None = None
    patient_id: str | None = None

    def __str__(self) -> str:
        return f"current {self.study_uid}" if self.study_uid else f"patient {self.patient_id}"


class LinkJudge(Protocol):
    """Whether the system linked a study to an anchor: ``(True/False, evidence)``, or
    ``(None, why)`` when it cannot tell."""

    def linked(self, study_uid: str, anchor: Anchor) -> tuple[bool | None, str]: ...


def describe_patient(study: ObservedStudy) -> str:
    """``patient P-123 (issuer MASC) [record 5f…]``: a patient record as the system stores it."""
    text = f"patient {study.patient_id if study.patient_id is not None else '(no ID)'}"
    if study.issuer_of_patient_id:
        text += f" (issuer {study.issuer_of_patient_id})"
    if study.patient_entity:
        text += f" [record {study.patient_entity}]"
    return text


def _patient_key(study: ObservedStudy, by_issuer: bool = True) -> tuple[str | None, ...] | None:
    if study.patient_entity:
        return ("entity", study.patient_entity)
    if study.patient_id is None:
        return None
    return ("id", study.patient_id, study.issuer_of_patient_id if by_issuer else None)


@dataclass(frozen=True)
class SamePatient:
    """Linked when filed under the same patient record (``studies``: a verifier's
    :attr:`~dicomfab.targets.observations.Observations.studies`). ``blind``: the verifier
    found instances without showing their study, so a study missing from ``studies`` may be
    stored all the same (see :meth:`of`); ``found``: the studies of the instances it found, so a
    study found there but missing from ``studies`` is one the verifier does not place (not
    checked, never "not in the index"). ``by_issuer`` False (``same-patient-id``): a record
    the verifier does not show is keyed by PatientID alone, whatever the issuer."""

    studies: Mapping[str, ObservedStudy]
    blind: bool = False
    by_issuer: bool = True
    found: frozenset[str] = frozenset()

    @classmethod
    def of(cls, observations: Observations, mode: SamePatientMode = "same-patient") -> SamePatient:
        studies = {i.study_instance_uid for i in observations.instances.values()}
        return cls(
            observations.studies,
            None in studies,
            by_issuer=mode == "same-patient",
            found=frozenset(uid for uid in studies if uid is not None),
        )

    def _unplaced(self, study_uid: str) -> bool:
        """Stored, as far as we can tell, but the verifier does not say under which patient."""
        return study_uid not in self.studies and (self.blind or study_uid in self.found)

    def linked(self, study_uid: str, anchor: Anchor) -> tuple[bool | None, str]:
        study = self.studies.get(study_uid)
        if study is None and study_uid in self.found:
            return None, "the verifier found its instances but shows no patient record for it"
        if study is None and self.blind:
            return None, "the verifier shows no study of the instances it found"
        if study is None:
            return False, "not in the index"
        filed = f"filed under {describe_patient(study)}"
        if anchor.study_uid is None:  # the scenario's patient, by PatientID
            if study.patient_id is None:
                return None, f"{filed}: the verifier shows no PatientID"
            return study.patient_id == anchor.patient_id, f"{filed}, the scenario's {anchor}"
        current = self.studies.get(anchor.study_uid)
        if self._unplaced(anchor.study_uid):
            return None, f"{filed}, {anchor}: the verifier shows no patient record for it"
        if current is None:
            return False, f"{filed}, {anchor} not in the index"
        here, there = _patient_key(study, self.by_issuer), _patient_key(current, self.by_issuer)
        where = f"{filed}, {anchor} under {describe_patient(current)}"
        if here is None or there is None:
            return None, f"{where}: the verifier shows no patient record"
        if here[0] == "id" and not self.by_issuer:
            where += " (keyed by PatientID alone)"
        return here == there, where


@dataclass(frozen=True)
class Relation:
    """Linked when the product's own relation returned a pair joining the two studies."""

    pairs: LinkPairs

    def linked(self, study_uid: str, anchor: Anchor) -> tuple[bool | None, str]:
        if anchor.study_uid is None:
            return None, f"no current study: {self.pairs.source} relates studies, not {anchor}"
        others = self.pairs.linked(study_uid)
        if anchor.study_uid in others:
            return True, f"{self.pairs.source} returned a pair with {anchor}"
        text = f"{self.pairs.source} returned no pair with {anchor}"
        if others:
            text += f" (it linked the study to {', '.join(sorted(others))})"
        return False, text


def decide(
    outcome: str,
    role: str,
    study_uid: str,
    anchors: Sequence[Anchor],
    judge: LinkJudge | None,
) -> tuple[LinkStatus, str]:
    """The verdict on one ``link`` / ``no-link`` expectation and its evidence; ``judge`` None:
    the target does not check links."""
    if judge is None:
        return "not checked", LINKS_NONE
    if not anchors:
        return "not checked", NO_ANCHOR
    answers = [judge.linked(study_uid, anchor) for anchor in anchors]
    evidence = "; ".join(why for _, why in answers)
    if any(linked for linked, _ in answers):
        found = "linked"
    elif any(linked is None for linked, _ in answers):
        return "not checked", f"{role} {evidence}"
    else:
        found = "not linked"
    passed = (found == "linked") == (outcome == "link")
    return ("pass" if passed else "fail"), f"{role} {evidence}: {found} (expected {outcome})"


def link_anchors(manifests: Iterable[Manifest]) -> dict[str, tuple[Anchor, ...]]:
    """For each study, what a ``link`` / ``no-link`` expectation on it is judged against: the
    current studies of its patient entry, else those of its scenario (never itself), else its
    patient entry's PatientID."""
    by_scenario: dict[str, list[Manifest]] = {}
    for manifest in manifests:
        by_scenario.setdefault(manifest.scenario or manifest.dataset, []).append(manifest)
    anchors: dict[str, tuple[Anchor, ...]] = {}
    for group in by_scenario.values():
        patients = [p for m in group for p in m.patients]
        everywhere = _currents(s for p in patients for s in p.studies)
        for patient in patients:
            own = _currents(patient.studies)
            for study in patient.studies:
                uid = study.study_instance_uid
                currents = [Anchor(other) for other in (own or everywhere) if other != uid]
                anchors[uid] = tuple(currents or [Anchor(patient_id=patient.patient_id)])
    return anchors


def _currents(studies: Iterable[StudyEntry]) -> list[str]:
    return [s.study_instance_uid for s in studies if s.role == "current"]
