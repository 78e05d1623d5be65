"""Choosing scenarios and their parameters, as the CLI and the web UI both do: names (with
``all`` and comma lists), ``--tag`` / ``--category`` filters, ``--set`` / ``--params``
overrides, the image size, one :class:`ScenarioRequest` per scenario, and the card a scenario
is listed with."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

from dicomfab import scenario_index as index
from dicomfab.errors import Issue, SpecError, shorten_text
from dicomfab.scenarios.compose import compose, declared_parameters
from dicomfab.scenarios.generate import ScenarioRequest
from dicomfab.scenarios.library import get, scenarios
from dicomfab.scenarios.model import Category, Scenario
from dicomfab.scenarios.params import parse_assignment
from dicomfab.scenarios.profiles import load_profiles
from dicomfab.studyspec.loading import read_document


def expand_names(names: Sequence[str], extra: Sequence[str]) -> list[str]:
    """``-s a b`` / ``-s a -s b`` / ``-s all`` → scenario names, each checked (nearest on typo)."""
    wanted = [n for name in [*names, *extra] for n in name.split(",") if n]
    if "all" in wanted:
        return list(scenarios())
    return list(dict.fromkeys(get(n).name for n in wanted))


def check_filters(tags: Sequence[str], category: str | None) -> None:
    """``--tag`` and ``--category`` must name a tag or category some scenario has: a typo is an
    error with the nearest name, never an empty or silently widened selection."""
    known_tags = sorted({t for s in scenarios().values() for t in s.tags})
    index.check_filters(tags, category, known_tags, sorted(get_args(Category)))


def flatten_parameters(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{patient: {name: x}}`` → ``{"patient.name": x}``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flatten_parameters(value, name))
        else:
            out[name] = value
    return out


def read_overrides(params_file: Path | None, assignments: Sequence[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if params_file is not None:
        data = read_document(params_file)
        if not isinstance(data, dict):
            raise SpecError(
                Issue("", "a parameter file is a mapping NAME: VALUE"), str(params_file)
            )
        overrides.update(flatten_parameters(data))
    overrides.update(parse_assignment(a) for a in assignments)
    return overrides


def choose(names: tuple[str, ...], tags: tuple[str, ...], category: str | None) -> list[str]:
    """Scenario names from ``--scenario`` / ``--tag`` / ``--category``; none given: all. An
    unknown scenario, tag or category is an error (with the nearest name)."""
    check_filters(tags, category)
    chosen = expand_names(names, ()) if names else []
    if tags or category:
        chosen += [n for n, s in scenarios().items() if matches(s, tags, category, None)]
        if not chosen:
            raise SpecError(Issue("--tag/--category", "no scenario matches"))
    return list(dict.fromkeys(chosen)) if (names or tags or category) else list(scenarios())


def with_image_size(names: list[str], overrides: dict[str, Any], size: str) -> dict[str, Any]:
    """``--image-size`` applies where the parameter exists; when no chosen scenario has it, it
    is left out rather than refused (unlike ``--set``)."""
    if any("image_size" in declared_parameters(scenarios()[n]) for n in names):
        return {**overrides, "image_size": size}
    return overrides


def scenario_requests(
    names: list[str],
    overrides: dict[str, Any],
    seed: int | None = None,
    sites: Path | None = None,
    overwrite: bool = False,
) -> list[ScenarioRequest]:
    """One request per scenario, each with the overrides it declares; an override that no
    chosen scenario declares is an error (the nearest parameter name is suggested)."""
    requests = []
    used: set[str] = set()
    for name in names:
        declared = declared_parameters(get(name))
        mine = {k: v for k, v in overrides.items() if k in declared}
        used.update(mine)
        requests.append(ScenarioRequest(name, mine, seed, sites, overwrite))
    unused = set(overrides) - used
    if unused:
        if len(names) == 1:  # let compose name the nearest parameter of that scenario
            compose(get(names[0]), overrides, load_profiles(sites))
        raise SpecError(
            Issue(f"--set {shorten_text(sorted(unused)[0])}", "no chosen scenario has it")
        )
    return requests


def scenario_row(s: Scenario) -> dict[str, object]:
    outcomes = sorted({s.expect.default, *s.expect.instances.values()})
    return {
        "name": s.name,
        "category": s.category,
        "title": s.title,
        "description": " ".join(s.description.split()),
        "tags": s.tags,
        "aliases": s.aliases,
        "defects": [d.what for d in s.defects],
        "expected": outcomes,
        "network": s.network,
    }


def search_text(s: Scenario) -> str:
    """What ``--search`` looks in: name, title, description, why, tags and aliases."""
    return " ".join([s.name, s.title, s.description, s.why, *s.tags, *s.aliases]).lower()


def matches(s: Scenario, tags: tuple[str, ...], category: str | None, search: str | None) -> bool:
    return index.selected(s.tags, s.category, search_text(s), tags, category, search)
