"""Selectors: where in a dataset a defect or an expectation applies.

    [patient[P].] ROLE[K] [. WHICH]

ROLE is ``current``, ``prior``, ``external_prior`` or ``study`` (any role); ``[K]`` picks the K-th
study of that role in spec order (default 0: for priors that is the first one listed). WHICH is
``study`` (the study itself, the default), ``all`` (every instance), ``first``, ``last``, an
instance index counted across the study's series (``2``), or a view name (``RMLO``).
Examples: ``current.last``, ``prior.all``, ``prior[1].RCC``, ``external_prior``,
``patient[1].current``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dicomfab.builder.plan_model import InstancePlan, Plan, StudyPlan
from dicomfab.errors import shorten

_SELECTOR = re.compile(
    r"^(?:patient\[(?P<patient>\d+)\]\.)?"
    r"(?P<role>current|prior|external_prior|study)(?:\[(?P<k>\d+)\])?"
    r"(?:\.(?P<which>study|all|first|last|\d+|[RL][A-Z]+))?$"
)


class SelectorError(ValueError):
    pass


@dataclass(frozen=True)
class Selector:
    text: str
    patient: int
    role: str
    k: int
    which: str

    @property
    def is_study(self) -> bool:
        return self.which == "study"


def parse(text: str) -> Selector:
    m = _SELECTOR.match(text.strip())
    if not m:
        raise SelectorError(
            f"{shorten(text)} is not a selector: write ROLE[.WHICH], e.g. current.last, "
            "prior[1].RCC, "
            "external_prior.all (ROLE: current, prior, external_prior, study)"
        )
    return Selector(
        text=text,
        patient=int(m["patient"] or 0),
        role=m["role"],
        k=int(m["k"] or 0),
        which=m["which"] or "study",
    )


def studies(selector: Selector, plan: Plan) -> list[StudyPlan]:
    if selector.patient >= len(plan.patients):
        raise SelectorError(f"{selector.text}: there is no patient {selector.patient}")
    candidates = [
        s
        for s in plan.patients[selector.patient].studies
        if selector.role == "study" or s.role == selector.role
    ]
    if selector.k >= len(candidates):
        raise SelectorError(
            f"{selector.text}: patient {selector.patient} has {len(candidates)} "
            f"{selector.role.replace('_', ' ')} studies"
        )
    return [candidates[selector.k]]


def instances(selector: Selector, plan: Plan) -> list[InstancePlan]:
    (study,) = studies(selector, plan)
    found = [i for se in study.series for i in se.instances]
    which = selector.which
    if which in ("study", "all"):
        return found
    if not found:
        raise SelectorError(f"{selector.text}: the study has no instances")
    if which == "first":
        return found[:1]
    if which == "last":
        return found[-1:]
    if which.isdigit():
        if int(which) >= len(found):
            raise SelectorError(f"{selector.text}: the study has {len(found)} instances")
        return [found[int(which)]]
    by_view = [i for i in found if i.view is not None and i.view.name == which]
    if not by_view:
        raise SelectorError(f"{selector.text}: no {which} view in the study")
    return by_view[:1]
