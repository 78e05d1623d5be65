"""A target's own expectations: what a product does differently from what a scenario declares.

    resolve(rules, manifest) -> Overrides

``rules`` is one scenario's entry of a target's ``expect`` table. Each key is either an outcome
(``quarantine = "accept"``: this product stores what the scenario says it would quarantine) or
a selector as in the scenario library (``current.last``, ``prior.all``, ``external_prior``,
``patient[1].current``, …) with the outcome it gets on this product. A selector that names a
study sets the study's outcome and the default of its instances; an instance selector sets
those instances only. A group of copies as the scenario's ``expect.copies`` names it
(``current.first+current.last``) gets the copy this product keeps: ``one``, ``first`` or
``second``.

Before a run writes anything, :func:`policy_issues` and :func:`rule_issues` check a target's
``policy`` and ``expect`` tables on their own (known outcomes, existing scenarios, selector
grammar) and :func:`plan_issues` resolves one scenario's selectors against its plan.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dicomfab.errors import Issue, TargetError, shorten, shorten_text
from dicomfab.output.manifest import InstanceEntry, Manifest, StudyEntry
from dicomfab.scenarios import selectors
from dicomfab.scenarios.model import COPY_JOIN, COPY_RULES, INSTANCE_OUTCOMES, STUDY_OUTCOMES

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import Plan


@dataclass(frozen=True)
class Overrides:
    """Outcome → outcome (a policy), and outcomes pinned per study and per instance UID."""

    policy: dict[str, str] = field(default_factory=dict)
    studies: dict[str, str] = field(default_factory=dict)
    instances: dict[str, str] = field(default_factory=dict)
    copies: dict[str, str] = field(default_factory=dict)  # shared SOP Instance UID → copy rule

    def __bool__(self) -> bool:
        return bool(self.policy or self.studies or self.instances or self.copies)


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
    groups = {i.copies.group for i in manifest.instances() if i.copies is not None}
    for key, outcome in rules.items():
        name = f"{where}.{key}"
        if COPY_JOIN in key:
            if outcome not in COPY_RULES:
                known = ", ".join(COPY_RULES)
                raise TargetError(f"{name}: unknown copy rule {shorten(outcome)} ({known})")
            if key not in groups:
                known = ", ".join(sorted(groups)) or "none"
                raise TargetError(f"{name}: no such group of copies (this scenario's: {known})")
            out.copies[key] = outcome
            continue
        if outcome not in STUDY_OUTCOMES:
            known = ", ".join(STUDY_OUTCOMES)
            raise TargetError(f"{name}: unknown outcome {shorten(outcome)} ({known})")
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
            raise TargetError(f"{name}: {shorten(outcome)} is a study outcome, not an instance one")
        for inst in chosen:
            out.instances[inst.sop_instance_uid] = outcome
    return out


# ── checks before anything runs ─────────────────────────────────────────────────────────────


def _nearest(word: object, choices: Iterable[str]) -> str | None:
    near = difflib.get_close_matches(str(word), list(choices), n=1)
    return near[0] if near else None


def _outcome_issue(path: str, value: object) -> Issue | None:
    if isinstance(value, str) and value in STUDY_OUTCOMES:
        return None
    return Issue(
        path,
        f"unknown outcome {shorten(value)} (known: {', '.join(STUDY_OUTCOMES)})",
        _nearest(value, STUDY_OUTCOMES),
    )


def policy_issues(policy: Mapping[str, object], where: str) -> list[Issue]:
    """A ``policy`` table maps a declared outcome to this target's: both must be outcomes.
    ``where`` is the table's path, e.g. ``targets.orthanc.policy``."""
    issues = []
    for key, value in policy.items():
        path = f"{where}.{shorten_text(str(key))}"
        issue = _outcome_issue(path, key) or _outcome_issue(path, value)
        if issue is not None:
            issues.append(issue)
    return issues


_ROLES = ("current", "prior", "external_prior", "study")
_WHICH = ("study", "all", "first", "last", "RCC", "LCC", "RMLO", "LMLO")
_PARTS = re.compile(
    r"^(?P<patient>patient\[\d+\]\.)?(?P<role>[^.\[]*)(?P<k>\[\d+\])?(?:\.(?P<which>.*))?$"
)


