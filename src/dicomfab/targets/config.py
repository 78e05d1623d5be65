"""Named targets in ``dicomfab.toml``: how data goes into a system under test and how we look.

Search order: the ``--config`` file, ``./dicomfab.toml``, then the user config folder
(``$XDG_CONFIG_HOME/dicomfab/dicomfab.toml``, default ``~/.config/dicomfab/dicomfab.toml``).

    [targets.orthanc]
    description = "Orthanc with its PostgreSQL index"
    ingest = { kind = "cstore", host = "127.0.0.1", port = 4242, called_ae = "ORTHANC" }
    verify = { kind = "sql", profile = "orthanc-postgres",
               url = "postgresql+psycopg://orthanc:${DB_PW}@127.0.0.1:5432/orthanc" }
    policy = { quarantine = "reject" }          # this product rejects what it would quarantine

Secrets never live in the file: ``${NAME}`` is taken from the environment or from a ``.env``
file beside the config (the predecessor's keys DB_PW, PRODUCT_CORE, SSH_BASTION, SSH_TARGET,
SSH_KEY, PY_VENV, … work as they are). The values of secret variables (see :func:`is_secret`)
are masked wherever a target, a log line or a report could show them; database URLs are always
shown without their password.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dicomfab.errors import Issue, SpecError
from dicomfab.spec.loading import format_location

FILE_NAME = "dicomfab.toml"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MASK = "***"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CStoreIngest(_Model):
    kind: Literal["cstore"]
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    called_ae: str = Field(max_length=16)
    calling_ae: str = Field("DICOMFAB", max_length=16)
    associations: int = Field(
        3, ge=1, le=16, description="parallel associations (3: measured best against Orthanc)"
    )
    timeout: float = Field(
        30,
        gt=0,
        description="seconds to wait for the system (ACSE, DIMSE and network timeouts; default "
        "30): a file it stalls on fails after this long instead of holding the run",
    )


class CommandIngest(_Model):
    kind: Literal["command"]
    command: str | list[str] = Field(
        description="argv (a string is split like a shell would); {folder} is the merged "
        "dataset folder, {dicoms} and {jsons} its two parts"
    )
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict, description="extra environment (${…} ok)")
    passthrough: list[str] = Field(
        default_factory=list,
        description="variables copied from dicomfab's environment, e.g. BOLUS2_PASSWORD",
    )
    sentinel: str | None = Field(
        None, description="file whose appearance means done, e.g. {folder}/ingestion_complete.txt"
    )
    timeout: float = Field(3600, gt=0, description="seconds before giving up")


class StowIngest(_Model):
    kind: Literal["stow"]
    url: str = Field(description="DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web")
    username: str | None = None
    password: str | None = None
    batch: int = Field(20, ge=1)
    timeout: float = Field(60, gt=0, description="seconds per request")


class SSHTunnel(_Model):
    target: str = Field(description="user@host[:port] that can reach the database (SSH_TARGET)")
    bastion: str | None = Field(None, description="user@host[:port] to jump through (SSH_BASTION)")
    key: str | None = Field(None, description="private key file (SSH_KEY)")
    known_hosts: str | None = Field(
        None, description="known_hosts file; unknown host keys are refused"
    )


class SQLVerify(_Model):
    kind: Literal["sql"]
    url: str = Field(description="SQLAlchemy URL; put the password in ${…}")
    profile: Literal["orthanc-postgres", "embedded"] | None = None
    query: str | None = Field(None, description="SQL with an expanding :uids parameter")
    params: dict[str, str | int | float] = Field(
        default_factory=dict, description="values for the query's other :name parameters"
    )
    batch: int = Field(1000, ge=1, description="UIDs per statement")
    ssh: SSHTunnel | None = Field(
        None, description="reach the database through SSH (the URL's host is as the target sees it)"
    )

    @model_validator(mode="after")
    def _query_or_profile(self) -> SQLVerify:
        if (self.profile is None) == (self.query is None):
            raise ValueError("give exactly one of profile or query")
        return self


class CFindVerify(_Model):
    kind: Literal["cfind"]
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    called_ae: str = Field(max_length=16)
    calling_ae: str = Field("DICOMFAB", max_length=16)


class QidoVerify(_Model):
    kind: Literal["qido"]
    url: str
    username: str | None = None
    password: str | None = None


Ingest = Annotated[CStoreIngest | CommandIngest | StowIngest, Field(discriminator="kind")]
Verify = Annotated[SQLVerify | CFindVerify | QidoVerify, Field(discriminator="kind")]


class Wait(_Model):
    """Bounded waiting after ingestion: poll the (first) verifier every ``interval`` seconds
    until its count of found instances has not changed for ``stable`` polls in a row."""

    timeout: float = Field(600, gt=0, description="seconds before verifying whatever is there")
    interval: float = Field(2, gt=0, description="seconds between polls")
    stable: int = Field(3, ge=1, description="unchanged polls in a row that mean done")


class Target(_Model):
    description: str = ""
    ingest: Ingest
    verify: Verify | list[Verify] = Field(
        description="one verifier, or several (each must find what the scenario expects)"
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
    def verifiers(self) -> list[SQLVerify | CFindVerify | QidoVerify]:
        return self.verify if isinstance(self.verify, list) else [self.verify]


class TargetsFile(_Model):
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


_SECRET_NAME = re.compile(r"PW|PASS|SECRET|TOKEN|CREDENTIAL|APIKEY|API_KEY", re.IGNORECASE)


def is_secret(variable: str, path: str) -> bool:
    """A ``${VARIABLE}`` is a secret when its name says so (``DB_PW``, ``BOLUS2_PASSWORD``,
    ``*_TOKEN``, …) or when it fills a password field. Hosts, ports, AE titles and user names
    stay visible: an error must say where it could not connect."""
    return bool(_SECRET_NAME.search(variable)) or path.rsplit(".", 1)[-1] == "password"


def _expand(node: Any, env: Mapping[str, str], path: str, secrets: set[str]) -> Any:
    if isinstance(node, str):

        def value(m: re.Match[str]) -> str:
            if m[1] not in env:
                raise SpecError(Issue(path, f"${{{m[1]}}} is not set (environment or .env)"))
            if is_secret(m[1], path):
                secrets.add(env[m[1]])
            return env[m[1]]

        return _VARIABLE.sub(value, node)
    if isinstance(node, list):
        return [_expand(v, env, f"{path}[{i}]", secrets) for i, v in enumerate(node)]
    if isinstance(node, dict):
        return {k: _expand(v, env, f"{path}.{k}" if path else k, secrets) for k, v in node.items()}
    return node


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
    """The targets of one config file, with their secrets expanded (and remembered for masking)."""

    def __init__(self, targets: dict[str, Target], secrets: set[str], source: Path | None):
        self.targets = targets
        self.secrets = {s for s in secrets if s}
        self.source = source

    def get(self, name: str) -> Target:
        if name not in self.targets:
            near = difflib.get_close_matches(name, list(self.targets), n=1)
            known = ", ".join(sorted(self.targets)) or "none configured"
            raise SpecError(
                Issue(
                    f"--target {name}",
                    f"no such target (known: {known})",
                    near[0] if near else None,
                )
            )
        return self.targets[name]

    def mask(self, text: str) -> str:
        """``text`` with every secret value replaced by ***."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text


