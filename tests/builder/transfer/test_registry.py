"""The transfer-syntax registry: what it says to install when a codec library does not import,
and the table in docs/iods.md, which it writes."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from dicomfab.builder import pixels, transfer
from dicomfab.builder.plan import make_plan
from dicomfab.builder.transfer import registry
from dicomfab.errors import CodecMissingError, DicomfabError, SpecError
from dicomfab.studyspec.loading import parse_spec

ROOT = Path(__file__).resolve().parents[3]
IODS_DOC = ROOT / "docs" / "iods.md"
BEGIN = "<!-- generated from builder/transfer/registry.py: UPDATE_DOCS=1 pytest {} -->".format(
    "tests/builder/transfer/test_registry.py"
)
END = "<!-- end of the generated table -->"

#: each (syntax, library it needs): blocking any one of them must name that library's package
NEEDS = [
    pytest.param(ts.name, library, id=f"{ts.name}-{library.module}")
    for ts in registry.REGISTRY
    for library in ts.requires
]


def _spec(ts: str) -> dict[str, object]:
    """One small image this syntax can hold."""
    bits = max(8, transfer.get(ts).min_bits_stored)
    return {
        "name": "codec",
        "seed": 3,
        "defaults": {
            "iod": "sc",
            "transfer_syntax": ts,
            "pixels": {"rows": 64, "columns": 64, "bits_stored": bits},
        },
        "patients": [{"studies": [{"series": [{"count": 1}]}]}],
    }


#: compressed syntaxes whose encoder is dicomfab's own (numpy only)
OWN_ENCODER = {"jpeg-lossless"}


def test_every_compressed_syntax_names_what_it_needs() -> None:
    compressed = {ts.name for ts in registry.REGISTRY if ts.compressed}
    assert compressed - OWN_ENCODER == {n.values[0] for n in NEEDS}


def test_each_pip_package_named_is_a_dependency_of_dicomfab() -> None:
    """The package a message tells the user to install is the one dicomfab itself depends on."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dependencies = {d.split(">")[0].split("=")[0].strip() for d in project["dependencies"]}
    assert {library.package for _, library in (n.values for n in NEEDS)} <= dependencies


@pytest.mark.parametrize(("name", "library"), NEEDS)
def test_a_library_that_does_not_import_is_named_by_its_pip_package(
    monkeypatch: pytest.MonkeyPatch, name: str, library: registry.Library
) -> None:
    ts = transfer.get(name)
    monkeypatch.setitem(sys.modules, library.module, None)  # `import` now raises ImportError
    expected = f"transfer syntax {name} needs the pip package {library.package}"
    assert ts.missing() == f"{expected}: pip install {library.package}"
    with pytest.raises(CodecMissingError, match=f"^{expected}: pip install ") as caught:
        ts.frame_encoder()
    assert isinstance(caught.value, DicomfabError)
    with pytest.raises(SpecError, match=f"^defaults.transfer_syntax: {expected}"):
        make_plan(parse_spec(_spec(name)))


def test_encoding_a_frame_without_its_library_is_a_codec_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past validation (a plan made while the codec imported), writing still fails cleanly."""
    plan = make_plan(parse_spec(_spec("jpeg2000")))
    instance = plan.instances[0]
    image = pixels.render(instance)
    monkeypatch.setitem(sys.modules, "openjpeg", None)
    with pytest.raises(CodecMissingError, match=r"pip install pylibjpeg-openjpeg$"):
        transfer.encode(Dataset(), image, instance.transfer_syntax, quality=instance.quality)


def test_generate_without_the_codec_exits_2_with_one_line(tmp_path: Path) -> None:
    """A real process in which ``import jpeg_ls`` fails, as it does where pyjpegls is not
    installed. (Not a pylibjpeg plugin such as openjpeg: blocking an installed plugin breaks
    pydicom's own import, since pylibjpeg loads every plugin whose entry point it finds.)"""
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: codec\n"
        "defaults: {iod: sc, transfer_syntax: jpeg-ls-lossless, pixels: {size: small}}\n"
        "patients: [{studies: [{series: [{count: 1}]}]}]\n",
        encoding="utf-8",
    )
    block = "import sys; sys.modules['jpeg_ls'] = None; from dicomfab.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", block, "generate", "-o", str(tmp_path / "out"), "-c", str(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {spec}: defaults.transfer_syntax: transfer syntax jpeg-ls-lossless needs the pip "
        "package pyjpegls: pip install pyjpegls"
    ]
    assert not (tmp_path / "out" / "codec").exists()


def _table() -> str:
    """The transfer-syntax table of docs/iods.md, from the registry."""
    rows = [
        "| name (aliases) | UID | lossy | bits stored | codec (pip package) | notes |",
        "|---|---|---|---|---|---|",
    ]
    for ts in registry.REGISTRY:
        aliases = f" ({', '.join(f'`{a}`' for a in ts.aliases)})" if ts.aliases else ""
        low, high = ts.min_bits_stored, ts.max_bits_stored
        bits = str(low) if low == high else f"{low}–{high}"
        own = "dicomfab (numpy)" if ts.compressed else "native"
        codec = ", ".join(library.package for library in ts.requires) or own
        lossy = "lossy" if ts.lossy else "lossless"
        name = f"`{ts.name}`{' (default)' if ts is registry.DEFAULT else ''}{aliases}"
        rows.append(f"| {name} | {ts.uid} | {lossy} | {bits} | {codec} | {ts.notes} |")
    return "\n".join(rows)


def test_docs_table_matches_the_registry() -> None:
    text = IODS_DOC.read_text(encoding="utf-8")
    before, rest = text.split(BEGIN + "\n")
    _, after = rest.split("\n" + END)
    expected = f"{before}{BEGIN}\n{_table()}\n{END}{after}"
    if os.environ.get("UPDATE_DOCS"):
        IODS_DOC.write_text(expected, encoding="utf-8")
    assert IODS_DOC.read_text(encoding="utf-8") == expected, (
        "run: UPDATE_DOCS=1 pytest tests/builder/transfer/test_registry.py"
    )
