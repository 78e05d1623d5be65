"""A precomputed index of the scenario library, so that ``dicomfab list`` (and shell completion)
need not parse 200 YAML files and validate them with pydantic: every scenario's card (what
:func:`~dicomfab.scenarios.selection.scenario_row` gives), its search text, every tag and
category, in ``scenarios/library/_index.json``.

The index records a digest of what it was built from (the library's YAML files and the modules
that shape a card); it is used only while that digest still matches, else the library is loaded
as before (slower, never stale). Rebuild it after editing a scenario::

    python -m dicomfab.scenario_index        (or UPDATE_DOCS=1 pytest tests/scenarios)

This module imports only the standard library (it lives outside :mod:`dicomfab.scenarios`,
whose package import loads the whole scenario stack): the models load only to rebuild.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from dicomfab.errors import Issue, SpecError

HERE = Path(__file__).parent
LIBRARY = HERE / "scenarios" / "library"
INDEX = LIBRARY / "_index.json"
#: the modules a card depends on besides the YAML: a change to one of them invalidates the index
SOURCES = ("scenarios/model.py", "scenarios/selection.py", "scenario_index.py")

Card = dict[str, Any]


def digest() -> str:
    """SHA-256 over every library YAML file (name and bytes) and the :data:`SOURCES`."""
    sha = hashlib.sha256()
    files = sorted(LIBRARY.rglob("*.yaml")) + [HERE / name for name in SOURCES]
    for path in files:
        sha.update(path.relative_to(HERE).as_posix().encode() + b"\0")
        sha.update(path.read_bytes() + b"\0")
    return sha.hexdigest()


def build() -> dict[str, Any]:
    """The index, from the library itself (loads and validates every scenario)."""
    from typing import get_args

    from dicomfab.scenarios.library import scenarios
    from dicomfab.scenarios.model import Category
    from dicomfab.scenarios.selection import scenario_row, search_text

    library = scenarios()
    return {
        "digest": digest(),
        "categories": sorted(get_args(Category)),
        "tags": sorted({t for s in library.values() for t in s.tags}),
        "scenarios": [{**scenario_row(s), "text": search_text(s)} for s in library.values()],
    }


def render(index: dict[str, Any]) -> str:
    return json.dumps(index, indent=1, ensure_ascii=False) + "\n"


def write() -> Path:
    """Rebuild ``scenarios/library/_index.json``."""
    INDEX.write_text(render(build()), encoding="utf-8")
    return INDEX


@cache
def load() -> dict[str, Any]:
    """The index: the stored one while it is current, else one built from the library."""
    try:
        stored: dict[str, Any] = json.loads(INDEX.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = {}
    if stored.get("digest") == digest():
        return stored
    return build()


def cards() -> list[Card]:
    """Every scenario's card (a ``scenario_row`` plus ``text``, its search text), name order."""
    return list(load()["scenarios"])


def row(card: Card) -> dict[str, object]:
    """The card as ``scenario_row`` gives it (without the search text)."""
    return {k: v for k, v in card.items() if k != "text"}


def check_filters(
    tags: Sequence[str],
    category: str | None,
    known_tags: Sequence[str] | None = None,
    known_categories: Sequence[str] | None = None,
) -> None:
    """``--tag`` and ``--category`` must name a tag or category some scenario has: a typo is an
    error with the nearest name, never an empty or silently widened selection."""
    index = load() if known_tags is None or known_categories is None else {}
    known_tags = list(known_tags if known_tags is not None else index["tags"])
    known = list(known_categories if known_categories is not None else index["categories"])
    for tag in tags:
        if tag not in known_tags:
            near = _near(tag, known_tags)
            raise SpecError(Issue(f"--tag {tag}", "no scenario has this tag", near))
    if category is not None and category not in known:
        raise SpecError(
            Issue(
                f"--category {category}",
                f"unknown category (known: {', '.join(known)})",
                _near(category, known),
            )
        )


def _near(word: str, known: Sequence[str]) -> str | None:
    near = difflib.get_close_matches(word, list(known), n=1)
    return near[0] if near else None


def selected(
    card_tags: Sequence[str],
    card_category: str,
    text: str,
    tags: Sequence[str],
    category: str | None,
    search: str | None,
) -> bool:
    """Whether a scenario (its tags, category and search text) passes the list filters."""
    if tags and not set(tags) <= set(card_tags):
        return False
    if category and card_category != category:
        return False
    if search:
        return all(word in text for word in search.lower().split())
    return True


def matches(card: Card, tags: Sequence[str], category: str | None, search: str | None) -> bool:
    return selected(card["tags"], card["category"], card["text"], tags, category, search)


if __name__ == "__main__":
    print(f"wrote {write()}")
