"""Scenario parameters: defaults, site profiles, overrides, and ``${name}`` templates in specs.

A value comes from (last wins): the scenario's default → the site profile named by ``site``
(its fields as ``site.<field>``) → a ``--params`` file → ``--set name=value``. In a scenario's
spec, a string that is exactly ``${name}`` becomes the value itself (``null`` removes the field);
``${name}`` inside a longer string is replaced by its text.

UIDs a scenario refers to are derived, not written out: ``${uid:NAME}`` is a UID derived from the
dataset's identity and seed like every generated one (the same NAME is the same UID within one
dataset), ``${uid:NAME:N}`` one of exactly N characters (over 64: a deliberately invalid UID),
``${uuid:NAME}`` the 32 hexadecimal digits of its UUID and ``${num:NAME:N}`` a number of N digits
derived from it (a bare counter where a UID belongs; see :func:`render_uids`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any

from dicomfab.errors import Issue, LimitError, SpecError, format_location, shorten, shorten_text
from dicomfab.scenarios.profiles import SiteProfile
from dicomfab.studyspec.documents import parse_document

_WHOLE = re.compile(r"^\$\{([A-Za-z0-9_.]+)\}$")
_PART = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")
_DROP = object()
_UID = re.compile(r"\$\{(uid|uuid|num):([A-Za-z0-9_.-]+)(?::([0-9]{1,4}))?\}")
_UID_LENGTHS = range(8, 257)

#: makes the value of a ``${uid:…}`` placeholder: (kind uid, uuid or num, name, length or None)
UidMaker = Callable[[str, str, int | None], str]


def parse_assignment(text: str) -> tuple[str, Any]:
    """``patient.name=Doe^Jane`` → ("patient.name", "Doe^Jane"); the value is read as YAML
    (within the loader's bounds; text that is not YAML stays text)."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise SpecError(
            Issue("--set", f"{shorten(text)}: write NAME=VALUE, e.g. patient.name=Doe^Jane")
        )
    try:
        value = (
            parse_document(raw, fmt="yaml", source=f"--set {shorten_text(name.strip())}")
            if raw.strip()
            else ""
        )
    except LimitError:
        raise
    except SpecError:
        value = raw
    if isinstance(value, str | int | float | bool) or value is None:
        return name.strip(), value if not isinstance(value, str) else raw.strip()
    return name.strip(), value


def resolve(
    declared: Mapping[str, Any],
    overrides: Mapping[str, Any],
    profiles: Mapping[str, SiteProfile],
) -> dict[str, Any]:
    """The parameter values of one scenario: ``declared`` defaults, then ``overrides``."""
    values = dict(declared)
    for name, value in overrides.items():
        if name not in values:
            near = difflib.get_close_matches(name, list(values), n=1) if len(name) < 200 else []
            known = ", ".join(sorted(values)) or "none"
            raise SpecError(
                Issue(
                    f"--set {shorten_text(name)}",
                    f"unknown parameter (this scenario has: {known})",
                    near[0] if near else None,
                )
            )
        values[name] = value
    site = values.get("site")
    if site is not None:
        if site not in profiles:
            near = difflib.get_close_matches(str(site), list(profiles), n=1)
            raise SpecError(
                Issue(
                    "--set site",
                    f"unknown site profile {shorten(site)} (known: {', '.join(sorted(profiles))})",
                    near[0] if near else None,
                )
            )
        for key, value in profiles[site].flat().items():
            values.setdefault(f"site.{key}", value)
    return values


Placements = dict[str, tuple[str, ...]]
"""Spec path (``patients[0].name``) → the parameters whose values were rendered there."""


def render(template: Any, values: Mapping[str, Any], placed: Placements | None = None) -> Any:
    """Replace ``${name}`` in every string of ``template`` (a JSON-like structure); record in
    ``placed`` where each parameter's value went (see :func:`blame`)."""
    out = _render(template, values, (), placed if placed is not None else {})
    return None if out is _DROP else out


def _render(
    node: Any, values: Mapping[str, Any], at: tuple[int | str, ...], placed: Placements
) -> Any:
    if isinstance(node, str):
        whole = _WHOLE.match(node)
        if whole:
            value = _lookup(whole[1], values)
            if value is None:
                return _DROP
            placed[format_location(at)] = (whole[1],)
            return value
        if names := tuple(_PART.findall(node)):
            placed[format_location(at)] = names
        return _PART.sub(lambda m: str(_lookup(m[1], values) or ""), node)
    if isinstance(node, list):
        out_list: list[Any] = []
        for item in node:
            rendered = _render(item, values, (*at, len(out_list)), placed)
            if rendered is not _DROP:
                out_list.append(rendered)
        return out_list
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            new_key = _render(key, values, at, {}) if isinstance(key, str) else key
            rendered = _render(value, values, (*at, str(new_key)), placed)
            if rendered is not _DROP:
                out[new_key] = rendered
        return out
    return node


def render_uids(template: Any, make: UidMaker) -> Any:
    """Replace every ``${uid:NAME}``, ``${uid:NAME:N}``, ``${uuid:NAME}`` and ``${num:NAME:N}`` in
    the strings of ``template`` (a JSON-like structure) by ``make(kind, name, N)``. Run after
    :func:`render`, so that a parameter's value may itself be such a placeholder."""
    if isinstance(template, str):
        return _UID.sub(lambda m: _uid_value(m, make), template)
    if isinstance(template, list):
        return [render_uids(item, make) for item in template]
    if isinstance(template, dict):
        return {
            render_uids(k, make) if isinstance(k, str) else k: render_uids(v, make)
            for k, v in template.items()
        }
    return template


def _uid_value(match: re.Match[str], make: UidMaker) -> str:
    kind, name, length = match[1], match[2], match[3]
    size = int(length) if length is not None else None
    if kind == "num" and (size is None or not 1 <= size <= 64):
        raise SpecError(Issue(shorten_text(match[0]), "write ${num:NAME:N}, N from 1 to 64"))
    if kind != "num" and size is not None and (kind == "uuid" or size not in _UID_LENGTHS):
        issue = Issue(
            shorten_text(match[0]),
            f"a length is for ${{uid:NAME:N}} only, with N from {_UID_LENGTHS.start} to "
            f"{_UID_LENGTHS.stop - 1}",
        )
        raise SpecError(issue)
    return make(kind, name, size)


def blame(issues: list[Issue], placed: Placements, overrides: Mapping[str, Any]) -> list[Issue]:
    """``issues`` of the composed spec, each at a path a parameter's value went to re-pathed to
    name that parameter (``--set patient.name``, or ``parameter X`` for a default the user did
    not set), with the spec path kept in the message: the user wrote the parameter, not the
    spec. Other issues are returned as they are."""
    out: list[Issue] = []
    for issue in issues:
        names = next(
            (
                names
                for path, names in placed.items()
                if issue.path == path or issue.path.startswith((f"{path}.", f"{path}["))
            ),
            None,
        )
        if not names:
            out.append(issue)
            continue
        who = ", ".join(
            f"--set {shorten_text(n)}" if n in overrides else f"parameter {shorten_text(n)}"
            for n in dict.fromkeys(names)
        )
        out.append(Issue(who, f"{issue.message} (at {issue.path})", issue.suggestion))
    return out


def _lookup(name: str, values: Mapping[str, Any]) -> Any:
    if name not in values:
        issue = Issue(
            f"${{{shorten_text(name)}}}", "the scenario uses a parameter it does not declare"
        )
        raise SpecError(issue)
    return values[name]
