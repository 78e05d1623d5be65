"""Named targets in ``dicomfab.toml``: how data goes into a system under test and how we look.

Search order: the ``--config`` file, ``./dicomfab.toml``, then the user config folder
(``$XDG_CONFIG_HOME/dicomfab/dicomfab.toml``, default ``~/.config/dicomfab/dicomfab.toml``).

    [targets.orthanc]
    description = "Orthanc with its PostgreSQL index"
    ingest = { kind = "cstore", host = "127.0.0.1", port = 4242, called_ae = "ORTHANC" }
    policy = { quarantine = "reject" }          # this product rejects what it would quarantine

    [targets.orthanc.verify]
    kind = "sql"
    profile = "orthanc-postgres"
    url = "postgresql+psycopg://orthanc:${DB_PW}@127.0.0.1:5432/orthanc"

Secrets never live in the file: ``${NAME}`` is taken from the environment or from a ``.env``
file beside the config (the predecessor's keys DB_PW, PRODUCT_CORE, SSH_BASTION, SSH_TARGET,
SSH_KEY, PY_VENV, … work as they are). A ``${NAME}`` inside a URL's ``user:password@`` is
percent-encoded. Which values are secret, and how they are masked wherever a target, a log line
or a report could show them, is :mod:`dicomfab.targets.secrets`; every URL is shown without its
password.

Each target is expanded and checked on its own: an unset variable or a typo in one target makes
that target *broken* (``Targets.broken``: its problems, shown by ``dicomfab targets``); selecting
it is an error, every other target still works. A ``policy`` or ``expect`` that names an unknown
outcome, scenario or selector form is such a problem too, when the run loads the file
(:func:`dicomfab.run.connect.load_targets` adds those checks).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args

from pydantic import Field, ValidationError

from dicomfab.errors import Issue, SpecError, format_location
from dicomfab.studyspec.documents import read_document
from dicomfab.targets.registry import (
    ROLES,
    AdapterConfig,
    ConfigModel,
    Role,
    config_models,
    kinds,
    model_field_names,
    nearest_kind,
    plugin_problems,
)
from dicomfab.targets.secrets import Masker, expanded, secret_values

FILE_NAME = "dicomfab.toml"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _union(role: Role) -> Any:
    """The config models of every ``role`` adapter, told apart by ``kind``."""
    return Annotated[Union[config_models(role)], Field(discriminator="kind")]  # noqa: UP007


if TYPE_CHECKING:
    IngestConfig = AdapterConfig
    VerifyConfig = AdapterConfig
    LinksConfig = AdapterConfig
else:
    IngestConfig = _union("ingest")
    VerifyConfig = _union("verify")
    LinksConfig = _union("links")  # the product's own relation (dicomfab.targets.links)


class Wait(ConfigModel):
    """Bounded waiting after ingestion: poll the (first) verifier every ``interval`` seconds
    until its count of found instances has not changed for ``stable`` polls in a row."""

    timeout: float = Field(600, gt=0, description="seconds before verifying whatever is there")
    interval: float = Field(2, gt=0, description="seconds between polls")
    stable: int = Field(3, ge=1, description="unchanged polls in a row that mean done")


class Target(ConfigModel):
    description: str = ""
    ingest: IngestConfig = Field(description="how data goes in: a table with a kind")
    verify: VerifyConfig | list[VerifyConfig] = Field(
        description="one verifier, or several (each must find what the scenario expects)"
    )
    links: Literal["same-patient", "same-patient-id", "none"] | LinksConfig = Field(
        "same-patient",
        description='how links are judged: "same-patient" (filed under one patient record), '
        '"same-patient-id" (the same, the record keyed by PatientID alone, whatever its issuer), '
        '"none" (not checked), or a table with a kind: the product\'s own relation',
    )
    wait: Wait = Field(default_factory=Wait)
    policy: dict[str, str] = Field(
        default_factory=dict, description="outcome → outcome, this product's policy"
    )
    expect: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="scenario → {selector or outcome: outcome}, e.g. "
        '{pr_private_tag = {"prior.all" = "accept"}}',
    )

    @property
    def verifiers(self) -> list[AdapterConfig]:
        return self.verify if isinstance(self.verify, list) else [self.verify]


class TargetsFile(ConfigModel):
    targets: dict[str, Target] = Field(default_factory=dict)


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``#`` comments, optional ``export`` and quotes), as in ``.env``."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _expand(
    node: Any,
    env: Mapping[str, str],
    path: str,
    missing: list[Issue] | None = None,
) -> Any:
    """``node`` with every ``${NAME}`` replaced from ``env`` (percent-encoded in a URL's
    userinfo). An unset variable raises, or, with ``missing``, is appended there (each one, with
    the field it is in) and left as written."""
    if isinstance(node, str):

        def value(m: re.Match[str]) -> str:
            if m[1] not in env:
                issue = Issue(path, f"${{{m[1]}}} is not set (environment or .env)")
                if missing is None:
                    raise SpecError(issue)
                missing.append(issue)
                return m[0]
            return expanded(env[m[1]], node, m.start())  # percent-encoded in a URL's userinfo

        return _VARIABLE.sub(value, node)
    if isinstance(node, list):
        return [_expand(v, env, f"{path}[{i}]", missing) for i, v in enumerate(node)]
    if isinstance(node, dict):
        return {k: _expand(v, env, f"{path}.{k}" if path else k, missing) for k, v in node.items()}
    return node


def _secrets(data: Mapping[str, Any], env: Mapping[str, str]) -> set[str]:
    """The values to mask of every target in the file (see :func:`secret_values`)."""
    tables = data.get("targets")
    if not isinstance(tables, dict):
        return set()
    return {v for t in tables.values() if isinstance(t, dict) for v in secret_values(t, env)}


def find_config(explicit: Path | None = None, cwd: Path | None = None) -> Path | None:
    """The config file in force, or None (then only the embedded default exists)."""
    if explicit is not None:
        return explicit
    local = (cwd or Path.cwd()) / FILE_NAME
    if local.is_file():
        return local
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    user = base / "dicomfab" / FILE_NAME
    return user if user.is_file() else None


class Targets:
    """The targets of one config file, with their secrets expanded (and remembered for masking).

    ``targets`` are the usable ones; ``broken`` maps each target that could not be expanded or
    checked to its problems (selecting it raises them)."""

    def __init__(
        self,
        targets: dict[str, Target],
        secrets: set[str],
        source: Path | None,
        broken: dict[str, list[Issue]] | None = None,
    ):
        self.targets = targets
        self.secrets = {s for s in secrets if s}
        self.source = source
        self.broken = dict(broken or {})
        self._masker = Masker(self.secrets)

    def get(self, name: str) -> Target:
        if name in self.broken:
            raise SpecError(self.broken[name], str(self.source) if self.source else None)
        if name not in self.targets:
            names = [*self.targets, *self.broken]
            near = difflib.get_close_matches(name, names, n=1)
            known = ", ".join(sorted(names)) or "none configured"
            raise SpecError(
                Issue(
                    f"--target {name}",
                    f"no such target (known: {known})",
                    near[0] if near else None,
                )
            )
        return self.targets[name]

    def problem(self, name: str) -> str | None:
        """What is wrong with target ``name``, on one line (None when it is usable)."""
        issues = self.broken.get(name)
        if not issues:
            return None
        first = str(issues[0])
        return first if len(issues) == 1 else f"{first} (and {len(issues) - 1} more)"

    def mask(self, text: str) -> str:
        """``text`` with every secret value (raw or URL-encoded) and every URL password
        replaced by ***."""
        return self._masker(text)


#: more checks of a valid target (``where`` is its path, e.g. ``targets.NAME``): the run adds
#: its policy and expectation rules (:func:`dicomfab.run.connect.load_targets`), which know the
#: scenario library this package does not
TargetCheck = Callable[[Target, str], list[Issue]]


def load_targets(
    path: Path | None,
    environ: Mapping[str, str] | None = None,
    check: TargetCheck | None = None,
) -> Targets:
    """Read and check a targets file; errors name the file, the key path and the nearest key.
    A file that cannot be read or parsed raises; a target that cannot be expanded or checked
    (by its models, then by ``check``) is kept in ``broken`` (the others stay usable)."""
    if path is None:
        return Targets({}, set(), None)
    data = read_document(path, fmt="toml")  # bounded: size, nesting; errors name the file
    env = {
        **read_env_file(path.parent / ".env"),
        **(environ if environ is not None else os.environ),
    }
    source = str(path)
    extra = [key for key in data if key != "targets"]
    if extra:
        issues = [Issue(k, "unknown key", _nearest_key(k, ["targets"])) for k in extra]
        raise SpecError(issues, source)
    tables = data.get("targets", {})
    if not isinstance(tables, dict):
        raise SpecError(Issue("targets", "must be tables [targets.NAME]"), source)
    secrets = _secrets(data, env)
    good: dict[str, Target] = {}
    broken: dict[str, list[Issue]] = {}
    for name, table in tables.items():
        target, issues = _load_target(name, table, env)
        if target is not None and check is not None:
            issues = check(target, f"targets.{name}")
            target = None if issues else target
        if target is not None:
            good[name] = target
        else:
            broken[name] = issues
    return Targets(good, secrets, path, broken)


def _nearest_key(key: str, known: list[str]) -> str | None:
    near = difflib.get_close_matches(key, known, n=1)
    return near[0] if near else None


def _load_target(
    name: str, table: Any, env: Mapping[str, str]
) -> tuple[Target | None, list[Issue]]:
    """One ``[targets.NAME]`` table, expanded and checked on its own: the target, or its
    problems (every unset variable with its field; else every invalid field)."""
    where = f"targets.{name}"
    missing: list[Issue] = []
    values = _expand(table, env, where, missing)
    if missing:
        return None, missing
    try:
        target = Target.model_validate(values)
    except ValidationError as exc:
        written = values if isinstance(values, dict) else {}
        one = not isinstance(written.get("verify"), list)
        mode = isinstance(written.get("links"), str)
        issues = [_issue(name, err) for err in exc.errors() if _about_the_input(err, one, mode)]
        return None, issues
    return target, []


def _about_the_input(err: Any, one_verifier: bool, links_mode: bool) -> bool:
    """False for an error about the form ``verify`` or ``links`` was not written in (pydantic
    tries both one table and a list of tables; a mode string and a table)."""
    loc = err["loc"]
    if len(loc) > 1 and loc[0] == "verify" and isinstance(loc[1], str):
        return loc[1].startswith("list[") != one_verifier
    if len(loc) > 1 and loc[0] == "links" and isinstance(loc[1], str):
        return loc[1].startswith("literal[") == links_mode
    return True


def _issue(name: str, err: Any) -> Issue:
    """One pydantic error of target ``name`` as an Issue: its path without the kind pydantic
    puts in it, an unknown key or kind with the nearest known one."""
    every_kind = {kind for role in ROLES for kind in kinds(role)}
    loc = tuple(
        p
        for p in err["loc"]
        if not (
            isinstance(p, str)
            and (p in every_kind or p.startswith(("tagged-union[", "list[", "literal[")))
        )
    )
    message, suggestion = err["msg"], None
    if loc == ("links",) and err["type"] == "literal_error":
        modes = get_args(get_args(Target.model_fields["links"].annotation)[0])
        message = f"must be {' or '.join(map(repr, modes))}, or a table with a kind"
        suggestion = _nearest_key(str(err.get("input", "")), list(modes))
    elif err["type"] == "extra_forbidden":
        message, suggestion = "unknown key", _nearest_key(str(loc[-1]), _fields())
    elif err["type"] == "union_tag_invalid" and loc and loc[0] in ROLES:
        role: Role = loc[0]
        tag = str(err.get("ctx", {}).get("tag", ""))
        message = f"unknown kind {tag!r} (known: {', '.join(kinds(role))})"
        message += "".join(f"; {problem}" for problem in plugin_problems())
        suggestion = nearest_kind(role, tag)
    return Issue(format_location(("targets", name, *loc)), message, suggestion)


def _fields() -> list[str]:
    """Every key a targets file may use (for "did you mean")."""
    models: list[type[ConfigModel]] = [Target]
    models += [m for role in ROLES for m in config_models(role)]
    return sorted(model_field_names(models))
