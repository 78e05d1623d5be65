"""The plain table of ``dicomfab list``: every word shown, within the width, nothing sent raw."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dicomfab.cli.plain_table import NARROWEST, fit, render

COLUMNS = ("name", "title")


def test_rows_fit_the_width_and_names_stay_whole() -> None:
    rows = [["pr_bits_mismatch", "Prior whose BitsStored differs from its current's " * 3]]
    text = render("1 scenarios", COLUMNS, rows, 60)
    lines = text.splitlines()
    assert lines[:2] == ["1 scenarios", "NAME              TITLE"]
    assert all(len(line) <= 60 for line in lines)
    assert lines[2].startswith("pr_bits_mismatch  Prior whose")
    assert " ".join(" ".join(line[18:].split()) for line in lines[2:]) == " ".join(
        rows[0][1].split()
    )


def test_control_characters_are_shown_not_sent() -> None:
    text = render("1 sites", COLUMNS, [["evil\x1b[2J", "two\nlines"]], 80)
    assert "\x1b" not in text and "\\x1b[2J" in text
    assert "two\\nlines" in text


@given(
    st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=6),
    st.integers(min_value=20, max_value=200),
)
def test_fit_never_widens_and_fits_when_it_can(natural: list[int], room: int) -> None:
    widths = fit(natural, room)
    assert all(w >= NARROWEST or w == n for w, n in zip(widths, natural, strict=True))
    assert all(w <= n for w, n in zip(widths, natural, strict=True))
    gaps = 2 * (len(natural) - 1)
    if NARROWEST * len(natural) + gaps <= room:
        assert sum(widths) + gaps <= room
