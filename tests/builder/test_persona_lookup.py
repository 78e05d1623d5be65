"""``vendors.find`` reads the one persona file it names (a small study does not load all ten)
and answers as the full table does."""

from __future__ import annotations

from dicomfab.builder import vendors


def test_find_reads_one_file_and_matches_the_table() -> None:
    vendors.personas.cache_clear()
    vendors._packaged.cache_clear()
    found = vendors.find(" Hologic-Selenia-Dimensions ")
    assert found is not None and found.manufacturer
    assert vendors._packaged.cache_info().currsize == 1
    assert vendors.personas()["hologic-selenia-dimensions"] is found
    for name, persona in vendors.personas().items():
        assert vendors.find(name.upper()) is persona


def test_unknown_and_odd_names_are_none() -> None:
    for name in ("hologic", "../vendors/hologic-selenia-dimensions", "", "x/y"):
        assert vendors.find(name) is None
