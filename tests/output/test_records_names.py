"""The companion record's first and last names come from the alphabetic component group of a
PatientName that also holds ideographic and phonetic groups (``Alpha=Ideographic=Phonetic``)."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("name", "last", "first"),
    [
        ("Yamada^Hanako=山田^花子=やまだ^はなこ", "Yamada", "Hanako"),
        ("Wang^XiaoDong=王^小東", "Wang", "XiaoDong"),
        ("Hong^Gildong=洪^吉洞=홍^길동", "Hong", "Gildong"),
    ],
)
def test_record_names_come_from_the_alphabetic_group(
    make_dataset: Any, name: str, last: str, first: str
) -> None:
    spec = {
        "defaults": {"pixels": {"rows": 64, "columns": 64}},
        "patients": [{"name": name, "studies": [{"series": [{"count": 1}]}]}],
    }
    result = make_dataset(spec)
    (record_file,) = (result.path / "jsons").glob("*.json")
    record = json.loads(record_file.read_text(encoding="utf-8"))
    assert (record["last_name"], record["first_name"]) == (last, first)
