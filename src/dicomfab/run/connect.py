"""From a target's configuration to live parts: an ingestor, verifiers, and what to expect.

    with open_target(name, targets, workdir, study_uids) as session:
        session.ingestor.ingest(files); session.verifiers[0].observe(uids)

``name`` None (or ``"embedded"``) is the embedded default: pynetdicom's qrscp started on a
free loopback port inside the run folder, C-STORE in, SQL on its index and C-FIND out, stopped
at the end. Every other name is a ``[targets.NAME]`` table of ``dicomfab.toml``. An SSH tunnel
a SQL verifier needs is opened here and closed with the session.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from dicomfab.errors import TargetError
from dicomfab.studyspec.documents import parse_document
from dicomfab.targets.config import (
    CFindVerify,
    CommandIngest,
    CStoreIngest,
    QidoVerify,
    SQLVerify,
    StowIngest,
    Target,
    Targets,
    Wait,
)
from dicomfab.targets.observations import Verifier
from dicomfab.targets.receipt import Ingestor
from dicomfab.targets.secrets import mask_url

EMBEDDED = "embedded"
EMBEDDED_WAIT = Wait(timeout=60, interval=0.5, stable=2)


@dataclass
class Session:
    """A target ready for one run."""

    name: str
    description: str
    ingestor: Ingestor
    verifiers: list[Verifier]
    policy: dict[str, str] = field(default_factory=dict)
    expect: dict[str, dict[str, str]] = field(default_factory=dict)
    wait: Wait = field(default_factory=Wait)
    logs: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class EmbeddedPolicy:
    """How the embedded qrscp differs from what scenarios declare (see embedded-policy.yaml)."""

    policy: dict[str, str]
    expect: dict[str, dict[str, str]]


@cache
def embedded_policy() -> EmbeddedPolicy:
    text = resources.files("dicomfab.targets").joinpath("embedded-policy.yaml").read_text("utf-8")
    data = parse_document(text, fmt="yaml", source="embedded-policy.yaml") or {}
    return EmbeddedPolicy(dict(data.get("policy") or {}), dict(data.get("expect") or {}))


def describe_ingest(ingest: CStoreIngest | CommandIngest | StowIngest) -> str:
    if isinstance(ingest, CStoreIngest):
        return f"C-STORE {ingest.called_ae}@{ingest.host}:{ingest.port}"
    if isinstance(ingest, StowIngest):
        return f"STOW-RS {mask_url(ingest.url)}"
    sentinel = f" (sentinel {ingest.sentinel})" if ingest.sentinel else ""
    return f"command {shlex.join(command_argv(ingest))}{sentinel}"


def describe_verify(verify: SQLVerify | CFindVerify | QidoVerify) -> str:
    if isinstance(verify, SQLVerify):
        via = f" via ssh {verify.ssh.target}" if verify.ssh else ""
        via += f" (jump {verify.ssh.bastion})" if verify.ssh and verify.ssh.bastion else ""
        return f"SQL {verify.profile or 'query'} {mask_url(verify.url)}{via}"
    if isinstance(verify, CFindVerify):
        return f"C-FIND {verify.called_ae}@{verify.host}:{verify.port}"
    return f"QIDO-RS {mask_url(verify.url)}"


def describe(target: Target | None, targets: Targets | None = None) -> str:
    """One line: how data goes in and how we look (secrets masked)."""
    if target is None:
        return "embedded pynetdicom qrscp on loopback: C-STORE in, SQL (SQLite) + C-FIND out"
    parts = [describe_ingest(target.ingest), *(describe_verify(v) for v in target.verifiers)]
    text = " → ".join(parts)
    return targets.mask(text) if targets else text


def configured_target(name: str | None, targets: Targets) -> Target | None:
    """The configured target ``name``; None for the embedded default (no name, or "embedded"
    when the config does not define one). An unknown or broken one is a :class:`SpecError`."""
    defined = EMBEDDED in targets.targets or EMBEDDED in targets.broken
    if name in (None, EMBEDDED) and not defined:
        return None
    return targets.get(name or EMBEDDED)


def target_rows(targets: Targets) -> list[dict[str, Any]]:
    """Every target a run can use (the embedded one first unless the config redefines it), as
    shown by ``dicomfab targets`` and the UI: secrets masked. A broken target (an unset
    variable, an invalid field) is listed too, with ``problem`` saying why, on one line."""
    rows: list[dict[str, Any]] = []
    if EMBEDDED not in targets.targets and EMBEDDED not in targets.broken:
        rows.append(
            {
                "name": EMBEDDED,
                "description": "built in: pynetdicom qrscp on a free loopback port",
                "ingest": "C-STORE (started for the run)",
                "verify": ["SQL on its SQLite index", "C-FIND"],
                "problem": None,
            }
        )
    names = sorted({*targets.targets, *targets.broken})
    for name in names:
        target = targets.targets.get(name)
        if target is None:
            rows.append(
                {
                    "name": name,
                    "description": "",
                    "ingest": "",
                    "verify": [],
                    "problem": targets.mask(targets.problem(name) or ""),
                }
            )
            continue
        rows.append(
            {
                "name": name,
                "description": target.description,
                "ingest": targets.mask(describe_ingest(target.ingest)),
                "verify": [targets.mask(describe_verify(v)) for v in target.verifiers],
                "problem": None,
            }
        )
    return rows


def command_argv(ingest: CommandIngest) -> list[str]:
    return shlex.split(ingest.command) if isinstance(ingest.command, str) else list(ingest.command)


# ── builders ─────────────────────────────────────────────────────────────────────────────────


def _ingestor(ingest: Any, folder: Path, logs: Path, secrets: Iterable[str]) -> Ingestor:
    if isinstance(ingest, CStoreIngest):
        from dicomfab.targets.cstore import CStoreIngestor

        return CStoreIngestor(
            ingest.host,
            ingest.port,
            ingest.called_ae,
            ingest.calling_ae,
            ingest.associations,
            timeout=ingest.timeout,
        )
    if isinstance(ingest, StowIngest):
        from dicomfab.targets.stow import StowIngestor

        return StowIngestor(
            ingest.url,
            username=ingest.username,
            password=ingest.password,
            batch=ingest.batch,
            timeout=ingest.timeout,
        )
    assert isinstance(ingest, CommandIngest)
    from dicomfab.targets.command import CommandIngestor

    return CommandIngestor(
        command_argv(ingest),
        folder=folder,
        cwd=Path(ingest.cwd) if ingest.cwd else None,
        env=ingest.env,
        passthrough=ingest.passthrough,
        sentinel=ingest.sentinel,
        timeout=ingest.timeout,
        log_path=logs / "ingest.log",
        secrets=secrets,
        public=ingest.public,
    )


def _sql_verifier(verify: SQLVerify, stack: ExitStack) -> Verifier:
    from dicomfab.targets.profiles import ORTHANC_POSTGRES_QUERY
    from dicomfab.targets.verify_sql import EMBEDDED_QUERY, SQLVerifier

    query = (
        verify.query
        or {
            "orthanc-postgres": ORTHANC_POSTGRES_QUERY,
            "embedded": EMBEDDED_QUERY,
        }[verify.profile or ""]
    )
    url = verify.url
    if verify.ssh is not None:
        from sqlalchemy.engine import make_url

        from dicomfab.targets.ssh import SSHTunnel, tunnel_url

        parsed = make_url(url)
        if not parsed.host:
            raise TargetError("an SSH tunnel needs a database URL with a host and port")
        default_ports = {"postgresql": 5432, "mysql": 3306, "mssql": 1433, "oracle": 1521}
        port = parsed.port or default_ports.get(parsed.get_backend_name())
        if port is None:
            raise TargetError(f"give the database port in the URL ({parsed.get_backend_name()})")
        tunnel = stack.enter_context(
            SSHTunnel(
                verify.ssh.target,
                parsed.host,
                port,
                bastion=verify.ssh.bastion,
                key=Path(verify.ssh.key).expanduser() if verify.ssh.key else None,
                known_hosts=(
                    Path(verify.ssh.known_hosts).expanduser() if verify.ssh.known_hosts else None
                ),
            )
        )
        url = tunnel_url(url, tunnel)
    return SQLVerifier(url, query, params=dict(verify.params), batch=verify.batch)


def build_verifier(verify: Any, study_uids: list[str], stack: ExitStack) -> Verifier:
    if isinstance(verify, SQLVerify):
        return _sql_verifier(verify, stack)
    if isinstance(verify, CFindVerify):
        from dicomfab.targets.verify_cfind import CFindVerifier

        return CFindVerifier(
            verify.host, verify.port, verify.called_ae, verify.calling_ae, study_uids
        )
    assert isinstance(verify, QidoVerify)
    from dicomfab.targets.verify_qido import QidoVerifier

    return QidoVerifier(
        verify.url, username=verify.username, password=verify.password, study_uids=study_uids
    )


@contextmanager
def _embedded(workdir: Path, study_uids: list[str]) -> Iterator[Session]:
    from dicomfab.targets.cstore import CStoreIngestor
    from dicomfab.targets.embedded import EmbeddedPACS
    from dicomfab.targets.verify_cfind import CFindVerifier
    from dicomfab.targets.verify_sql import for_embedded

    with EmbeddedPACS(workdir) as pacs:
        rules = embedded_policy()
        yield Session(
            name=EMBEDDED,
            description=describe(None),
            ingestor=CStoreIngestor(pacs.host, pacs.port, pacs.ae_title),
            verifiers=[
                for_embedded(pacs),
                CFindVerifier(
                    pacs.host,
                    pacs.port,
                    pacs.ae_title,
                    study_uids=study_uids,
                    timeout=10,
                    confirm=True,
                ),
            ],
            policy=dict(rules.policy),
            expect=dict(rules.expect),
            wait=EMBEDDED_WAIT,
            logs=[pacs.log_path],
        )


@contextmanager
def open_target(
    name: str | None,
    targets: Targets,
    workdir: Path,
    *,
    folder: Path,
    study_uids: Iterable[str] = (),
) -> Iterator[Session]:
    """Start (embedded) or connect to target ``name`` for a run whose merged data is ``folder``;
    logs and the embedded PACS's files go under ``workdir``."""
    uids = list(dict.fromkeys(study_uids))
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    target = configured_target(name, targets)
    if target is None:
        with _embedded(workdir / "embedded-pacs", uids) as session:
            yield session
        return
    with ExitStack() as stack:
        yield Session(
            name=name or EMBEDDED,
            description=describe(target, targets),
            ingestor=_ingestor(target.ingest, folder, logs, targets.secrets),
            verifiers=[build_verifier(v, uids, stack) for v in target.verifiers],
            policy=dict(target.policy),
            expect={k: dict(v) for k, v in target.expect.items()},
            wait=target.wait,
            logs=[logs / "ingest.log"] if isinstance(target.ingest, CommandIngest) else [],
        )
