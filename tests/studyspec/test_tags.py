from __future__ import annotations

import datetime as dt

import pytest

from dicomfab.errors import SpecError
from dicomfab.studyspec.dates import parse_date
from dicomfab.studyspec.tags import (
    ValueContext,
    binary_length_problem,
    coerce_value,
    parse_tag_key,
    suggest_keyword,
    text_problem,
)

CTX = ValueContext(lambda text: None)


@pytest.mark.parametrize(
    ("key", "group", "element", "vr"),
    [
        ("PatientName", 0x0010, 0x0010, "PN"),
        ("(0010,0020)", 0x0010, 0x0020, "LO"),
        ("00080060", 0x0008, 0x0060, "CS"),
        ('(0029,"SIEMENS CSA HEADER",08)', 0x0029, 0x08, "CS"),
    ],
)
def test_tag_keys(key: str, group: int, element: int, vr: str) -> None:
    ref = parse_tag_key(key)
    assert (ref.group, ref.element, ref.vr) == (group, element, vr)


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("PatientNmae", "PatientName"),
        ("(0029,1010)", '(0029,"MY CREATOR",10)'),
        ("Private_0029_1010", "without a Private Creator"),
        ('(0010,"X",10)', "odd group"),
        ("MoveDestination", "DIMSE command element"),
        ("TransferSyntaxUID", "set transfer_syntax instead"),
        ("(0008,0000)", "group length"),
    ],
)
def test_bad_tag_keys_explain_themselves(key: str, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_tag_key(key)
    assert fragment in str(info.value)


def test_keyword_suggestion_is_the_nearest() -> None:
    assert suggest_keyword("StudyInstanceUid") == "StudyInstanceUID"
    assert suggest_keyword("Modalty") == "Modality"


def test_values_are_coerced_per_vr() -> None:
    ctx = ValueContext(lambda text: dt.date(2024, 1, 1) if text == "-1y" else None)
    assert coerce_value(parse_tag_key("StudyDate"), "2023-02-03", ctx).value == "20230203"
    assert coerce_value(parse_tag_key("StudyDate"), "-1y", ctx).value == "20240101"
    assert coerce_value(parse_tag_key("StudyTime"), "10:11:12", ctx).value == "101112"
    assert coerce_value(parse_tag_key("SeriesNumber"), 3, ctx).value == "3"
    assert coerce_value(parse_tag_key("ImageType"), "ORIGINAL\\PRIMARY", ctx).value == [
        "ORIGINAL",
        "PRIMARY",
    ]
    person = {"family": "Doe", "given": "Jane"}
    assert coerce_value(parse_tag_key("PatientName"), person, ctx).value == "Doe^Jane"
    explicit = coerce_value(parse_tag_key('(0009,"ACME 1",01)'), {"vr": "US", "value": 7}, ctx)
    assert (explicit.vr, explicit.value) == ("US", 7)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("StudyDate", "2024-13-45"),
        ("InstitutionName", "x" * 70),
        ("Rows", 70000),
        ("SeriesNumber", 1.5),
        ('(0009,"ACME 1",01)', "needs a VR"),
    ],
)
def test_invalid_values_are_refused(key: str, value: object) -> None:
    with pytest.raises(ValueError):
        coerce_value(parse_tag_key(key), value, CTX)


def test_permissive_writes_invalid_values_as_given() -> None:
    ctx = ValueContext(lambda text: None, permissive=True)
    assert coerce_value(parse_tag_key("InstitutionName"), "x" * 70, ctx).value == "x" * 70
    assert coerce_value(parse_tag_key("StudyDate"), "2024-13-45", ctx).value == "2024-13-45"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-2y", dt.date(2022, 3, 31)),
        ("-18m", dt.date(2022, 9, 30)),
        ("-1y6m", dt.date(2022, 9, 30)),
        ("-10d", dt.date(2024, 3, 21)),
        ("-3w", dt.date(2024, 3, 10)),
        ("+1d", dt.date(2024, 4, 1)),
        ("current", dt.date(2024, 3, 31)),
        ("2020-02-29", dt.date(2020, 2, 29)),
    ],
)
def test_relative_dates(text: str, expected: dt.date) -> None:
    assert parse_date(text, dt.date(2024, 3, 31)) == expected


def test_bad_relative_date_says_how_to_write_one() -> None:
    with pytest.raises(ValueError, match="relative like -2y"):
        parse_date("-2q", dt.date(2024, 1, 1))


@pytest.mark.parametrize(
    ("vr", "value", "fragment"),
    [
        ("IS", "2147483648", "out of range for IS"),
        ("IS", "-2147483649", "out of range for IS"),
        ("PN", "A=B=C=D", "at most 3 component groups"),
        ("PN", "A^B^C^D^E^F", "at most 5 components"),
        ("PN", "Doe^Jane=" + "X" * 65, "component group holds at most 64 characters, not 65"),
        ("LO", "a\x00b", "control character"),
        ("UC", "a\rb", "control character"),
        ("ST", "a\x0bb", "control character"),
        ("SH", "x" * 17, "maximum length of 16"),
        ("CS", "lower", "Invalid value for VR CS"),
    ],
)
def test_text_rules_of_each_vr(vr: str, value: str, fragment: str) -> None:
    problem = text_problem(vr, value)
    assert problem is not None and fragment in problem


@pytest.mark.parametrize(
    ("vr", "value"),
    [
        ("IS", "2147483647"),
        ("IS", " -2147483648"),
        ("PN", "Yamada^Hanako=山田^花子=やまだ^はなこ"),
        ("PN", "A^B^C^D^E"),
        ("LO", "ESC \x1b$B is allowed"),
        ("LT", "tab\tline\r\nfeed\x0c"),
        ("SH", ""),
    ],
)
def test_text_rules_accept_valid_values(vr: str, value: str) -> None:
    assert text_problem(vr, value) is None


@pytest.mark.parametrize(
    ("vr", "length", "valid"),
    [
        ("OB", 3, True),
        ("UN", 3, False),
        ("UN", 4, True),
        ("OW", 3, False),
        ("OF", 8, True),
        ("OL", 6, False),
        ("OD", 12, False),
        ("OV", 16, True),
        ("OV", 4, False),
    ],
)
def test_binary_lengths_are_a_multiple_of_the_vr_unit(vr: str, length: int, valid: bool) -> None:
    assert (binary_length_problem(vr, length) is None) is valid
