"""The scenario library: every ``library/*.yaml`` file is one scenario; ``library/_bases/*.yaml``
are the base specs scenarios start from. Loaded once, validated, names and aliases unique."""

from __future__ import annotations

import difflib
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dicomfab._yaml import safe_load
from dicomfab.errors import Issue, SpecError, format_location, shorten
from dicomfab.scenarios.model import Parameter, Scenario

LIBRARY = Path(__file__).with_name("library")
_PLAIN_NAME = re.compile(r"[a-z0-9_]+")  # a scenario's name is its file's: no path, no case


class BaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    spec: dict[str, Any] = Field(default_factory=dict)


def _read(path: Path) -> Any:
    try:
        return safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(Issue("", f"invalid YAML: {exc}"), str(path)) from None


def _validate(model: type[BaseModel], path: Path) -> Any:
    try:
        return model.model_validate(_read(path))
    except ValidationError as exc:
        issues = [Issue(format_location(tuple(e["loc"])), e["msg"]) for e in exc.errors()]
        raise SpecError(issues, str(path)) from None


@cache
def base_spec(name: str) -> BaseSpec:
    path = LIBRARY / "_bases" / f"{name}.yaml"
    if not path.exists():
        raise SpecError(Issue("base", f"no base spec named {shorten(name)}"))
    result: BaseSpec = _validate(BaseSpec, path)
    return result


@cache
def _load(path: Path) -> Scenario:
    scenario: Scenario = _validate(Scenario, path)
    if scenario.name != path.stem:
        raise SpecError(Issue("name", f"must be the file name {shorten(path.stem)}"), str(path))
    return scenario


@cache
def scenarios() -> dict[str, Scenario]:
    """Every scenario of the library by name, in name order."""
    found: dict[str, Scenario] = {}
    for path in sorted(LIBRARY.glob("*.yaml")):
        scenario = _load(path)
        found[scenario.name] = scenario
    return found


@cache
def _aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for scenario in scenarios().values():
        for alias in scenario.aliases:
            if alias in scenarios() or alias in table:
                raise SpecError(
                    Issue("aliases", f"{shorten(alias)} names another scenario too"),
                    f"scenario {scenario.name}",
                )
            table[alias] = scenario.name
    return table


def get(name: str) -> Scenario:
    """The scenario named ``name`` (or one of its older aliases); a near miss is suggested."""
    path = LIBRARY / f"{name}.yaml"
    if _PLAIN_NAME.fullmatch(name) and path.is_file():  # one file, not the whole library
        return _load(path)
    library = scenarios()
    if name in library:
        return library[name]
    if name in _aliases():
        return library[_aliases()[name]]
    near = difflib.get_close_matches(name, [*library, *_aliases()], n=3)
    hint = f"did you mean {', '.join(near)}?" if near else "see `dicomfab list`"
    raise SpecError(Issue("", f"unknown scenario {shorten(name)}; {hint}"))
