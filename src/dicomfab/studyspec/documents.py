"""The one bounded reader of every document that comes in: spec files, old configs, ``--params``
and ``--sites`` files, ``--set`` values, ``dicomfab.toml`` and the UI's imported text.

A document is refused, with a :class:`~dicomfab.errors.SpecError` naming its source, when it is
larger than :data:`MAX_BYTES` (a file is never read whole to find out), nested deeper than
:data:`MAX_DEPTH` levels, or when its YAML aliases would expand past :data:`MAX_NODES` nodes (a
"billion laughs" of a few hundred bytes). No parser is allowed to recurse into a RecursionError
and no error quotes more than a short piece of the input.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Literal

import yaml

from dicomfab.errors import SHORT, Issue, LimitError, SpecError, shorten_text

Format = Literal["yaml", "json", "toml"]

#: the largest document read, in bytes (a spec of 100,000 instances is well under 1 MiB)
MAX_BYTES = 8 * 1024 * 1024
#: the deepest nesting of mappings and lists (a spec needs about 10)
MAX_DEPTH = 64
#: the most YAML values a document may have once its aliases are expanded (a spec has hundreds)
MAX_NODES = 200_000


def read_document(path: Path, *, fmt: Format | None = None) -> Any:
    """Read a JSON, YAML or TOML file into plain data (``fmt`` by default from the suffix:
    ``.json``, ``.toml``, anything else YAML); raise SpecError naming the file and line."""
    fmt = fmt or format_of(path)
    return parse_document(read_bytes(path, fmt=fmt), fmt=fmt, source=str(path))


def format_of(path: Path) -> Format:
    suffix = path.suffix.lower()
    return "json" if suffix == ".json" else "toml" if suffix == ".toml" else "yaml"


def read_bytes(path: Path, *, limit: int = MAX_BYTES, fmt: Format = "yaml") -> bytes:
    """The bytes of ``path``, refused when over ``limit`` before reading them (a pipe or device
    is read up to ``limit`` + 1 bytes, never further)."""
    source = str(path)
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(path)
            if stat.S_ISREG(info.st_mode) and info.st_size > limit:
                raise _too_large(source, info.st_size, limit)
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise SpecError(Issue("", "no such file (check the path)"), source=source) from None
    except IsADirectoryError:
        hint = "a .toml file" if fmt == "toml" else "a .yaml or .json file"
        what = "a file" if fmt == "toml" else "a spec file"
        raise SpecError(Issue("", f"is a folder, not {what}: name {hint}"), source=source) from None
    except OSError as exc:
        raise SpecError(Issue("", f"cannot read: {exc.strerror or exc}"), source=source) from None
    if len(data) > limit:
        raise LimitError(Issue("", f"is larger than the limit of {_mib(limit)}"), source=source)
    return data


def parse_document(text: str | bytes, *, fmt: Format, source: str, limit: int = MAX_BYTES) -> Any:
    """Parse ``text`` as ``fmt`` into plain data within the size, depth and alias bounds."""
    size = len(text)
    if size <= limit and isinstance(text, str):
        size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise _too_large(source, size, limit)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            what = "a spec is UTF-8 YAML or JSON" if fmt != "toml" else "TOML is UTF-8"
            raise SpecError(Issue("", f"not a text file: {what}"), source=source) from None
    if fmt == "json":
        data = _parse_json(text, source)
    elif fmt == "toml":
        data = _parse_toml(text, source)
    else:
        data = _parse_yaml(text, source)
    if too_deep(data):
        raise _too_deep(source, _deep_position(text) if fmt != "yaml" else None)
    return data


def compose_yaml(text: str, *, source: str) -> yaml.Node | None:
    """The YAML node tree of ``text`` (for line numbers), within the same bounds."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_node()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    finally:
        loader.dispose()


# ── the parsers ───────────────────────────────────────────────────────────────────────────────


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        issue = Issue(f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}")
        raise SpecError(issue, source=source) from None
    except RecursionError:
        raise _too_deep(source, _deep_position(text)) from None


def _parse_toml(text: str, source: str) -> Any:
    import tomllib  # a TOML spec is rare: not loaded for every YAML one

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(Issue("", f"invalid TOML: {exc}"), source=source) from None
    except RecursionError:
        raise _too_deep(source, _deep_position(text)) from None


def _parse_yaml(text: str, source: str) -> Any:
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    except RecursionError:  # not expected: the composer stops at MAX_DEPTH
        raise _too_deep(source, None) from None
    finally:
        loader.dispose()


