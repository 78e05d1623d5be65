"""From a target's configuration to live parts: an ingestor, verifiers, and what to expect.

    with open_target(name, targets, workdir, study_uids) as session:
        session.ingestor.ingest(files); session.verifiers[0].observe(uids)

``name`` None (or ``"embedded"``) is the embedded default: pynetdicom's qrscp started on a
free loopback port inside the run folder, C-STORE in, SQL on its index and C-FIND out, stopped
at the end. Every other name is a ``[targets.NAME]`` table of ``dicomfab.toml``. An SSH tunnel
a SQL verifier needs is opened here and closed with the session.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from dicomfab.errors import Issue
from dicomfab.run.expect import policy_issues, rule_issues
from dicomfab.studyspec.documents import parse_document
from dicomfab.targets import config
from dicomfab.targets.config import Target, Targets, Wait
from dicomfab.targets.links import LinkSource, link_mode, relation_config
from dicomfab.targets.observations import Verifier
from dicomfab.targets.receipt import Ingestor
from dicomfab.targets.registry import AdapterConfig, Context, adapter_for


def load_targets(path: Path | None, environ: Mapping[str, str] | None = None) -> Targets:
    """A targets file as a run reads it: :func:`dicomfab.targets.config.load_targets`, plus each
    target's ``policy`` and ``expect`` checked against the outcomes and the scenario library."""
    return config.load_targets(path, environ, check=_rules_issues)


def _rules_issues(target: Target, where: str) -> list[Issue]:
    issues = policy_issues(target.policy, f"{where}.policy")
    return issues + rule_issues(target.expect, f"{where}.expect")


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
    # how link expectations are judged: "same-patient", "same-patient-id", "none", or "relation"
    links: str = "same-patient"
    relation: LinkSource | None = None
    # the ingest kind ("cstore", "command", …): a scenario's not_observable marks may name it
    ingest_kind: str = "cstore"


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


def describe_ingest(ingest: AdapterConfig) -> str:
    return str(adapter_for("ingest", ingest).describe(ingest))


def describe_verify(verify: AdapterConfig) -> str:
    return str(adapter_for("verify", verify).describe(verify))


def describe_links(target: Target) -> str:
    """How the target's links are judged: its mode, or its own relation on one line."""
    relation = relation_config(target)
    if relation is None:
        return str(target.links)
    return str(adapter_for("links", relation).describe(relation))


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
    shown by ``dicomfab targets`` and the UI: secrets masked; ``links`` is how links are
    judged (a mode, or the product's own relation). A broken target (an unset
    variable, an invalid field) is listed too, with ``problem`` saying why, on one line."""
    rows: list[dict[str, Any]] = []
    if EMBEDDED not in targets.targets and EMBEDDED not in targets.broken:
        rows.append(
            {
                "name": EMBEDDED,
                "description": "built in: pynetdicom qrscp on a free loopback port",
                "ingest": "C-STORE (started for the run)",
                "verify": ["SQL on its SQLite index", "C-FIND"],
                "links": "same-patient",
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
                    "links": "",
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
                "links": targets.mask(describe_links(target)),
                "problem": None,
            }
        )
    return rows


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
        context = Context(folder, logs, stack, frozenset(targets.secrets), tuple(uids))
        ingest = adapter_for("ingest", target.ingest)
        verifiers = [(adapter_for("verify", v), v) for v in target.verifiers]
        relation = relation_config(target)
        yield Session(
            name=name or EMBEDDED,
            description=describe(target, targets),
            ingestor=ingest.build(target.ingest, context),
            verifiers=[adapter.build(config, context) for adapter, config in verifiers],
            policy=dict(target.policy),
            expect={k: dict(v) for k, v in target.expect.items()},
            wait=target.wait,
            logs=ingest.logs(target.ingest, context),
            links=link_mode(target),
            ingest_kind=target.ingest.kind,
            relation=(
                adapter_for("links", relation).build(relation, context)
                if relation is not None
                else None
            ),
        )
