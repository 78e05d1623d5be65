"""Scenario parameters: where their values go in the spec, and errors that name them."""

from __future__ import annotations

from dicomfab.errors import Issue
from dicomfab.scenarios import params


def test_render_records_where_each_parameter_went() -> None:
    template = {
        "patients": [
            {"name": "${gone}", "id": "${pid}", "tags": {"InstitutionName": "at ${site}"}},
        ],
        "list": ["${gone}", "${pid}"],
    }
    placed: params.Placements = {}
    out = params.render(template, {"gone": None, "pid": "P1", "site": "X"}, placed)
    assert out == {"patients": [{"id": "P1", "tags": {"InstitutionName": "at X"}}], "list": ["P1"]}
    assert placed == {
        "patients[0].id": ("pid",),
        "patients[0].tags.InstitutionName": ("site",),
        "list[0]": ("pid",),  # the index in the rendered list, after the dropped item
    }


def test_blame_names_the_parameter_and_keeps_the_spec_path() -> None:
    placed = {"patients[0].name": ("patient.name",), "defaults.tags.Rows": ("rows",)}
    issues = [
        Issue("patients[0].name", "too long"),
        Issue("defaults.tags.Rows[0].X", "bad item"),
        Issue("patients[0].names", "not placed: a longer key"),
        Issue("patients[0].id", "not placed"),
    ]
    assert params.blame(issues, placed, {"patient.name": "x"}) == [
        Issue("--set patient.name", "too long (at patients[0].name)"),
        Issue("parameter rows", "bad item (at defaults.tags.Rows[0].X)"),
        Issue("patients[0].names", "not placed: a longer key"),
        Issue("patients[0].id", "not placed"),
    ]
