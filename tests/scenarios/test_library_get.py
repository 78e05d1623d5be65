"""``get`` reads one scenario file when the name is a file's (a small ``generate`` no longer
loads all 200), and answers as the whole library does for aliases, typos and odd names."""

from __future__ import annotations

import pytest

from dicomfab.errors import SpecError
from dicomfab.scenarios import library


def test_a_name_loads_only_its_file() -> None:
    library.scenarios.cache_clear()
    library._load.cache_clear()
    scenario = library.get("pr_bits_mismatch")
    assert scenario.name == "pr_bits_mismatch"
    assert library._load.cache_info().currsize == 1  # not the whole library
    assert library.scenarios()["pr_bits_mismatch"] is scenario  # one object either way


def test_an_alias_still_names_its_scenario() -> None:
    assert library.get("external_pid_mismatch").name == "external_prior_other_pid_issuer"


@pytest.mark.parametrize(
    "name", ["pr_bits_mismatc", "PR_BITS_MISMATCH", "../library/pr_bits_mismatch"]
)
def test_other_names_are_refused_with_a_hint(name: str) -> None:
    with pytest.raises(SpecError, match="unknown scenario") as caught:
        library.get(name)
    if name == "pr_bits_mismatc":
        assert "did you mean pr_bits_mismatch" in str(caught.value)
