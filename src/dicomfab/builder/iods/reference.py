"""The registry's IODs written out for people: the IOD part of docs/iods.md and the spec's ``iod``
field description (the JSON schema's). Both are made from the templates and their modules'
docstrings (the PS3.3 module tables), so that a new IOD documents itself once registered.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

from dicomfab.builder.iods import registry
from dicomfab.builder.iods.base import IODTemplate


def iod_field_description() -> str:
    """The spec's ``iod`` field: every IOD name with its aliases, and the default."""
    named = [
        f"{t.name} (or {', '.join(t.aliases)})" if t.aliases else t.name
        for t in registry.templates()
    ]
    return (
        f"IOD to build: {'; '.join(named)}; or an IOD's SOP Class UID. "
        f"Default {registry.DEFAULT} (`dicomfab list iods`)"
    )


def docs_blocks() -> dict[str, str]:
    """The generated parts of docs/iods.md by name: the IOD tables, and each IOD module's
    PS3.3 module table (its docstring)."""
    return {"iod-tables": _tables(), "iod-modules": _module_tables()}


def fill_blocks(text: str, blocks: dict[str, str]) -> str:
    """``text`` with what stands between each block's BEGIN and END comments replaced by the
    block; a block whose comments ``text`` lacks is an error (the page would silently lack it)."""
    for name, body in blocks.items():
        begin = f"<!-- BEGIN generated: {name} (UPDATE_DOCS=1 pytest tests/test_public_api.py) -->"
        end = f"<!-- END generated: {name} -->"
        head, found, rest = text.partition(begin)
        _, found_end, tail = rest.partition(end)
        if not (found and found_end):
            raise ValueError(f"no {begin} … {end} in the text")
        text = f"{head}{begin}\n\n{body.strip()}\n\n{end}{tail}"
    return text


def _tables() -> str:
    templates = registry.templates()
    lines = [
        "| `iod` (aliases) | SOP Class | Modality | default pixels | notes |",
        "|---|---|---|---|---|",
        *(_overview_row(t) for t in templates),
        "",
        f"The default is `{registry.DEFAULT}`; `iod` also takes a SOP Class UID. What each IOD "
        "takes (refused at `validate` unless `permissive: true`):",
        "",
        "| `iod` | views | frames | bits stored | bits allocated | photometric "
        "| Modality (as a tag) | transfer syntaxes |",
        "|---|---|---|---|---|---|---|---|",
        *(_limits_row(t) for t in templates),
    ]
    return "\n".join(lines)


def _module_tables() -> str:
    lines: list[str] = []
    for module, members in _by_module(registry.templates()).items():
        title, _, table = inspect.cleandoc(module.__doc__ or "").partition("\n")
        names = ", ".join(f"`{t.name}`" for t in members)
        path = f"src/dicomfab/builder/iods/{module.__name__.rsplit('.', 1)[-1]}.py"
        lines += [f"### {names}", "", f"{title} Built by `{path}`:", ""]
        lines += ["```text", table.strip("\n"), "```", ""]
    return "\n".join(lines)


def _overview_row(t: IODTemplate) -> str:
    aliases = f" ({', '.join(f'`{a}`' for a in t.aliases)})" if t.aliases else ""
    modality = f"{t.modality} (MG with views)" if t.breast_views else t.modality
    return (
        f"| `{t.name}`{aliases} | {t.title}, {t.sop_class_uid} | {modality} "
        f"| {_default_pixels(t)} | {t.summary} |"
    )


def _default_pixels(t: IODTemplate) -> str:
    p = t.pixels
    if p is None:  # a SEG encodes its own (its mask), others have none
        return "its own (a mask)" if t.compressed_syntaxes else "no pixels"
    size = f"{p.rows} × {p.columns}" if p.rows and p.columns else "its reference's size"
    if (p.frames or 1) > 1:
        size += f" × {p.frames} frames"
    bits = (
        f"{p.bits_stored} of {p.bits_allocated} bits"
        if p.bits_allocated
        else f"{p.bits_stored} bits"
    )
    views = f", {len(t.default_views)} views" if t.breast and t.default_views else ""
    return f"{size}, {bits}{views}"


def _limits_row(t: IODTemplate) -> str:
    if t.breast:
        views = f"one image per view (default {', '.join(t.default_views)})"
    elif t.breast_views:
        views = "optional (a breast image then)"
    else:
        views = "none"
    low, high = t.allowed_bits_stored
    cells = [
        f"`{t.name}`",
        views,
        "—" if t.pixels is None else "many" if t.multiframe else "one",
        "—" if t.pixels is None else f"{low}–{high}",
        "—" if t.pixels is None else ", ".join(str(b) for b in t.bits_allocated),
        "—" if t.pixels is None else ", ".join(t.photometrics),
        ", ".join(t.modalities) if t.modalities else "any",
        "uncompressed only"
        if t.native_only
        else f"uncompressed, {', '.join(t.compressed_syntaxes)}"
        if t.compressed_syntaxes
        else "any (codec limits below)",
    ]
    return f"| {' | '.join(cells)} |"


def _by_module(templates: list[IODTemplate]) -> dict[ModuleType, list[IODTemplate]]:
    """The templates grouped by the module that defines them, in registry order."""
    found: dict[ModuleType, list[IODTemplate]] = {}
    for template in templates:
        found.setdefault(importlib.import_module(template.build.__module__), []).append(template)
    return found
