"""Every IOD dicomfab can emit, by name. Each IOD module exports ``TEMPLATES``."""

from __future__ import annotations

import difflib
import importlib
from functools import cache

from dicomfab.builder.iods.base import IODTemplate

#: modules under dicomfab.builder.iods that define TEMPLATES, in the order ``names()`` lists them:
#: a new IOD is a module there and its name here (docs/iods.md and the schema follow, see reference)
IMAGE_MODULES = ("mg", "dbt", "bpxr", "dx", "cr", "sc", "sc_multiframe", "mr", "pdf")
# objects that refer to the images above
DERIVED_MODULES = ("mammo_cad_sr", "tid1500_sr", "vendor_ai_sr", "gsps", "kos", "seg", "ai_sc")
MODULES: tuple[str, ...] = IMAGE_MODULES + DERIVED_MODULES
DEFAULT = "mg"  #: the IOD of a spec that names none


@cache
def _all(modules: tuple[str, ...] = MODULES) -> dict[str, IODTemplate]:
    found: dict[str, IODTemplate] = {}
    for module in modules:
        for template in importlib.import_module(f"dicomfab.builder.iods.{module}").TEMPLATES:
            found[template.name] = template
    return found


@cache
def _by_key(modules: tuple[str, ...] = MODULES) -> dict[str, IODTemplate]:
    keys: dict[str, IODTemplate] = {}
    for template in _all(modules).values():
        for key in (template.name, *template.aliases, template.sop_class_uid):
            keys.setdefault(key.lower(), template)  # a SOP Class names its first IOD (sc)
    return keys


def templates() -> list[IODTemplate]:
    return list(_all().values())


def names() -> list[str]:
    return list(_all())


def find(name: str) -> IODTemplate | None:
    """The IOD named ``name`` (its name, an alias, or its SOP Class UID).

    The image IODs are looked in first: they come first in :data:`MODULES`, so the answer is
    the same, and a study of images never loads the derived objects' modules (the SR ones
    import pydicom.sr, whose code tables take longer to load than the rest of the planner)."""
    key = name.strip().lower()
    return _by_key(IMAGE_MODULES).get(key) or _by_key().get(key)


def suggest(name: str) -> str | None:
    hits = difflib.get_close_matches(name.lower(), list(_by_key()), n=1)
    return hits[0] if hits else None