class _Bounds(yaml.YAMLError):
    """A bound was crossed while composing (turned into a SpecError by ``_yaml_error``)."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


def _base_loader() -> Any:
    """SafeLoader's parts with libyaml's parser when it is installed (its scanner is many times
    faster on long lines), PyYAML's own otherwise; the composer is always PyYAML's, in Python,
    so that it can be bounded."""
    try:
        import yaml.cyaml
    except ImportError:  # PyYAML built without libyaml
        return yaml.SafeLoader
    c_parser: Any = yaml.cyaml.CParser  # type: ignore[attr-defined]
    composer, constructor, resolver = (
        yaml.composer.Composer,
        yaml.constructor.SafeConstructor,
        yaml.resolver.Resolver,
    )

    class Loader(composer, c_parser, constructor, resolver):  # type: ignore[misc, valid-type]
        def __init__(self, stream: str) -> None:
            c_parser.__init__(self, stream)
            composer.__init__(self)
            constructor.__init__(self)
            resolver.__init__(self)

    return Loader


class _BoundedLoader(_base_loader()):  # type: ignore[misc]
    """A safe loader whose composer counts nodes as they would be after expanding aliases,
    limits nesting before PyYAML's recursive composer can hit the recursion limit, and refuses
    an alias to an anchor that is still open (a cycle)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._nodes = 0  # expanded nodes so far
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(anchored node) → its expanded size
        self._open: set[str] = set()  # anchors being composed

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            anchor = event.anchor
            if anchor in self._open:
                raise _Bounds(
                    f"alias *{shorten_text(anchor)} refers to its own anchor (a cycle)",
                    event.start_mark,
                )
            node: yaml.Node | None = super().compose_node(parent, index)
            self._aliases += 1
            self._count(self._sizes.get(id(node), 1), event.start_mark)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Bounds(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open.add(anchor)
        before = self._nodes
        self._count(1, event.start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.discard(anchor)
        if anchor is not None and node is not None:
            self._sizes[id(node)] = self._nodes - before
        return node

    def _count(self, n: int, mark: Any) -> None:
        self._nodes += n
        if self._nodes > MAX_NODES:
            what = "its aliases expand to" if self._aliases else "it has"
            raise _Bounds(f"{what} more than {MAX_NODES:,} values", mark)


def _timestamp(loader: yaml.constructor.SafeConstructor, node: yaml.ScalarNode) -> Any:
    """A YAML timestamp, or its text when it is not a real date (``1990-02-31``): the field
    that holds it then says why, at its path, instead of the constructor's ValueError."""
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError:
        return str(node.value)


_BoundedLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def _yaml_error(exc: yaml.YAMLError, source: str) -> SpecError:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = shorten_text(getattr(exc, "problem", None) or str(exc), 2 * SHORT)
    if isinstance(exc, _Bounds):
        return LimitError(Issue(where, problem), source=source)
    if "maximum nesting depth" in problem:  # libyaml's own bound (1000), in case it comes first
        return _too_deep(source, where)
    return SpecError(Issue(where, f"invalid YAML: {problem}"), source=source)


# ── size and depth ────────────────────────────────────────────────────────────────────────────


def _mib(n: int) -> str:
    mib = n / 2**20
    return f"{mib:.0f} MiB" if mib.is_integer() else f"{mib:.1f} MiB"


def _too_large(source: str, size: int, limit: int) -> LimitError:
    return LimitError(Issue("", f"is {size / 2**20:.1f} MiB; the limit is {_mib(limit)}"), source)


def _too_deep(source: str, where: str | None) -> LimitError:
    return LimitError(Issue(where or "", f"nested more than {MAX_DEPTH} levels deep"), source)


def too_deep(data: Any) -> bool:
    """Whether ``data`` nests lists and mappings deeper than MAX_DEPTH, found without recursion
    (YAML aliases can put a deep anchor inside another; TOML's dotted keys nest without
    brackets; a JSON request body arrives already parsed)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _deep_position(text: str) -> str | None:
    """``line L, column C`` of the first bracket past MAX_DEPTH (strings skipped roughly: only
    called once a document is known to be too deep, to point at the place)."""
    depth = 0
    line, column = 1, 0
    quote: str | None = None
    escaped = False
    for char in text:
        column += 1
        if char == "\n":
            line, column = line + 1, 0
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return f"line {line}, column {column}"
        elif char in "]}":
            depth -= 1
    return None
