"""Bad input on the command line: exit code 2, one clear message on stderr that names the file,
the path of the bad field and a way out, no traceback, and nothing written.

A few tests run ``python -m dicomfab`` in a subprocess (the real entry point); the many variations
call ``dicomfab.cli.main`` in-process, where any uncaught exception or warning fails the test."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydicom
import pytest
import yaml
from pydicom import config as pydicom_config

SMALL = {"pixels": {"rows": 64, "columns": 48}}


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dicomfab", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


Run = Callable[..., subprocess.CompletedProcess[str]]


def write_spec(folder: Path, spec: Any, name: str = "study.yaml") -> Path:
    path = folder / name
    if name.endswith(".json"):
        path.write_text(json.dumps(spec))
    else:
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def assert_rejected(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 2, a one-line ``error:`` on stderr holding every fragment, no traceback."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def assert_nothing_written(folder: Path) -> None:
    out = folder / "out"
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


def two_studies(series_tags: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "bad",
        "defaults": SMALL,
        "patients": [
            {"studies": [{"role": "current"}, {"role": "prior", "series": [{"tags": series_tags}]}]}
        ],
    }


def test_unknown_keyword_names_path_and_suggests(tmp_path: Path) -> None:
    write_spec(tmp_path, two_studies({"PatientNmae": "Doe^Jane"}))
    proc = run("generate", "-o", "out", "-c", "study.yaml", cwd=tmp_path)
    line = assert_rejected(proc)
    assert line == (
        "error: study.yaml: patients[0].studies[1].series[0].tags.PatientNmae: "
        "unknown DICOM keyword (did you mean PatientName?)"
    )
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize(
    ("tags", "fragments"),
    [
        (
            {"StudyDate": "2024-13-45"},
            ["tags.StudyDate", "'2024-13-45' is not a date", "YYYY-MM-DD"],
        ),
        (
            {"SeriesDescription": "x" * 70},
            ["tags.SeriesDescription", "exceeds the maximum length of 64"],
        ),
        (
            {"LargestImagePixelValue": 70000},
            ["tags.LargestImagePixelValue", "out of range for US (0..65535)"],
        ),
        ({"WindowCenter": "abc"}, ["tags.WindowCenter", "Invalid value for VR DS"]),
        ({"Rows": 0}, ["tags.Rows", "greater than or equal to 1"]),
        ({"HighBit": 14}, ["tags.HighBit", "permissive: true"]),
        ({"Private_0029_1010": "x"}, ["without a Private Creator", '(0029,"MY CREATOR",10)']),
        ({"(0029,1010)": "x"}, ["private element", '(0029,"MY CREATOR",10)']),
    ],
)
def test_value_invalid_for_its_vr(
    tmp_path: Path, cli: Run, tags: dict[str, Any], fragments: list[str]
) -> None:
    write_spec(tmp_path, two_studies(tags))
    proc = cli("generate", "-o", "out", "-c", "study.yaml")
    assert_rejected(proc, "study.yaml: patients[0].studies[1].series[0]", *fragments)
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ({"seed": "abc"}, ["study.yaml: seed: ", "valid integer", "(got 'abc')"]),
        (
            {"patients": [{"studies": [{"series": [{"count": -1}]}]}]},
            ["patients[0].studies[0].series[0].count: ", "greater than or equal to 0", "(got -1)"],
        ),
        ({"patinets": []}, ["study.yaml: patinets: unknown field (did you mean patients?)"]),
        (
            {"patients": [{"studies": [{"decription": "x"}]}]},
            ["patients[0].studies[0].decription: unknown field (did you mean description?)"],
        ),
        ({"patients": [{"sex": "X"}]}, ["patients[0].sex: ", "'F', 'M', 'O' or ''", "(got 'X')"]),
        (
            {"patients": [{"studies": [{"date": "-2q"}]}]},
            ["patients[0].studies[0].date: '-2q' is not a date", "relative like -2y"],
        ),
        (
            {"patients": [{"studies": [{"date": 5}]}]},
            ["patients[0].studies[0].date: not a date", "(got 5)"],
        ),
        (
            {"defaults": {"transfer_syntax": "jpeg2001"}},
            [
                "study.yaml: defaults.transfer_syntax: unknown transfer syntax 'jpeg2001'",
                "did you mean jpeg2000?",
            ],
        ),
        ({"defaults": {"iod": "mgg"}}, ["defaults.iod: unknown IOD 'mgg'", "did you mean mg?"]),
        (
            {"patients": [{"studies": [{"series": [{"views": ["RCX"]}]}]}]},
            ["patients[0].studies[0].series[0].views: unknown view 'RCX'", "did you mean RCC?"],
        ),
        ({"name": "a b"}, ["study.yaml: name: ", "(got 'a b')"]),
        ([1, 2], ["study.yaml: a spec is a mapping"]),
    ],
)
def test_wrong_types_and_unknown_fields(
    tmp_path: Path, cli: Run, spec: Any, fragments: list[str]
) -> None:
    write_spec(tmp_path, spec)
    proc = cli("generate", "-o", "out", "-c", "study.yaml")
    assert_rejected(proc, *fragments)
    assert_nothing_written(tmp_path)


def test_every_problem_is_listed_once(tmp_path: Path, cli: Run) -> None:
    spec = {"defaults": {**SMALL, "transfer_syntax": "jpeg2001", "tags": {"PatientNmae": "X"}}}
    write_spec(tmp_path, spec)
    proc = cli("generate", "-o", "out", "-c", "study.yaml")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        "error: study.yaml: 2 problems:",
        "  - defaults.tags.PatientNmae: unknown DICOM keyword (did you mean PatientName?)",
        "  - defaults.transfer_syntax: unknown transfer syntax 'jpeg2001' (known: explicit-le, "
        "implicit-le, explicit-be, deflated, rle, jpeg-ls-lossless, jpeg2000-lossless, jpeg2000, "
        "jpeg-baseline, jpeg-extended, jpeg-lossless-sv1, jpeg-lossless, jpeg-ls-near-lossless, "
        "htj2k-lossless, htj2k-rpcl-lossless, htj2k); "
        "did you mean jpeg2000?",
    ]


def test_old_config_errors_name_the_old_path(tmp_path: Path) -> None:
    old = {
        "outputDir": "x",
        "current_study": {"images": [{"tags": {"PatientNmae": "X"}}]},
        "internal_prior": [],
    }
    write_spec(tmp_path, old, "old.json")
    proc = run("generate", "-o", "out", "--power-customize", "old.json", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        "error: old.json: 2 problems:",
        "  - internal_prior: unknown key in a power-customize config "
        "(did you mean internal_priors?)",
        "  - current_study.images[0].tags.PatientNmae: unknown DICOM keyword "
        "(did you mean PatientName?)",
    ]
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize(
    ("setup", "fragments"),
    [
        ("missing", ["missing.yaml: no such file"]),
        ("invalid-yaml", ["bad.yaml: line 2, column 1: invalid YAML"]),
        ("invalid-json", ["bad.json: line 1, column 12: invalid JSON"]),
        ("folder", ["specs: is a folder, not a spec file", ".yaml or .json"]),
        ("binary", ["binary.yaml: not a text file"]),
    ],
)
def test_unreadable_spec_file(tmp_path: Path, cli: Run, setup: str, fragments: list[str]) -> None:
    name = {
        "missing": "missing.yaml",
        "invalid-yaml": "bad.yaml",
        "invalid-json": "bad.json",
        "folder": "specs",
        "binary": "binary.yaml",
    }[setup]
    if setup == "invalid-yaml":
        (tmp_path / name).write_text("patients: [1\n")
    elif setup == "invalid-json":
        (tmp_path / name).write_text('{"seed": 1,,}')
    elif setup == "folder":
        (tmp_path / name).mkdir()
    elif setup == "binary":
        (tmp_path / name).write_bytes(b"\xff\xfe\x00\x81 not utf-8")
    proc = cli("generate", "-o", "out", "-c", name)
    assert_rejected(proc, *fragments)
    assert_nothing_written(tmp_path)


def test_existing_output_needs_overwrite(tmp_path: Path, cli: Run) -> None:
    write_spec(
        tmp_path,
        {"name": "ds", "defaults": SMALL, "patients": [{"studies": [{"series": [{"count": 1}]}]}]},
    )
    first = cli("generate", "-o", "out", "-c", "study.yaml", "-q")
    assert first.returncode == 0, first.stderr
    before = sorted(p.name for p in (tmp_path / "out" / "ds").rglob("*"))
    proc = run("generate", "-o", "out", "-c", "study.yaml", cwd=tmp_path)
    assert_rejected(proc, "out/ds already exists", "--overwrite")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ds"]  # no .partial- left
    assert sorted(p.name for p in (tmp_path / "out" / "ds").rglob("*")) == before
    again = cli("generate", "-o", "out", "-c", "study.yaml", "-q", "--overwrite")
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ds"]


def test_bad_options(tmp_path: Path, cli: Run) -> None:
    write_spec(tmp_path, {"defaults": SMALL})
    proc = cli("generate", "-o", "out", "-c", "study.yaml", "--name", "a/b")
    assert_rejected(proc, "command line: name: ", "(got 'a/b')")
    proc = cli("generate", "-o", "out")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--config" in proc.stderr
    assert_nothing_written(tmp_path)


PERMISSIVE_VALUES = {
    "StudyDate": "2024-13-45",
    "SeriesDescription": "x" * 70,
    "PatientSex": "UNKNOWN-SEX-VALUE-TOO-LONG",
    "InstitutionName": "nul\x00byte",
    "WindowCenter": "1.00000000000000001",
}


def test_invalid_values_are_written_when_permissive(tmp_path: Path) -> None:
    spec = {
        "name": "broken",
        "defaults": SMALL,
        "patients": [
            {
                "studies": [
                    {
                        "series": [
                            {
                                "count": 1,
                                "instances": [{"permissive": True, "tags": PERMISSIVE_VALUES}],
                            }
                        ]
                    }
                ]
            }
        ],
    }
    write_spec(tmp_path, spec)
    proc = run("generate", "-o", "out", "-c", "study.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr
    (path,) = (tmp_path / "out" / "broken" / "dicoms").rglob("*.dcm")
    previous = pydicom_config.settings.reading_validation_mode
    pydicom_config.settings.reading_validation_mode = pydicom_config.IGNORE
    try:
        ds = pydicom.dcmread(path)
        for keyword, value in PERMISSIVE_VALUES.items():
            raw = ds.get_item(keyword).value  # the bytes in the file, before any conversion
            assert raw.rstrip(b" \x00") == value.encode().rstrip(b"\x00"), keyword
    finally:
        pydicom_config.settings.reading_validation_mode = previous


def test_values_no_element_can_hold_are_refused_even_when_permissive(
    tmp_path: Path, cli: Run
) -> None:
    write_spec(
        tmp_path,
        two_studies({"LargestImagePixelValue": 70000})
        | {"defaults": {**SMALL, "permissive": True}},
    )
    proc = cli("generate", "-o", "out", "-c", "study.yaml")
    assert_rejected(
        proc, "tags.LargestImagePixelValue", "not even with permissive", "{vr: UL, value: 70000}"
    )
    write_spec(
        tmp_path, two_studies({"WindowCenter": "abc"}) | {"defaults": {**SMALL, "permissive": True}}
    )
    proc = cli("generate", "-o", "out", "-c", "study.yaml")
    assert_rejected(proc, "tags.WindowCenter", "{vr: LO, value: ...}")
    assert_nothing_written(tmp_path)


# ------------------------------------------------------------------ issue 10: VR value rules

PRIVATE = '(0029,"DICOMFAB TEST",{:02X})'


@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        ({"vr": "UN", "value": "abc"}, ["UN values have an even length", "3 bytes", "2 or 4"]),
        ({"vr": "OL", "value": {"hex": "010203040506"}}, ["4-byte values", "6 bytes", "4 or 8"]),
        ({"vr": "OV", "value": [1, 2, 3, 4]}, ["8-byte values", "4 bytes", "0 or 8"]),
        ({"vr": "OW", "value": "abc"}, ["2-byte values", "3 bytes"]),
        ({"vr": "OF", "value": "abcdef"}, ["4-byte values", "6 bytes"]),
        ({"vr": "OD", "value": "abcd"}, ["8-byte values", "4 bytes"]),
        ({"vr": "IS", "value": 99999999999}, ["out of range for IS (-2147483648..2147483647)"]),
        ({"vr": "IS", "value": "-2147483649"}, ["out of range for IS"]),
        ({"vr": "PN", "value": "A^B^C^D^E^F"}, ["at most 5 components", "not 6"]),
        ({"vr": "PN", "value": "A" * 65}, ["component group holds at most 64 characters"]),
        ({"vr": "LO", "value": "two\nlines"}, ["control character '\\n'", "LO does not allow"]),
        ({"vr": "SH", "value": "tab\there"}, ["control character '\\t'", "SH does not allow"]),
        ({"vr": "LT", "value": "bell\x07"}, ["control character '\\x07'", "LT does not allow"]),
    ],
)
def test_values_their_vr_cannot_hold_are_refused(
    tmp_path: Path, cli: Run, value: dict[str, Any], fragments: list[str]
) -> None:
    write_spec(tmp_path, two_studies({PRIVATE.format(0x10): value}))
    proc = cli("generate", "-o", "out", "-c", "study.yaml")
    assert_rejected(
        proc,
        'study.yaml: patients[0].studies[1].series[0].tags.(0029,"DICOMFAB TEST",10): ',
        "permissive: true",
        *fragments,
    )
    assert_nothing_written(tmp_path)


VALID_PRIVATE = {
    PRIVATE.format(0x10): {"vr": "UN", "value": "abcd"},
    PRIVATE.format(0x11): {"vr": "OL", "value": {"hex": "0102030405060708"}},
    PRIVATE.format(0x12): {"vr": "OV", "value": {"hex": "0102030405060708"}},
    PRIVATE.format(0x13): {"vr": "OB", "value": "abc"},  # OB is padded to an even length
    PRIVATE.format(0x14): {"vr": "IS", "value": -(2**31)},
    PRIVATE.format(0x15): {"vr": "IS", "value": 2**31 - 1},
    PRIVATE.format(0x16): {"vr": "PN", "value": "A^B^C^D^E=" + "B" * 64},
    PRIVATE.format(0x17): {"vr": "LT", "value": "two\r\nlines\tand a tab"},
}


def test_values_at_the_limits_of_their_vr_are_written_and_read_back(tmp_path: Path) -> None:
    spec = {**two_studies(VALID_PRIVATE), "name": "limits"}
    write_spec(tmp_path, spec)
    proc = run("generate", "-o", "out", "-c", "study.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    paths = sorted((tmp_path / "out" / "limits" / "dicoms").rglob("*.dcm"))
    ds = pydicom.dcmread(next(p for p in paths if b"DICOMFAB TEST" in p.read_bytes()))
    block = ds.private_block(0x0029, "DICOMFAB TEST")
    assert block[0x10].value == b"abcd"
    assert block[0x11].value == bytes.fromhex("0102030405060708")
    assert block[0x14].value == -(2**31) and block[0x15].value == 2**31 - 1
    assert str(block[0x17].value) == "two\r\nlines\tand a tab"


def test_a_wrong_binary_length_is_written_when_permissive(tmp_path: Path) -> None:
    spec = {**two_studies({PRIVATE.format(0x11): {"vr": "OL", "value": "abcdef"}}), "name": "odd"}
    spec["defaults"] = {**SMALL, "permissive": True}
    write_spec(tmp_path, spec)
    proc = run("generate", "-o", "out", "-c", "study.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    paths = (tmp_path / "out" / "odd" / "dicoms").rglob("*.dcm")
    assert any(b"abcdef" in p.read_bytes() for p in paths)


# ------------------------------------------------------------------ issue 10: error paths


@pytest.mark.parametrize(
    ("spec", "line"),
    [
        (
            {"defaults": {**SMALL, "remove_tags": ["DerivationDescription", "PatientName"]}},
            "defaults.remove_tags[1]: PatientName is required by the Digital Mammography X-Ray "
            "Image - For Presentation IOD",
        ),
        (
            {"defaults": {"pixels": {"size": "small", "frames": 2}}},
            "defaults.pixels.frames: mg-presentation is a single-frame IOD; use dbt",
        ),
        (
            {"patients": [{"studies": [{"series": [{"pixels": {"frames": 2}}]}]}]},
            "patients[0].studies[0].series[0].pixels.frames: mg-presentation is a single-frame",
        ),
        (
            {"defaults": {"pixels": {"size": "small", "bits_stored": 5}}},
            "defaults.pixels.bits_stored: mg-presentation holds 6–16 bits stored, not 5",
        ),
        (
            {"defaults": {**SMALL, "tags": {"BitsStored": 5}}},
            "defaults.tags.BitsStored: mg-presentation holds 6–16 bits stored, not 5",
        ),
        (
            {
                "patients": [
                    {"studies": [{"iod": "pdf", "transfer_syntax": "rle", "series": [{}, {}]}]}
                ]
            },
            "patients[0].studies[0].transfer_syntax: pdf has no pixel data to compress",
        ),
    ],
)
def test_a_value_inherited_by_many_instances_is_reported_once_where_written(
    tmp_path: Path, cli: Run, spec: dict[str, Any], line: str
) -> None:
    """One line at the level the user wrote, not one per instance at the resolved instance."""
    write_spec(tmp_path, {"patients": [{"studies": [{"series": [{}, {}]}]}], **spec})
    proc = cli("validate", "study.yaml")
    assert_rejected(proc, f"error: study.yaml: {line}")


# ------------------------------------------------------------------ issue 10: spec text fields


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        (
            {"patients": [{"name": "A" * 100}]},
            ["patients[0].name: not a valid PatientName", "component group", "not 100"],
        ),
        (
            {"patients": [{"name": "A^B^C^D^E^F"}]},
            ["patients[0].name: not a valid PatientName", "at most 5 components"],
        ),
        (
            {"patients": [{"id": "B" * 70}]},
            ["patients[0].id: not a valid PatientID", "maximum length of 64", "VR LO"],
        ),
        (
            {"patients": [{"studies": [{"description": "x" * 65}]}]},
            ["patients[0].studies[0].description: not a valid StudyDescription", "64"],
        ),
        (
            {"patients": [{"studies": [{"accession_number": "A" * 17}]}]},
            ["patients[0].studies[0].accession_number: not a valid AccessionNumber", "16"],
        ),
        (
            {"patients": [{"studies": [{"study_id": "1\n2"}]}]},
            ["patients[0].studies[0].study_id: not a valid StudyID", "control character"],
        ),
        (
            {"patients": [{"studies": [{"series": [{"description": "d" * 65}]}]}]},
            ["patients[0].studies[0].series[0].description: not a valid SeriesDescription"],
        ),
        (
            {"patients": [{"studies": [{"series": [{"number": 2**31}]}]}]},
            ["patients[0].studies[0].series[0].number: not a valid SeriesNumber", "range for IS"],
        ),
    ],
)
def test_spec_text_fields_follow_their_attributes_vr(
    tmp_path: Path, cli: Run, spec: dict[str, Any], fragments: list[str]
) -> None:
    write_spec(tmp_path, {"defaults": SMALL, **spec})
    proc = cli("generate", "-o", "out", "-c", "study.yaml")
    assert_rejected(proc, "error: study.yaml: ", "permissive: true", *fragments)
    assert_nothing_written(tmp_path)
    write_spec(tmp_path, {"defaults": {**SMALL, "permissive": True}, **spec})
    assert cli("validate", "study.yaml").returncode == 0  # on purpose: written as given


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("patients: [{birth_date: 1990-02-31}]\n", "patients[0].birth_date: '1990-02-31' is not"),
        ("defaults: {tags: {StudyDate: 2024-02-30}}\n", "defaults.tags.StudyDate: invalid value"),
    ],
)
def test_an_impossible_unquoted_yaml_date_names_its_field(
    tmp_path: Path, cli: Run, text: str, fragment: str
) -> None:
    (tmp_path / "study.yaml").write_text(text)
    assert_rejected(cli("validate", "study.yaml"), f"error: study.yaml: {fragment}")


@pytest.mark.parametrize(
    ("scenario", "assignment", "fragments"),
    [
        (
            "masc_ext_prior",
            "patient.name=" + "A" * 10_000,
            [
                "--set patient.name: not a valid PatientName: a person name (PN) component group "
                "holds at most 64 characters, not 10000",
                "(at patients[0].name)",
            ],
        ),
        ("masc_ext_prior", "patient.name=Doe\\Jane", ["--set patient.name: ", "VM 1"]),
        (
            "masc_ext_prior",
            "patient.id=" + "B" * 65,
            ["--set patient.id: not a valid PatientID", "maximum length of 64", "VR LO"],
        ),
        (
            "masc_ext_prior",
            "patient.birth_date=1990-02-31",
            ["--set patient.birth_date: '1990-02-31' is not a date", "(at patients[0].birth_date)"],
        ),
        ("masc_ext_prior", "patient.birth_date=soon", ["--set patient.birth_date: ", "not a date"]),
        ("masc_ext_prior", "image_size=huge", ["--set image_size: ", "'full', 'reduced' or"]),
        ("pr_large_dimensions", "rows=abc", ["--set rows: invalid value 'abc'", "tags.Rows)"]),
    ],
)
def test_scenario_parameters_are_checked_like_spec_values(
    tmp_path: Path, cli: Run, scenario: str, assignment: str, fragments: list[str]
) -> None:
    proc = cli("generate", "-o", "out", "--scenario", scenario, "--set", assignment)
    line = assert_rejected(proc, f"error: scenario {scenario} (--set ", *fragments)
    assert len(line) < 800  # a 10,000-character value is not echoed whole
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        ({"vr": "FL", "value": -1e39}, ["does not fit in FL", "{vr: FD, value: -1e+39}"]),
        ({"vr": "XX", "value": 1}, ["unknown VR 'XX' (known: AE, AS, AT,"]),
        ({"vr": "AT", "value": "NotAKeyword"}, ["'NotAKeyword' is not a tag (AT)"]),
        ({"vr": "OB", "value": {"base64": "!!"}}, ["Only base64 data is allowed"]),
    ],
)
def test_values_no_element_can_hold_name_their_field_even_when_permissive(
    tmp_path: Path, cli: Run, value: dict[str, Any], fragments: list[str]
) -> None:
    spec = two_studies({PRIVATE.format(0x10): value}) | {"defaults": {**SMALL, "permissive": True}}
    write_spec(tmp_path, spec)
    proc = cli("generate", "-o", "out", "-c", "study.yaml")
    assert_rejected(
        proc,
        'study.yaml: patients[0].studies[1].series[0].tags.(0029,"DICOMFAB TEST",10): ',
        *fragments,
    )
    assert_nothing_written(tmp_path)