def load_targets(path: Path | None, environ: Mapping[str, str] | None = None) -> Targets:
    """Read and check a targets file; errors name the file, the key path and the nearest key."""
    if path is None:
        return Targets({}, set(), None)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(Issue("", "no such file"), str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(Issue("", f"cannot read: {exc}"), str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(Issue("", f"invalid TOML: {exc}"), str(path)) from None
    env = {
        **read_env_file(path.parent / ".env"),
        **(environ if environ is not None else os.environ),
    }
    secrets: set[str] = set()
    try:
        expanded = _expand(data, env, "", secrets)
    except SpecError as exc:
        raise SpecError(exc.issues, str(path)) from None
    try:
        parsed = TargetsFile.model_validate(expanded)
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _KINDS))
            suggestion = None
            if err["type"] == "extra_forbidden":
                near = difflib.get_close_matches(str(loc[-1]), _FIELDS, n=1)
                suggestion = near[0] if near else None
            message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            issues.append(Issue(format_location(loc), message, suggestion))
        raise SpecError(issues, str(path)) from None
    return Targets(parsed.targets, secrets, path)


_KINDS = {"cstore", "command", "stow", "sql", "cfind", "qido"}
_FIELDS = sorted(
    {
        name
        for model in (
            Target,
            CStoreIngest,
            CommandIngest,
            StowIngest,
            SQLVerify,
            Wait,
            SSHTunnel,
            CFindVerify,
            QidoVerify,
        )
        for name in model.model_fields
    }
)
