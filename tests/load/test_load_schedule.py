"""The open-loop schedule of ``dicomfab load`` and its rate syntax."""

from __future__ import annotations

import pytest

from dicomfab.load.schedule import Schedule, parse_rate, studies_for


@pytest.mark.parametrize(
    ("text", "per_minute"),
    [("120/min", 120.0), ("2/s", 120.0), ("600/h", 10.0), ("30", 30.0), ("0.5 / s", 30.0)],
)
def test_rates(text: str, per_minute: float) -> None:
    assert parse_rate(text) == pytest.approx(per_minute)


@pytest.mark.parametrize("text", ["", "fast", "-1/min", "0/s", "3/day", "1/min/s"])
def test_bad_rates(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


def test_due_times_never_depend_on_progress() -> None:
    schedule = Schedule(5, per_minute=120)
    assert [schedule.due(i) for i in range(5)] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert schedule.due_by(-1) == 0
    assert schedule.due_by(0) == 1
    assert schedule.due_by(0.49) == 1
    assert schedule.due_by(0.5) == 2
    assert schedule.due_by(100) == 5  # never more than the studies
    assert schedule.span == 2.0


def test_studies_from_count_or_duration() -> None:
    assert studies_for(10, 60, None) == 10
    assert studies_for(None, 60, 30) == 30
    assert studies_for(10, 60, 30) == 10
    assert studies_for(None, 60, 0.5) == 1
    with pytest.raises(ValueError, match="--studies or --duration"):
        studies_for(None, 60, None)
