"""Property: any valid spec tag value survives write → read (pydicom) intact."""

from __future__ import annotations

import string
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pydicom
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.datadict import DicomDictionary, keyword_for_tag
from pydicom.tag import Tag

from dicomfab import generate, parse_spec

TEXT = string.ascii_letters + string.digits + " .,-_()"
_MAX = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "ST": 1024, "LT": 1024, "UT": 2048, "UC": 256}


def _text(vr: str) -> st.SearchStrategy[str]:
    alphabet = string.ascii_uppercase + string.digits + " _" if vr in ("CS", "AE") else TEXT
    return st.text(alphabet, min_size=1, max_size=_MAX[vr]).map(str.strip).filter(bool)


VALUES: dict[str, st.SearchStrategy[Any]] = {
    **{vr: _text(vr) for vr in _MAX},
    "PN": st.tuples(_text("SH"), _text("SH"))
    .map(lambda p: f"{p[0].replace(' ', '')}^{p[1].replace(' ', '')}")
    .filter(lambda s: len(s) > 2 and "^" in s and not s.startswith("^") and not s.endswith("^")),
    "DA": st.dates(min_value=__import__("datetime").date(1900, 1, 1)).map(lambda d: d.isoformat()),
    "TM": st.times().map(lambda t: t.strftime("%H%M%S")),
    "IS": st.integers(-(2**31), 2**31 - 1),
    "DS": st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 4)),
    "US": st.integers(0, 2**16 - 1),
    "SS": st.integers(-(2**15), 2**15 - 1),
    "UL": st.integers(0, 2**32 - 1),
    "SL": st.integers(-(2**31), 2**31 - 1),
    "FD": st.floats(-1e12, 1e12, allow_nan=False),
    "FL": st.floats(-1e6, 1e6, allow_nan=False, width=32),
}

_SKIP_GROUPS = {0x0000, 0x0002, 0x0028, 0x7FE0, 0xFFFE, 0xFFFA}  # refused or owned by pixels


@cache
def _keywords() -> dict[str, list[str]]:
    """Public, non-retired, single-valued keywords by VR, excluding what the pixel module owns."""
    by_vr: dict[str, list[str]] = {}
    for tag, (vr, vm, _name, retired, keyword) in DicomDictionary.items():
        t = Tag(tag)
        if retired or vm != "1" or not keyword or t.group in _SKIP_GROUPS or vr not in VALUES:
            continue
        if keyword in ("SpecificCharacterSet", "SOPInstanceUID", "SOPClassUID", "Modality"):
            continue
        if t.group >= 0x5000 and t.group < 0x6100:  # repeating groups
            continue
        by_vr.setdefault(vr, []).append(keyword)
    return {vr: sorted(k) for vr, k in by_vr.items()}


@st.composite
def tag_values(draw: st.DrawFn) -> tuple[str, str, Any]:
    vr = draw(st.sampled_from(sorted(_keywords())))
    keyword = draw(st.sampled_from(_keywords()[vr]))
    return keyword, vr, draw(VALUES[vr])


@st.composite
def private_values(draw: st.DrawFn) -> tuple[str, str, Any]:
    group = draw(st.sampled_from([0x0009, 0x0011, 0x0019, 0x0029, 0x0041]))
    creator = draw(
        st.text(string.ascii_uppercase + " ", min_size=3, max_size=20).map(str.strip).filter(bool)
    )
    offset = draw(st.integers(0, 0xFF))
    vr = draw(st.sampled_from(["LO", "US", "FD", "SH", "UL"]))
    return f'({group:04X},"{creator}",{offset:02X})', vr, draw(VALUES[vr])


def _same(vr: str, expected: Any, actual: Any) -> bool:
    if vr == "DA":
        return str(actual) == expected.replace("-", "")
    if vr in ("DS", "FD", "FL"):
        return abs(float(actual) - float(expected)) <= 1e-6 * max(1.0, abs(float(expected)))
    if vr == "IS":
        return int(actual) == expected
    if vr in ("US", "SS", "UL", "SL"):
        return int(actual) == int(expected)
    return str(actual).rstrip(" \x00") == str(expected)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    public=st.lists(tag_values(), min_size=1, max_size=12, unique_by=lambda t: t[0]),
    private=st.lists(private_values(), max_size=4, unique_by=lambda t: t[0]),
)
def test_any_valid_tag_value_round_trips(
    public: list[tuple[str, str, Any]], private: list[tuple[str, str, Any]]
) -> None:
    tags: dict[str, Any] = {k: v for k, _vr, v in public}
    tags.update({k: {"vr": vr, "value": v} for k, vr, v in private})
    spec = {
        "name": "roundtrip",
        "defaults": {"pixels": {"rows": 16, "columns": 16}, "tags": tags},
        "patients": [{"studies": [{"series": [{"count": 1}]}]}],
    }
    with tempfile.TemporaryDirectory() as tmp:
        result = generate(parse_spec(spec), Path(tmp), workers=1)
        (inst,) = result.manifest.instances()
        ds = pydicom.dcmread(result.path / inst.file)
        for keyword, vr, value in public:
            assert _same(vr, value, ds[keyword].value), (keyword, value, ds[keyword].value)
        for key, vr, value in private:
            group = int(key[1:5], 16)
            creator = key.split('"')[1]
            offset = int(key.split(",")[-1].rstrip(")"), 16)
            element = ds.private_block(group, creator)[offset]
            assert vr == element.VR
            assert _same(vr, value, element.value), (key, value, element.value)
    assert keyword_for_tag(0x00100010) == "PatientName"