def _near_selector(key: str) -> str | None:
    """The nearest well-formed selector to ``key`` (role and WHICH corrected each on its own),
    or None when nothing is close."""
    m = _PARTS.match(key.strip())
    if not m:
        return None
    role = m["role"] if m["role"] in _ROLES else _nearest(m["role"], _ROLES)
    which = m["which"]
    if which is not None and not which.isdigit() and which not in _WHICH:
        which = _nearest(which, _WHICH)
        if which is None:
            return None
    if role is None:
        return None
    text = f"{m['patient'] or ''}{role}{m['k'] or ''}" + (f".{which}" if which else "")
    try:
        selectors.parse(text)
    except selectors.SelectorError:
        return None
    return text


def _copies_issue(path: str, key: str, rule: object, groups: Iterable[str]) -> Issue | None:
    """A group of copies (one of the scenario's ``expect.copies`` keys) and the copy the
    product keeps."""
    if not isinstance(rule, str) or rule not in COPY_RULES:
        message = f"unknown copy rule {shorten(rule)} (known: {', '.join(COPY_RULES)})"
        return Issue(path, message, _nearest(rule, COPY_RULES))
    groups = list(groups)
    if key not in groups:
        known = ", ".join(groups) or "none"
        message = f"not a group of copies of this scenario (its expect.copies: {known})"
        parts = sorted(key.split(COPY_JOIN))
        same = [g for g in groups if sorted(g.split(COPY_JOIN)) == parts]  # in another order
        only = groups[0] if len(groups) == 1 else None
        near = same[0] if same else _nearest(key, groups) or only
        return Issue(path, message, near)
    return None


def _rule_issue(path: str, key: str, outcome: object) -> Issue | None:
    """One rule of one scenario, on its own: an outcome key or a selector, and an outcome."""
    issue = _outcome_issue(path, outcome)
    if issue is not None:
        return issue
    if key in STUDY_OUTCOMES:
        return None
    try:
        selector = selectors.parse(key)
    except selectors.SelectorError as exc:
        near = _nearest(key, STUDY_OUTCOMES)
        if near is not None:
            return Issue(path, "neither an outcome nor a selector", near)
        return Issue(path, str(exc), _near_selector(key))
    if not selector.is_study and outcome not in INSTANCE_OUTCOMES:
        return Issue(
            path,
            f"{shorten(outcome)} is a study outcome, not an instance one "
            f"(instances: {', '.join(INSTANCE_OUTCOMES)})",
        )
    return None


def rule_issues(expect: Mapping[str, object], where: str) -> list[Issue]:
    """An ``expect`` table (scenario → {outcome or selector: outcome}) on its own: every scenario
    exists, every rule is well formed. ``where`` is the table's path, e.g.
    ``targets.orthanc.expect``; an issue's path is ``where.SCENARIO[.SELECTOR]``."""
    from dicomfab.scenarios import scenarios

    known = scenarios()
    issues: list[Issue] = []
    for name, rules in expect.items():
        path = f"{where}.{name}"
        if name not in known:
            issues.append(Issue(path, "no such scenario", _nearest(name, known)))
            continue
        if not isinstance(rules, Mapping):
            issues.append(Issue(path, "must be a table of {selector or outcome = outcome}"))
            continue
        for key, outcome in rules.items():
            where_key = f"{path}.{shorten_text(str(key))}"
            if COPY_JOIN in str(key):
                groups = known[name].expect.copies
                issue = _copies_issue(where_key, str(key), outcome, groups)
            else:
                issue = _rule_issue(where_key, str(key), outcome)
            if issue is not None:
                issues.append(issue)
    return issues


def plan_issues(rules: Mapping[str, str], plan: Plan, where: str) -> list[Issue]:
    """Each selector of one scenario's (well-formed) rules must find its study and instances in
    the scenario's ``plan``, as it will be generated. ``where`` is
    ``targets.NAME.expect.SCENARIO``."""
    issues = []
    for key in rules:
        if key in STUDY_OUTCOMES or COPY_JOIN in key:  # a group of copies: checked by compose
            continue
        try:
            _find(key, plan)
        except selectors.SelectorError as exc:
            message = str(exc).removeprefix(f"{key}: ")
            near = _near_selector(key)
            if near is not None and near != key:
                try:
                    _find(near, plan)
                except selectors.SelectorError:
                    near = None
            issues.append(Issue(f"{where}.{key}", f"not in this scenario's data: {message}", near))
    return issues


def _find(key: str, plan: Plan) -> None:
    """Resolve selector ``key`` in ``plan``; :class:`~selectors.SelectorError` when it cannot."""
    selector = selectors.parse(key)
    if selector.is_study:
        selectors.studies(selector, plan)
    else:
        selectors.instances(selector, plan)
