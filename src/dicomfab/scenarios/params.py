"""Scenario parameters: defaults, site profiles, overrides, and ``${name}`` templates in specs.

A value comes from (last wins): the scenario's default → the site profile named by ``site``
(its fields as ``site.<field>``) → a ``--params`` file → ``--set name=value``. In a scenario's
spec, a string that is exactly ``${name}`` becomes the value itself (``null`` removes the field);
``${name}`` inside a longer string is replaced by its text.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from dicomfab.errors import Issue, LimitError, SpecError, shorten, shorten_text
from dicomfab.scenarios.profiles import SiteProfile
from dicomfab.spec.documents import parse_document

_WHOLE = re.compile(r"^\$\{([A-Za-z0-9_.]+)\}$")
_PART = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")
_DROP = object()


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


def render(template: Any, values: Mapping[str, Any]) -> Any:
    """Replace ``${name}`` in every string of ``template`` (a JSON-like structure)."""
    out = _render(template, values)
    return None if out is _DROP else out


def _render(node: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(node, str):
        whole = _WHOLE.match(node)
        if whole:
            value = _lookup(whole[1], values)
            return _DROP if value is None else value
        return _PART.sub(lambda m: str(_lookup(m[1], values) or ""), node)
    if isinstance(node, list):
        return [v for v in (_render(i, values) for i in node) if v is not _DROP]
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            rendered = _render(value, values)
            if rendered is not _DROP:
                out[_render(key, values) if isinstance(key, str) else key] = rendered
        return out
    return node


def _lookup(name: str, values: Mapping[str, Any]) -> Any:
    if name not in values:
        issue = Issue(
            f"${{{shorten_text(name)}}}", "the scenario uses a parameter it does not declare"
        )
        raise SpecError(issue)
    return values[name]
