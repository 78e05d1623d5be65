"""Each IOD's and each codec's constraints are checked at ``dicomfab validate``: a spec that breaks
one is refused (exit 2, one line naming the file, the field the user wrote, the reason and the
nearest valid choice, no traceback) unless it is ``permissive``, which writes it as asked; the
clean variant writes valid DICOM (0 dciodvfy errors)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pydicom
import pytest
import yaml

from dicomfab.cli import main
from dicomtools import dciodvfy

SERIES = "patients[0].studies[0].series[0]"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``dicomfab ARGS`` in this process, in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str) -> subprocess.CompletedProcess[str]:
        with pytest.raises(SystemExit) as info:
            main(list(args))
        out, err = capsys.readouterr()
        code = info.value.code
        return subprocess.CompletedProcess(args, code if isinstance(code, int) else 1, out, err)

    return invoke


def spec_of(series: dict[str, Any], defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"patients": [{"studies": [{"series": [series]}]}]}
    if defaults:
        spec["defaults"] = defaults
    return spec


def write(folder: Path, spec: dict[str, Any], name: str = "study.yaml") -> str:
    (folder / name).write_text(yaml.safe_dump(spec, sort_keys=False))
    return name


def assert_refused(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: study.yaml: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


def written(folder: Path) -> list[Path]:
    return sorted((folder / "out").rglob("*.dcm"))


def generate_ok(cli: Any, tmp_path: Path, spec: dict[str, Any]) -> list[Path]:
    name = write(tmp_path, spec, "ok.yaml")
    proc = cli("generate", "-o", "out", "-c", name)
    assert proc.returncode == 0, proc.stderr
    files = written(tmp_path)
    assert files
    return files


# ---------------------------------------------------------------- item 1: photometric, bit depth

IOD_CASES = {
    "mr-bits-allocated-8": (
        {"iod": "mr", "pixels": {"size": "small", "bits_stored": 8, "bits_allocated": 8}},
        [f"{SERIES}.pixels.bits_allocated: ", "MR Image IOD allows BitsAllocated 16, not 8"],
        "bits_allocated: 16",
        {"bits_allocated": 16},
    ),
    "dbt-monochrome1": (
        {
            "iod": "dbt",
            "count": 1,
            "pixels": {"size": "small", "frames": 2, "photometric": "MONOCHROME1"},
        },
        [f"{SERIES}.pixels.photometric: ", "allows PhotometricInterpretation MONOCHROME2"],
        "photometric: MONOCHROME2",
        {"photometric": "MONOCHROME2"},
    ),
}


@pytest.mark.parametrize("case", list(IOD_CASES))
def test_iod_constraint(cli: Any, tmp_path: Path, case: str) -> None:
    """Refused at validate; the permissive twin is written as asked; the nearest valid choice
    writes a valid file."""
    series, fragments, nearest, fix = IOD_CASES[case]
    proc = cli("validate", write(tmp_path, spec_of(series)))
    assert_refused(proc, *fragments, f"(did you mean {nearest}?)")

    (path,) = generate_ok(cli, tmp_path, spec_of({**series, "permissive": True}))
    ds = pydicom.dcmread(path)
    pixels = series["pixels"]
    if "bits_allocated" in pixels:
        assert ds.BitsAllocated == pixels["bits_allocated"]
    if "photometric" in pixels:
        assert ds.PhotometricInterpretation == pixels["photometric"]

    shutil.rmtree(tmp_path / "out")
    clean = {**series, "pixels": {**pixels, **fix}}
    (path,) = generate_ok(cli, tmp_path, spec_of(clean))
    assert dciodvfy(path).errors == []


def test_iod_constraint_reported_where_it_is_set(cli: Any, tmp_path: Path) -> None:
    pixels = {"size": "small", "bits_stored": 8, "bits_allocated": 8}
    spec = spec_of({"iod": "mr"}, {"pixels": pixels})
    proc = cli("validate", write(tmp_path, spec))
    assert_refused(proc, "defaults.pixels.bits_allocated: ")


def test_dx_monochrome1_writes_presentation_lut_inverse(cli: Any, tmp_path: Path) -> None:
    spec = spec_of({"iod": "dx", "pixels": {"size": "small", "photometric": "MONOCHROME1"}})
    (path,) = generate_ok(cli, tmp_path, spec)
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    assert ds.PresentationLUTShape == "INVERSE"
    assert dciodvfy(path).errors == []


# ---------------------------------------------------------------- item 3: codec limits

CODEC_CASES = {
    "jpeg-baseline-mr": (
        {"iod": "mr", "pixels": {"size": "small"}},
        {"transfer_syntax": "jpeg-baseline"},
        ["defaults.transfer_syntax: ", "jpeg-baseline holds 8 bits stored only, not 12"],
        "jpeg-extended or jpeg-lossless-sv1 or jpeg-ls-lossless",
        {"transfer_syntax": "jpeg-lossless-sv1"},
    ),
    "jpeg-baseline-8-in-16": (
        {
            "iod": "sc",
            "transfer_syntax": "jpeg-baseline",
            "pixels": {"size": "small", "bits_stored": 8, "bits_allocated": 16},
        },
        None,
        [f"{SERIES}.transfer_syntax: ", "8-bit samples only, not BitsAllocated 16"],
        "jpeg-lossless-sv1 or jpeg-ls-lossless",
        {"pixels": {"size": "small", "bits_stored": 8, "bits_allocated": 8}},
    ),
    "jpeg2000-31-columns": (
        {"iod": "sc", "transfer_syntax": "jpeg2000", "pixels": {"rows": 65, "columns": 31}},
        None,
        [f"{SERIES}.transfer_syntax: ", "at least 32 rows and columns, not 65×31"],
        "jpeg-ls-lossless or jpeg-lossless-sv1",
        {"pixels": {"rows": 65, "columns": 32}},
    ),
    "jpeg-ls-8x8-noise": (
        {
            "iod": "sc",
            "transfer_syntax": "jpeg-ls",
            "pixels": {"rows": 8, "columns": 8, "pattern": "noise"},
        },
        None,
        [f"{SERIES}.transfer_syntax: ", "fewer than 256 pixels", "not 8×8"],
        "jpeg-lossless-sv1 or rle",
        {"pixels": {"rows": 16, "columns": 16, "pattern": "noise"}},
    ),
}


@pytest.mark.parametrize("case", list(CODEC_CASES))
@pytest.mark.parametrize("permissive", [False, True])
def test_codec_limit_refused_at_validate(
    cli: Any, tmp_path: Path, case: str, permissive: bool
) -> None:
    """No codec can write what it cannot encode, so permissive does not lift a codec limit: the
    spec is refused at validate (and generate) with the field, not deep in the encoder."""
    series, defaults, fragments, nearest, _ = CODEC_CASES[case]
    if permissive:
        series = {**series, "permissive": True}
    name = write(tmp_path, spec_of(series, defaults))
    for command in (["validate", name], ["generate", "-o", "out", "-c", name]):
        assert_refused(cli(*command), *fragments, f"(did you mean {nearest}?)")
    assert written(tmp_path) == []


@pytest.mark.parametrize("case", list(CODEC_CASES))
def test_codec_limit_nearest_choice_is_valid(cli: Any, tmp_path: Path, case: str) -> None:
    """The same spec, changed as the message suggests, writes a valid file (and the refused
    one was refused before the encoder, not by it)."""
    series, defaults, fragments, _, fix = CODEC_CASES[case]
    assert_refused(cli("validate", write(tmp_path, spec_of(series, defaults))), *fragments)
    (path,) = generate_ok(
        cli, tmp_path, spec_of({**series, **fix}, defaults and {**defaults, **fix})
    )
    assert dciodvfy(path).errors == []


# ---------------------------------------------------------------- item 2: fixed and forbidden tags

TAG_CASES = {
    "mg-modality-ct": (
        {"iod": "mg", "count": 1, "tags": {"Modality": "CT"}},
        [f"{SERIES}.tags.Modality: ", "IOD allows Modality MG, not 'CT'", "permissive: true"],
        "(did you mean Modality: MG?)",
        {"Modality": "MG"},
    ),
    # the General Series Module leaves Modality to Defined Terms; a CR plate is CR or MG
    "cr-modality-ct": (
        {"iod": "cr", "count": 1, "tags": {"Modality": "CT"}},
        [f"{SERIES}.tags.Modality: ", "IOD allows Modality CR or MG, not 'CT'", "permissive: true"],
        "(did you mean Modality: CR?)",
        {"Modality": "MG"},
    ),
    # the Breast Tomosynthesis Image Module enumerates NO only (found by the property test)
    "dbt-burned-in-annotation-yes": (
        {"iod": "dbt", "count": 1, "tags": {"BurnedInAnnotation": "YES"}},
        [f"{SERIES}.tags.BurnedInAnnotation: ", "IOD allows BurnedInAnnotation NO, not 'YES'"],
        "(did you mean BurnedInAnnotation: NO?)",
        {"BurnedInAnnotation": "NO"},
    ),
    # the X-Ray 3D Image Module fixes 4 values; the MR Image Module requires value 3
    "dbt-image-type-two-values": (
        {"iod": "dbt", "count": 1, "tags": {"ImageType": ["ORIGINAL", "PRIMARY"]}},
        [f"{SERIES}.tags.ImageType: ", "IOD requires 4 values of ImageType, not 2"],
        "permissive: true",
        {"ImageType": ["ORIGINAL", "PRIMARY", "TOMOSYNTHESIS", "NONE"]},
    ),
    "mr-image-type-value-3-empty": (
        {"iod": "mr", "count": 1, "tags": {"ImageType": ["ORIGINAL", "PRIMARY", ""]}},
        [f"{SERIES}.tags.ImageType: ", "requires value 3 of ImageType (it is empty)"],
        "permissive: true",
        {"ImageType": ["ORIGINAL", "PRIMARY", "OTHER"]},
    ),
    "mg-processing-window": (
        {"iod": "mg-processing", "count": 1, "tags": {"WindowCenter": 2000, "WindowWidth": 4000}},
        [
            f"{SERIES}.tags.WindowCenter: WindowCenter is not allowed in the Digital "
            "Mammography X-Ray Image - For Processing IOD",
            f"{SERIES}.tags.WindowWidth: ",
        ],
        "permissive: true",
        {},
    ),
}


@pytest.mark.parametrize("case", list(TAG_CASES))
def test_tag_constraint(cli: Any, tmp_path: Path, case: str) -> None:
    """Refused at validate; the permissive twin is written as asked; without the offending value
    the file is valid."""
    series, fragments, hint, clean_tags = TAG_CASES[case]
    series = {**series, "pixels": {"size": "small"}}
    proc = cli("validate", write(tmp_path, spec_of(series)))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: study.yaml: "), proc.stderr
    for fragment in [*fragments, hint]:
        assert fragment in proc.stderr, f"{fragment!r} not in {proc.stderr!r}"

    (path,) = generate_ok(cli, tmp_path, spec_of({**series, "permissive": True}))
    ds = pydicom.dcmread(path)
    for keyword, value in series["tags"].items():
        assert ds[keyword].value == value

    shutil.rmtree(tmp_path / "out")
    (path,) = generate_ok(cli, tmp_path, spec_of({**series, "tags": clean_tags}))
    assert dciodvfy(path).errors == []


VIEW_ITEM = {
    "CodeValue": "399162004",
    "CodingSchemeDesignator": "SCT",
    "CodeMeaning": "cranio-caudal",
}


@pytest.mark.parametrize("iod", ["mg", "dx"])
def test_view_code_item_gets_its_type2_modifier_sequence(
    cli: Any, tmp_path: Path, iod: str
) -> None:
    series = {"iod": iod, "count": 1, "pixels": {"size": "small"}}
    series["tags"] = {"ViewCodeSequence": [dict(VIEW_ITEM)]}
    (path,) = generate_ok(cli, tmp_path, spec_of(series))
    (item,) = pydicom.dcmread(path).ViewCodeSequence
    assert item.CodeValue == "399162004"
    assert "ViewModifierCodeSequence" in item and len(item.ViewModifierCodeSequence) == 0
    assert dciodvfy(path).errors == []

    shutil.rmtree(tmp_path / "out")  # permissive: written as given, without it
    (path,) = generate_ok(cli, tmp_path, spec_of({**series, "permissive": True}))
    (item,) = pydicom.dcmread(path).ViewCodeSequence
    assert "ViewModifierCodeSequence" not in item
