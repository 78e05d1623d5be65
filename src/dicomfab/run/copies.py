"""Copies of one SOP Instance UID (a scenario's ``expect.copies``): which one the system holds.

    verdict(rule, mine, numbers, found, held_number) -> CopyVerdict

A system keeps at most one record per SOP Instance UID, so copies sharing one cannot each be
present or absent: the group is decided by the record's InstanceNumber (each copy has its own).
``first`` / ``second`` pass when the record is that copy (in manifest order, the order sent),
``one`` when it is any of them. A record whose InstanceNumber the verifier does not return
cannot be told apart: ``not checked``, never a pass. Pure logic: ``run.checks`` feeds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

KEPT = {"first": 0, "second": 1}  # rule → the copy kept (``one``: any)


@dataclass(frozen=True)
class CopyVerdict:
    """One copy's verdict: its status, why, whether it should be the record and whether it is."""

    status: Literal["pass", "fail", "not checked"]
    reason: str
    want: bool | None  # this copy should be the record (None: ``one``, any copy may)
    present: bool  # the record is this copy


def instance_number(value: object) -> str | None:
    """An InstanceNumber as comparable text (``" 04"`` and ``4`` alike); None when missing."""
    text = str(value).strip() if value is not None else ""
    try:
        return str(int(text))
    except ValueError:
        return text or None


def _nth(index: int) -> str:
    return ("first", "second", "third")[index] if index < 3 else f"#{index + 1}"


def verdict(
    rule: str, mine: int, numbers: Sequence[str | None], found: bool, held_number: str | None
) -> CopyVerdict:
    """The verdict of copy ``mine`` (an index into ``numbers``, the copies' InstanceNumbers in
    manifest order) under ``rule``, when the index has a record for the UID (``found``) with
    InstanceNumber ``held_number`` (None: not returned by the verifier)."""
    kept = KEPT.get(rule)
    want = None if kept is None else kept == mine
    this = f"this copy (the {_nth(mine)} of {len(numbers)}, InstanceNumber {numbers[mine]})"
    if not found:
        if want is None:
            why = f"expected one of the {len(numbers)} copies stored, none found in the index"
        elif want:
            why = f"expected {this} stored, no copy found in the index"
        else:
            why = f"{this} not stored as expected; no copy found in the index"
        return CopyVerdict("pass" if want is False else "fail", why, want, False)
    if held_number is None:
        why = (
            "not checked: the verifier cannot tell the copies apart (it returns no "
            f"InstanceNumber); a record for the UID is in the index ({this})"
        )
        return CopyVerdict("not checked", why, want, True)
    held = numbers.index(held_number) if held_number in numbers else None
    if held == mine:
        if want is False:
            return CopyVerdict(
                "fail", f"expected {this} not stored, the index holds it", want, True
            )
        return CopyVerdict("pass", f"stored as expected: {this}", want, True)
    holds = (
        f"the {_nth(held)} copy (InstanceNumber {held_number})"
        if held is not None
        else f"a record that is none of the copies (InstanceNumber {held_number})"
    )
    if want is False:
        return CopyVerdict(
            "pass", f"{this} not stored as expected; the index holds {holds}", want, False
        )
    if want:
        return CopyVerdict("fail", f"expected {this} stored, the index holds {holds}", want, False)
    if held is None:
        why = f"expected one of the {len(numbers)} copies stored, the index holds {holds}"
        return CopyVerdict("fail", why, want, False)
    return CopyVerdict(
        "pass", f"{this} not stored as expected; the index holds {holds}", want, False
    )
