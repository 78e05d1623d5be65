"""A target's own expectations: what a product does differently from what a scenario declares.

    resolve(rules, manifest) -> Overrides

``rules`` is one scenario's entry of a target's ``expect`` table. Each key is either an outcome
(``quarantine = "accept"``: this product stores what the scenario says it would quarantine) or
a selector as in the scenario library (``current.last``, ``prior.all``, ``external_prior``,
``patient[1].current``, …) with the outcome it gets on this product. A selector that names a
study sets the study's outcome and the default of its instances; an instance selector sets
those instances only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dicomfab.errors import TargetError
from dicomfab.output.manifest import InstanceEntry, Manifest, StudyEntry
from dicomfab.scenarios import selectors
from dicomfab.scenarios.model import INSTANCE_OUTCOMES, STUDY_OUTCOMES


@dataclass(frozen=True)
class Overrides:
    """Outcome → outcome (a policy), and outcomes pinned per study and per instance UID."""

    policy: dict[str, str] = field(default_factory=dict)
    studies: dict[str, str] = field(default_factory=dict)
    instances: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.policy or self.studies or self.instances)


def _studies(selector: selectors.Selector, manifest: Manifest) -> list[StudyEntry]:
    if selector.patient >= len(manifest.patients):
        raise selectors.SelectorError(f"there is no patient {selector.patient}")
    candidates = [
        s
        for s in manifest.patients[selector.patient].studies
        if selector.role == "study" or s.role == selector.role
    ]
    if selector.k >= len(candidates):
        role = selector.role.replace("_", " ")
        raise selectors.SelectorError(f"the dataset has {len(candidates)} {role} studies")
    return [candidates[selector.k]]


def _instances(selector: selectors.Selector, study: StudyEntry) -> list[InstanceEntry]:
    found = [i for se in study.series for i in se.instances]
    which = selector.which
    if which in ("study", "all"):
        return found
    if which == "first":
        return found[:1]
    if which == "last":
        return found[-1:]
    if which.isdigit():
        return found[int(which) : int(which) + 1]
    return [i for i in found if i.view == which][:1]


def resolve(rules: Mapping[str, str], manifest: Manifest, *, where: str = "expect") -> Overrides:
    """Turn one scenario's rules into overrides for ``manifest``; a bad rule is a
    :class:`TargetError` naming it."""
    out = Overrides()
    for key, outcome in rules.items():
        name = f"{where}.{key}"
        if outcome not in STUDY_OUTCOMES:
            raise TargetError(f"{name}: unknown outcome {outcome!r} ({', '.join(STUDY_OUTCOMES)})")
        if key in STUDY_OUTCOMES:
            out.policy[key] = outcome
            continue
        try:
            selector = selectors.parse(key)
            (study,) = _studies(selector, manifest)
        except selectors.SelectorError as exc:
            raise TargetError(f"{name}: {exc}") from None
        chosen = _instances(selector, study)
        if not chosen and not selector.is_study:
            raise TargetError(f"{name}: no such instance in the dataset")
        if selector.is_study:
            out.studies[study.study_instance_uid] = outcome
            if outcome not in INSTANCE_OUTCOMES:  # link / no-link say nothing of instances
                continue
        elif outcome not in INSTANCE_OUTCOMES:
            raise TargetError(f"{name}: {outcome!r} is a study outcome, not an instance one")
        for inst in chosen:
            out.instances[inst.sop_instance_uid] = outcome
    return out
