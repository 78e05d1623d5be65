"""A product's own study links: which studies it linked to which (a prior-link table, a worklist
match, a REST endpoint), asked for a run's studies in batches.

    source.pairs(study_uids) -> LinkPairs(pairs={(study_uid, linked_study_uid), …}, source)

A target chooses how links are judged with its ``links`` key: ``"same-patient"`` (the default:
two studies are linked when they were filed under the same patient record),
``"same-patient-id"`` (the same, where the verifiers show no patient record of the system's own
and it keys patients by PatientID alone, whatever their issuer), ``"none"`` (links are not
checked) or a ``[targets.NAME.links]`` table with a ``kind`` (``sql``, ``http``, ``command``:
:mod:`~dicomfab.targets.links_sql`, :mod:`~dicomfab.targets.links_http`,
:mod:`~dicomfab.targets.links_command`) naming the product's own relation. This module says what
a relation returns; deciding whether an expectation passes is the run's job.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from dicomfab.errors import TargetError
from dicomfab.targets.registry import NO_SUCH_UID, AdapterConfig, Context

if TYPE_CHECKING:
    from dicomfab.targets.config import Target

LinkMode = Literal["same-patient", "same-patient-id", "none"]
LINK_MODES: tuple[LinkMode, ...] = ("same-patient", "same-patient-id", "none")
# the modes judged by the patient record each study was filed under (run.links.SamePatient)
SAME_PATIENT_MODES: tuple[LinkMode, ...] = ("same-patient", "same-patient-id")


@dataclass(frozen=True)
class LinkPairs:
    """What a relation returned: each ``(study_uid, linked_study_uid)`` pair once (as the
    product reports it: a pair is not made symmetric here), ``source`` naming where they came
    from (secrets masked) for the evidence, and the seconds the lookup took."""

    pairs: frozenset[tuple[str, str]]
    source: str
    elapsed: float = 0.0

    def linked(self, study_uid: str) -> frozenset[str]:
        """The studies ``study_uid`` is linked to, in either direction of a pair."""
        return self._by_study.get(study_uid, frozenset())

    @cached_property
    def _by_study(self) -> dict[str, frozenset[str]]:
        """Each study's linked studies, built once: a run asks for every study it judges, and a
        scan of every pair per question is quadratic (seconds at 10,000 studies)."""
        index: dict[str, set[str]] = {}
        for a, b in self.pairs:
            if a != b:
                index.setdefault(a, set()).add(b)
                index.setdefault(b, set()).add(a)
        return {uid: frozenset(others) for uid, others in index.items()}


class LinkSource(Protocol):
    """A product's relation between studies. ``pairs`` returns the pairs whose first study is
    one of ``study_uids`` (others are dropped); no pair is data, only "cannot ask" raises a
    :class:`~dicomfab.errors.TargetError`."""

    def pairs(self, study_uids: Iterable[str]) -> LinkPairs: ...


def unique(study_uids: Iterable[str]) -> list[str]:
    """``study_uids`` as strings, each once, in order."""
    return list(dict.fromkeys(str(uid) for uid in study_uids))


def batches(uids: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(uids), size):
        yield uids[i : i + size]


def relation_config(target: Target) -> AdapterConfig | None:
    """The target's ``[targets.NAME.links]`` table, or None when ``links`` is a mode string."""
    links: Any = target.links
    return None if isinstance(links, str) else links


def link_mode(target: Target) -> LinkMode | Literal["relation"]:
    """``same-patient``, ``same-patient-id``, ``none``, or ``relation`` (the product's own: see
    :func:`relation_config`)."""
    links: Any = target.links
    return cast(LinkMode, links) if isinstance(links, str) else "relation"


def pair_from_json(line: str, where: str) -> tuple[str, str]:
    """One ``{"study_uid": …, "linked_study_uid": …}`` JSON text as a pair; anything else raises
    a TargetError naming ``where``."""
    try:
        data = json.loads(line)
    except ValueError:
        raise TargetError(f"{where}: not JSON: {line[:120]}") from None
    if not isinstance(data, dict):
        raise TargetError(f"{where}: expected an object, got {line[:120]}")
    study, linked = data.get("study_uid"), data.get("linked_study_uid")
    if not isinstance(study, str) or not isinstance(linked, str):
        raise TargetError(f"{where}: needs string study_uid and linked_study_uid, got {line[:120]}")
    return study, linked


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value at RFC 6901 JSON ``pointer`` in ``document`` ("" is the whole document;
    ``~1`` is ``/``, ``~0`` is ``~``). A pointer that leads nowhere raises KeyError."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        raise KeyError(f"a JSON pointer starts with / ({pointer!r})")
    node = document
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise KeyError(f"nothing at {pointer} (no {token!r})")
    return node


def timed(
    source: str, start: float, pairs: Iterable[tuple[str, str]], wanted: list[str]
) -> LinkPairs:
    """The pairs whose first study was asked for, with the time since ``start``."""
    asked = set(wanted)
    kept = frozenset((a, b) for a, b in pairs if a in asked)
    return LinkPairs(kept, source, time.perf_counter() - start)


def probe(build: Any) -> Any:
    """A ``links`` adapter's probe: build the source and ask it about a UID no study has."""

    def run(config: AdapterConfig, context: Context) -> str:
        found = build(config, context).pairs([NO_SUCH_UID])
        return f"{found.source} answers ({found.elapsed * 1000:.0f} ms)"

    return run


def pairs_for(
    target: Target,
    study_uids: Iterable[str],
    workdir: Path,
    secrets: Iterable[str] = (),
) -> LinkPairs | None:
    """Ask ``target``'s own relation (None when it has none) about ``study_uids``: its adapter
    builds the source (an SSH tunnel it opens is closed before this returns); ``secrets``
    (``Targets.secrets``) are masked in what a command prints on failure."""
    from dicomfab.targets.registry import adapter_for

    config = relation_config(target)
    if config is None:
        return None
    uids = unique(study_uids)
    with ExitStack() as stack:
        context = Context(
            workdir, workdir / "logs", stack, frozenset(secrets), study_uids=tuple(uids)
        )
        source: LinkSource = adapter_for("links", config).build(config, context)
        return source.pairs(uids)
