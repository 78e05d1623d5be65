"""The IOD registry is the one list of IODs: every IOD module is registered, and the spec's JSON
schema and docs/iods.md are written from it (so a new IOD is a module and one line)."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

from dicomfab.builder.iods import registry
from dicomfab.builder.iods.reference import docs_blocks, fill_blocks
from dicomfab.builder.schema import spec_schema


def test_every_iod_module_is_registered() -> None:
    """A module under builder/iods that defines TEMPLATES is in MODULES (else its IODs would be
    silently unknown); the others (base, breast, registry, …) define none."""
    package = importlib.import_module("dicomfab.builder.iods")
    with_templates = {
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if hasattr(importlib.import_module(f"dicomfab.builder.iods.{info.name}"), "TEMPLATES")
    }
    assert with_templates == set(registry.MODULES)


def test_find_answers_as_the_whole_registry() -> None:
    """``find`` looks in the image IODs first (so an MG study never loads the SR modules): for
    every name, alias and SOP Class UID the answer is the one the full table gives."""
    full = registry._by_key()
    assert len(full) > len(registry._by_key(registry.IMAGE_MODULES))
    for key, template in full.items():
        assert registry.find(f" {key.upper()} ") is template, key
    assert registry.find("no-such-iod") is None


def test_schema_iod_field_names_every_iod_and_alias() -> None:
    iod = spec_schema()["$defs"]["Settings"]["properties"]["iod"]
    assert iod["examples"] == registry.names()
    for template in registry.templates():
        for name in (template.name, *template.aliases):
            assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", iod["description"]), name
    assert f"Default {registry.DEFAULT}" in iod["description"]


def test_docs_blocks_cover_every_iod() -> None:
    blocks = docs_blocks()
    headings = "".join(line for line in blocks["iod-modules"].splitlines() if line[:4] == "### ")
    for template in registry.templates():
        assert f"| `{template.name}` (" in blocks["iod-tables"]  # the overview, with aliases
        assert f"| `{template.name}` | " in blocks["iod-tables"]  # what it takes
        assert template.sop_class_uid in blocks["iod-tables"]
        assert f"`{template.name}`" in headings
    # each module's PS3.3 module table, from its docstring
    assert blocks["iod-modules"].count("Module table (M = mandatory") == len(registry.MODULES)
    assert "Breast View M" in blocks["iod-modules"]


def test_fill_blocks_rewrites_between_the_comments_and_refuses_a_missing_block() -> None:
    begin = "<!-- BEGIN generated: t (UPDATE_DOCS=1 pytest tests/test_public_api.py) -->"
    page = f"# Title\n\n{begin}\nold\n<!-- END generated: t -->\n\nprose\n"
    assert fill_blocks(page, {"t": "new\n"}) == (
        f"# Title\n\n{begin}\n\nnew\n\n<!-- END generated: t -->\n\nprose\n"
    )
    with pytest.raises(ValueError, match="generated: other"):
        fill_blocks(page, {"other": "x"})
