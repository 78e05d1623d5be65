"""Dates in a spec: absolute (``2024-03-01``) or relative to the patient's current study (``-2y``,
``-18m``, ``-1y6m``, ``-10d``, ``-3w``, ``+1d``, ``current``)."""

from __future__ import annotations

import calendar
import datetime as dt
import re

from dicomfab.errors import shorten

_RELATIVE = re.compile(r"^([+-])((?:\d+[ymwd])+)$")
_PART = re.compile(r"(\d+)([ymwd])")


def is_relative(text: str) -> bool:
    text = text.strip().lower()
    return text == "current" or _RELATIVE.match(text) is not None


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def resolve_relative(text: str, anchor: dt.date) -> dt.date | None:
    """The date ``text`` names relative to ``anchor``; None if ``text`` is not a relative date."""
    text = text.strip().lower()
    if text == "current":
        return anchor
    m = _RELATIVE.match(text)
    if not m:
        return None
    sign = -1 if m[1] == "-" else 1
    months = days = 0
    for amount, unit in _PART.findall(m[2]):
        n = int(amount)
        if unit == "y":
            months += 12 * n
        elif unit == "m":
            months += n
        elif unit == "w":
            days += 7 * n
        else:
            days += n
    return add_months(anchor, sign * months) + dt.timedelta(days=sign * days)


def parse_date(value: str | dt.date, anchor: dt.date | None) -> dt.date:
    """Parse an absolute or relative date; raise ValueError with a hint."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if anchor is not None:
        resolved = resolve_relative(text, anchor)
        if resolved is not None:
            return resolved
    elif is_relative(text):
        raise ValueError(
            f"{shorten(text)} is relative, but there is no current study date to count from"
        )
    for form in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text, form).date()
        except ValueError:
            continue
    raise ValueError(
        f"{shorten(text)} is not a date: "
        "use YYYY-MM-DD, YYYYMMDD or relative like -2y, -18m, -1y6m, -10d"
    )


_TIME = re.compile(r"^(\d{2})(?:(\d{2})(?:(\d{2})(?:\.\d{1,6})?)?)?$")


def time_problem(text: str) -> str | None:
    """Why ``text`` (colons already removed) is not a DICOM time (TM: HH, HHMM, HHMMSS or
    HHMMSS.FFFFFF with hours 00–23, minutes 00–59, seconds 00–60); None when it is one."""
    m = _TIME.match(text)
    if m is None:
        return "not a time: use HH:MM:SS (or HHMMSS)"
    hours, minutes, seconds = (int(g) if g is not None else 0 for g in m.groups())
    if hours > 23:
        return f"hour {hours:02d} is out of range (00–23)"
    if minutes > 59:
        return f"minute {minutes:02d} is out of range (00–59)"
    if seconds > 60:
        return f"second {seconds:02d} is out of range (00–60)"
    return None
