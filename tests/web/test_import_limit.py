"""The wizard refuses, before sending it, a file the server's bounded reader would refuse: both
sides must use the same limit."""

from __future__ import annotations

import re
from pathlib import Path

from dicomfab.studyspec.documents import MAX_BYTES

API_TS = Path(__file__).resolve().parents[2] / "web" / "src" / "api.ts"


def test_the_front_end_import_limit_is_the_readers() -> None:
    found = re.search(r"export const MAX_IMPORT = ([\d *]+);", API_TS.read_text(encoding="utf-8"))
    assert found is not None, "MAX_IMPORT is gone from web/src/api.ts"
    factors = [int(f) for f in found.group(1).split("*")]
    value = 1
    for factor in factors:
        value *= factor
    assert value == MAX_BYTES
