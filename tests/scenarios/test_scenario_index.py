"""The scenario index (``scenarios/library/_index.json``) that ``dicomfab list`` reads is the
library's own cards, is rebuilt when it is stale rather than trusted, and filters as the library
does. ``UPDATE_DOCS=1 pytest tests/scenarios/test_scenario_index.py`` rewrites it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomfab import scenario_index
from dicomfab.errors import SpecError
from dicomfab.scenarios import scenarios
from dicomfab.scenarios.selection import check_filters, matches, scenario_row


@pytest.fixture
def fresh() -> Iterator[None]:
    scenario_index.load.cache_clear()
    yield
    scenario_index.load.cache_clear()


def test_the_stored_index_is_current(fresh: None) -> None:
    built = scenario_index.render(scenario_index.build())
    if os.environ.get("UPDATE_DOCS"):
        scenario_index.INDEX.write_text(built, encoding="utf-8")
    assert scenario_index.INDEX.read_text(encoding="utf-8") == built, (
        "the scenario library changed: run python -m dicomfab.scenario_index "
        "(or UPDATE_DOCS=1 pytest tests/scenarios/test_scenario_index.py)"
    )
    assert json.loads(built)["digest"] == scenario_index.digest()


def test_cards_are_the_library_rows(fresh: None) -> None:
    cards = scenario_index.cards()
    assert [scenario_index.row(c) for c in cards] == [scenario_row(s) for s in scenarios().values()]


def test_a_stale_index_is_not_used(
    fresh: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = json.loads(scenario_index.INDEX.read_text(encoding="utf-8"))
    stale = {**stored, "digest": "0" * 64, "scenarios": stored["scenarios"][:1]}
    path = tmp_path / "_index.json"
    path.write_text(json.dumps(stale), encoding="utf-8")
    monkeypatch.setattr(scenario_index, "INDEX", path)
    assert len(scenario_index.cards()) == len(scenarios()) > 1


def test_a_missing_index_is_built(
    fresh: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scenario_index, "INDEX", tmp_path / "absent.json")
    assert [c["name"] for c in scenario_index.cards()] == list(scenarios())


def test_the_digest_sees_a_changed_scenario(
    fresh: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = scenario_index.digest()
    library = tmp_path / "scenarios" / "library"
    library.mkdir(parents=True)
    for path in sorted(scenario_index.LIBRARY.glob("*.yaml"))[:3]:
        (library / path.name).write_bytes(path.read_bytes())
    for name in scenario_index.SOURCES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((scenario_index.HERE / name).read_bytes())
    monkeypatch.setattr(scenario_index, "HERE", tmp_path)
    monkeypatch.setattr(scenario_index, "LIBRARY", library)
    copied = scenario_index.digest()
    assert copied != before  # fewer files
    first = sorted(library.glob("*.yaml"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert scenario_index.digest() != copied


@pytest.mark.parametrize(
    ("tags", "category", "search"),
    [
        ((), None, None),
        (("prior",), None, "bits"),
        ((), "file-format", None),
        (("prior", "pixel"), "pixel-encoding", "HIGHBIT impossible"),
        ((), None, "external_pid_mismatch"),  # an alias is searched too
    ],
)
def test_filters_match_the_library(
    fresh: None, tags: tuple[str, ...], category: str | None, search: str | None
) -> None:
    by_index = [
        c["name"]
        for c in scenario_index.cards()
        if scenario_index.matches(c, tags, category, search)
    ]
    by_library = [n for n, s in scenarios().items() if matches(s, tags, category, search)]
    assert by_index == by_library
    assert by_index or not (tags or category or search)


@pytest.mark.parametrize(("tags", "category"), [(("priro",), None), ((), "file_format")])
def test_filter_typos_are_the_same_error(
    fresh: None, tags: tuple[str, ...], category: str | None
) -> None:
    with pytest.raises(SpecError) as by_index:
        scenario_index.check_filters(tags, category)
    with pytest.raises(SpecError) as by_library:
        check_filters(tags, category)
    assert str(by_index.value) == str(by_library.value)
    assert "prior" in str(by_index.value) or "file-format" in str(by_index.value)
