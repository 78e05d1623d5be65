"""Every kind of target part, in one registry: how data goes in (``ingest``), how we look
(``verify``) and where the product's own study links come from (``links``). A ``kind`` in a
``[targets.NAME]`` table names an :class:`Adapter`; its config model checks the table,
``describe`` shows it on one line, ``probe`` checks it can be reached (``dicomfab check
--target``) and ``build`` makes the live ingestor, verifier or link source for a run.

Adapters are found through the entry-point group ``dicomfab.targets`` (each entry point names
an :class:`Adapter` or a tuple of them), the same path a third-party package uses:

    [project.entry-points."dicomfab.targets"]
    mykind = "my_package.my_module:ADAPTER"

dicomfab's own kinds are declared there too. So that they also load when dicomfab's metadata is
stale (an editable install made before an entry point was added) or absent (a source tree on
``PYTHONPATH``), the loader also finds them itself: :func:`builtins` lists every module of this
package that assigns ``ADAPTER`` or ``ADAPTERS`` at its top level (read, not imported). Adding a
built-in kind is therefore its module plus its entry-point line (a test keeps the two equal).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cache, partial
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from dicomfab.errors import DicomfabError

GROUP = "dicomfab.targets"
Role = Literal["ingest", "verify", "links"]
ROLES: tuple[Role, ...] = ("ingest", "verify", "links")
NO_SUCH_UID = "2.25.1"  # a valid UID no generator of ours ever makes: what a probe asks for

ADAPTER_NAMES = ("ADAPTER", "ADAPTERS")


@cache
def builtins() -> tuple[str, ...]:
    """``module:attribute`` of every built-in adapter (or tuple of adapters): each module of
    ``dicomfab.targets`` with a top-level ``ADAPTER = …`` or ``ADAPTERS = …``, found by reading
    the source, so no other module is imported to look."""
    found: list[str] = []
    for path in sorted(Path(__file__).parent.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in ADAPTER_NAMES:
                    found.append(f"{__package__}.{path.stem}:{target.id}")
    return tuple(found)


class ConfigModel(BaseModel):
    """A table of a targets file: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class AdapterConfig(ConfigModel):
    """Base of every adapter's config model; ``kind`` (a ``Literal``) selects it."""

    kind: str


@dataclass(frozen=True)
class Context:
    """What building or probing a part may use.

    ``folder``: the run's merged data (a command ingests it); ``logs``: where log files go;
    ``secrets``: values to mask; ``study_uids``: the run's studies (a verifier asks per study);
    ``stack``: closed with the session (an SSH tunnel opened for a verifier is entered here)."""

    folder: Path
    logs: Path
    stack: ExitStack
    secrets: frozenset[str] = frozenset()
    study_uids: tuple[str, ...] = ()


C = TypeVar("C", bound=AdapterConfig)


def _no_logs(config: Any, context: Context) -> list[Path]:
    return []


@dataclass(frozen=True)
class Adapter(Generic[C]):
    """One ``kind`` of ingestor or verifier.

    ``build(config, context)`` returns an :class:`~dicomfab.targets.receipt.Ingestor` (role
    ingest), a :class:`~dicomfab.targets.observations.Verifier` (role verify) or a
    :class:`~dicomfab.targets.links.LinkSource` (role links). ``probe(config,
    context)`` returns what it found on one line or raises (a DicomfabError or OSError); a
    verifier without one is probed by building it and asking for :data:`NO_SUCH_UID`.
    ``logs(config, context)`` lists the log files a built ingestor writes (shown by the run)."""

    kind: str
    role: Role
    config: type[C]
    describe: Callable[[C], str]
    build: Callable[[C, Context], Any]
    probe: Callable[[C, Context], str] | None = None
    logs: Callable[[C, Context], list[Path]] = field(default=_no_logs)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"adapter {self.kind!r}: role must be one of {ROLES}")
        if self.role in ("ingest", "links") and self.probe is None:
            raise ValueError(f"{self.role} adapter {self.kind!r} needs a probe")
        kind = self.config.model_fields.get("kind")
        if kind is None or getattr(kind.annotation, "__args__", None) != (self.kind,):
            raise ValueError(
                f"adapter {self.kind!r}: its config needs kind: Literal[{self.kind!r}]"
            )


def _adapters_of(obj: object, where: str) -> list[Adapter[Any]]:
    found = list(obj) if isinstance(obj, tuple | list) else [obj]
    adapters = [a for a in found if isinstance(a, Adapter)]
    if not found or len(adapters) != len(found):
        raise DicomfabError(f"target plugin {where} is not an Adapter (or a tuple of them)")
    return adapters


def _load(reference: str) -> object:
    module, _, attribute = reference.partition(":")
    obj: object = import_module(module)
    for part in attribute.split(".") if attribute else ():
        obj = getattr(obj, part)
    return obj


def _references() -> Iterator[tuple[str, Callable[[], object], bool]]:
    """Each place an adapter comes from, and whether it is dicomfab's own: the built-ins, then
    every entry point of the group (an entry point naming a built-in again is the same one)."""
    seen: set[str] = set()
    for reference in builtins():
        seen.add(reference)
        yield reference, partial(_load, reference), True
    for point in entry_points(group=GROUP):
        if point.value.replace(" ", "") in seen:
            continue
        seen.add(point.value)
        yield f"{point.name} = {point.value}", point.load, False


@dataclass(frozen=True)
class _Loaded:
    adapters: dict[tuple[Role, str], Adapter[Any]]
    problems: tuple[str, ...]


@cache
def _loaded() -> _Loaded:
    """Load every adapter once. A third-party plugin that fails to load (or clashes with a kind
    already registered) is left out and reported by :func:`plugin_problems`, so one broken
    package does not stop every command; a built-in that fails is dicomfab's bug and raises."""
    found: dict[tuple[Role, str], Adapter[Any]] = {}
    problems: list[str] = []
    for where, load, builtin in _references():
        try:
            obj = load()
            new = _adapters_of(obj, where)
        except Exception as exc:
            if builtin:
                raise
            problems.append(f"target plugin {where} failed to load: {type(exc).__name__}: {exc}")
            continue
        for adapter in new:
            key = (adapter.role, adapter.kind)
            if key in found and found[key] is not adapter:
                problems.append(
                    f"target plugin {where}: {adapter.role} kind {adapter.kind!r} is "
                    "registered already (ignored)"
                )
                continue
            found[key] = adapter
    return _Loaded(found, tuple(problems))


def _registry() -> dict[tuple[Role, str], Adapter[Any]]:
    return _loaded().adapters


def plugin_problems() -> tuple[str, ...]:
    """One line per third-party target plugin that could not be used (its kinds are absent)."""
    return _loaded().problems


def adapters(role: Role | None = None) -> list[Adapter[Any]]:
    """Every registered adapter (of ``role``), sorted by kind."""
    return sorted(
        (a for (r, _), a in _registry().items() if role is None or r == role),
        key=lambda a: (a.role, a.kind),
    )


def kinds(role: Role) -> list[str]:
    return [a.kind for a in adapters(role)]


def nearest_kind(role: Role, kind: str) -> str | None:
    near = difflib.get_close_matches(kind, kinds(role), n=1, cutoff=0.5)
    return near[0] if near else None


def adapter(role: Role, kind: str) -> Adapter[Any]:
    """The adapter of ``kind``; unknown kinds cannot reach here (the config union rejects them)."""
    try:
        return _registry()[(role, kind)]
    except KeyError:
        raise DicomfabError(f"no {role} kind {kind!r} (known: {', '.join(kinds(role))})") from None


def adapter_for(role: Role, config: AdapterConfig) -> Adapter[Any]:
    return adapter(role, config.kind)


def config_models(role: Role) -> tuple[type[AdapterConfig], ...]:
    return tuple(a.config for a in adapters(role))


def model_field_names(models: Iterable[type[BaseModel]]) -> set[str]:
    """Every field name of ``models`` and of the models nested in their fields (for "did you
    mean" suggestions)."""
    names: set[str] = set()
    todo = list(models)
    done: set[type[BaseModel]] = set()
    while todo:
        model = todo.pop()
        if model in done:
            continue
        done.add(model)
        for name, info in model.model_fields.items():
            names.add(name)
            todo.extend(_models_in(info.annotation))
    return names


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _models_in(arg)
