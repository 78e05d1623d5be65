"""Vendor personas: every persona file, every IOD it builds, checked against what the persona says.

Nothing here names a persona's values: each test reads them from the loaded persona and loops over
every persona file present, so a new or researched persona file is checked as it is added. Files
are read back by pydicom and checked by dciodvfy and dcmdump (the independent readers).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pydicom
import pytest
import yaml
from pydicom._private_dict import private_dictionaries
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from dicomfab import generate
from dicomfab.builder import modules, vendors
from dicomfab.builder.plan import make_plan
from dicomfab.builder.vendors import Persona, header
from dicomfab.errors import SpecError
from dicomfab.studyspec.models import Spec
from dicomtools import dciodvfy, dcmdump

NAMES = vendors.names()
#: IODs no persona builds: their images must show no trace of the spec's vendor
UNCOVERED = ("mr", "pdf", "sc", "dx", "cr")


def _spec(persona: Persona, **defaults: Any) -> Spec:
    """One series per IOD the persona builds (one RCC image each) and one per IOD it does not."""
    series = [{"iod": iod, "views": ["RCC"]} for iod in persona.iods]
    series += [{"iod": iod, "count": 1} for iod in UNCOVERED]
    return Spec.model_validate(
        {
            "name": persona.name,
            "seed": 3,
            "defaults": {"vendor": persona.name, "pixels": {"size": "small"}, **defaults},
            "patients": [{"studies": [{"series": series}]}],
        }
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """persona name → IOD name → the file of its one image (generated once for the module)."""
    out: dict[str, dict[str, Path]] = {}
    root = tmp_path_factory.mktemp("personas")
    for name in NAMES:
        persona = vendors.persona(name)
        result = generate(_spec(persona), root, workers=1)
        files: dict[str, Path] = {}
        for entry in result.manifest.instances():
            files[_iod_of(entry.sop_class_uid)] = result.path / entry.file
        out[name] = files
    return out


def _iod_of(sop_class_uid: str) -> str:
    from dicomfab.builder.iods import registry

    found = registry.find(sop_class_uid)
    assert found is not None
    return found.name


def _private_creators(ds: Dataset) -> set[tuple[int, str]]:
    """(group, creator) of every private block reserved anywhere in ``ds``, sequences included."""
    found: set[tuple[int, str]] = set()
    for elem in ds.iterall():
        if elem.tag.is_private and 0x10 <= elem.tag.element <= 0xFF:
            found.add((elem.tag.group, str(elem.value)))
    return found


# ---------------------------------------------------------------------------- the persona files
@pytest.mark.parametrize("name", NAMES)
def test_persona_file_is_named_and_sourced(name: str) -> None:
    persona = vendors.persona(name)
    assert name == name.lower() and " " not in name
    assert persona.sources and all(s.source.strip() for s in persona.sources)
    assert persona.detector.formats, "a default detector format"
    assert all(iod in vendors.PERSONA_IODS for iod in persona.iods)


@pytest.mark.parametrize("name", NAMES)
def test_private_element_vrs_match_pydicoms_private_dictionary(name: str) -> None:
    for block in vendors.persona(name).private:
        known = private_dictionaries.get(block.creator, {})
        for offset, element in block.elements.items():
            entry = known.get(f"{block.group.upper()}xx{offset.upper()}")
            if entry is not None:
                assert element.vr in entry[0], f"{block.creator} {block.group},xx{offset}"


@pytest.mark.parametrize(
    ("vr", "value", "written"),
    [
        ("OB", "00 01 02", b"\x00\x01\x02\x00"),  # hex digits, padded to an even length
        ("UN", "hello", b"hello\x00"),  # text that is not hex: its ASCII bytes
        ("US", [1, "2"], [1, 2]),
        ("FL", 0.5, 0.5),
        ("DS", 0.07, "0.07"),
        ("CS", ["A", "B"], ["A", "B"]),
    ],
)
def test_private_values_take_their_vrs_form(vr: str, value: Any, written: Any) -> None:
    element = vendors.PrivateElement.model_validate({"vr": vr, "value": value})
    assert header.private_value(element) == written


def test_unknown_persona_names_the_nearest() -> None:
    name = NAMES[0]
    with pytest.raises(SpecError) as info:
        vendors.persona(name[:-1])
    assert info.value.issues[0].suggestion == name


def test_a_wrong_persona_file_names_its_field(tmp_path: Path) -> None:
    data = yaml.safe_load((vendors.FOLDER / f"{NAMES[0]}.yaml").read_text())
    data["detector"]["colour"] = "blue"
    path = tmp_path / "broken-unit.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match=r"broken-unit.yaml: detector.colour"):
        vendors.load_file(path)


# ---------------------------------------------------------------------------- the built files
@pytest.mark.parametrize("name", NAMES)
def test_every_file_passes_dciodvfy_and_dcmdump(
    built: dict[str, dict[str, Path]], name: str
) -> None:
    for iod, path in built[name].items():
        assert dciodvfy(path).errors == [], f"{name} × {iod}"
        dcmdump(path)


@pytest.mark.parametrize("name", NAMES)
def test_covered_iods_carry_the_persona(built: dict[str, dict[str, Path]], name: str) -> None:
    persona = vendors.persona(name)
    for iod in persona.iods:
        ds = pydicom.dcmread(built[name][iod])
        assert ds.Manufacturer == persona.manufacturer
        assert ds.ManufacturerModelName == persona.model
        assert list(_values(ds.SoftwareVersions)) == persona.software_versions
        assert ds.StationName == persona.station_name
        assert ds.DeviceSerialNumber == persona.device_serial_number
        for block in persona.private:
            private = ds.private_block(block.group_number, block.creator)
            for offset, element in block.elements.items():
                written = ds[private.get_tag(int(offset, 16))]
                assert element.vr == written.VR
                expected = DataElement(written.tag, element.vr, header.private_value(element))
                assert written.value == expected.value, f"{block.creator} {offset}"


@pytest.mark.parametrize("name", NAMES)
def test_mammography_images_have_the_personas_detector_bits_and_windows(
    built: dict[str, dict[str, Path]], name: str
) -> None:
    persona = vendors.persona(name)
    for iod in ("mg-presentation", "mg-processing"):
        if iod not in persona.iods:
            continue
        ds = pydicom.dcmread(built[name][iod])
        bits = persona.bits_processing if iod == "mg-processing" else persona.detector.bits_stored
        assert ds.BitsStored == bits
        assert ds.PhotometricInterpretation == persona.photometric
        assert ds.DetectorType == persona.detector.type
        assert ds.get("DetectorID") == persona.detector.id
        assert ds.get("DetectorDescription") == persona.detector.description
        # a small image matches no detector format: the default format's spacing
        assert [float(v) for v in ds.ImagerPixelSpacing] == list(
            persona.detector.formats[0].spacing
        )
        assert ds.AnodeTargetMaterial == persona.exposure.anode
        assert ds.FilterMaterial in persona.exposure.filters
        low, high = persona.exposure.kvp
        assert low <= float(ds.KVP) <= high
        if iod == "mg-presentation":
            assert ds.VOILUTFunction == persona.voi_lut.function
            windows = persona.voi_lut.windows
            assert [float(c) for c in _values(ds.WindowCenter)] == [w.center for w in windows]
            assert [float(w) for w in _values(ds.WindowWidth)] == [w.width for w in windows]
            assert list(_values(ds.WindowCenterWidthExplanation)) == [
                w.explanation for w in windows
            ]
        else:
            assert "WindowCenter" not in ds and "VOILUTFunction" not in ds


@pytest.mark.parametrize("name", [n for n in NAMES if "dbt" in vendors.persona(n).iods])
def test_tomosynthesis_has_the_personas_geometry(
    built: dict[str, dict[str, Path]], name: str
) -> None:
    persona = vendors.persona(name)
    assert persona.dbt is not None
    ds = pydicom.dcmread(built[name]["dbt"])
    assert ds.PhotometricInterpretation == "MONOCHROME2"  # the only one the DBT IOD takes
    assert ds.BitsStored == persona.detector.bits_stored
    shared = ds.SharedFunctionalGroupsSequence[0]
    measures = shared.PixelMeasuresSequence[0]
    assert [float(v) for v in measures.PixelSpacing] == list(persona.dbt.spacing)
    assert float(measures.SliceThickness) == persona.dbt.slice_spacing_mm
    voi = shared.FrameVOILUTSequence[0]
    assert voi.VOILUTFunction == persona.voi_lut.function
    source = ds.ContributingSourcesSequence[0]
    assert source.Manufacturer == persona.manufacturer
    assert source.DetectorType == persona.detector.type
    acquisition = ds.XRay3DAcquisitionSequence[0]
    assert acquisition.AnodeTargetMaterial == persona.exposure.anode
    assert acquisition.FilterMaterial == persona.exposure.dbt_filter
    angles = [float(p.PositionerPrimaryAngle) for p in acquisition.PerProjectionAcquisitionSequence]
    assert len(angles) == persona.dbt.projections
    assert max(angles) - min(angles) == pytest.approx(persona.dbt.angular_range)


@pytest.mark.parametrize("name", NAMES)
def test_an_iod_the_persona_does_not_build_shows_no_trace_of_it(
    built: dict[str, dict[str, Path]], name: str
) -> None:
    persona = vendors.persona(name)
    for iod in UNCOVERED:
        ds = pydicom.dcmread(built[name][iod])
        assert ds.Manufacturer == modules.MANUFACTURER, f"{name} × {iod}"
        assert persona.model not in str(ds.get("ManufacturerModelName", ""))
        assert not (_private_creators(ds) & set(persona.creators)), f"{name} × {iod}"


def test_without_a_vendor_the_generic_unit() -> None:
    plan = make_plan(Spec.model_validate({"defaults": {"pixels": {"size": "small"}}}))
    assert all(instance.vendor is None for instance in plan.instances)


# ---------------------------------------------------------------------------- plan and options
@pytest.mark.parametrize("name", NAMES)
def test_default_matrix_is_the_default_format_and_size_scales_it(name: str) -> None:
    persona = vendors.persona(name)
    spec = _spec(persona)
    spec.defaults.pixels = None
    full = {i.iod.name: i.pixels for i in make_plan(spec).instances}
    spec.defaults.pixels = _spec(persona).defaults.pixels
    small = {i.iod.name: i.pixels for i in make_plan(spec).instances}
    for iod in persona.iods:
        if iod == "dbt":
            assert persona.dbt is not None
            expected = (persona.dbt.rows, persona.dbt.columns)
        else:
            expected = (persona.detector.formats[0].rows, persona.detector.formats[0].columns)
        assert (full[iod].rows, full[iod].columns) == expected
        assert max(small[iod].rows or 0, small[iod].columns or 0) == 256


@pytest.mark.parametrize("name", NAMES)
def test_an_image_of_a_formats_matrix_has_that_formats_spacing(name: str) -> None:
    persona = vendors.persona(name)
    for found in persona.detector.formats:
        chosen = header.detector_format(persona, found.rows, found.columns)
        assert (chosen.rows, chosen.columns) == (found.rows, found.columns)
        assert chosen.spacing == next(
            f.spacing
            for f in persona.detector.formats
            if (f.rows, f.columns) == (found.rows, found.columns)
        )
    assert header.detector_format(persona, 33, 33) == persona.detector.formats[0]


def test_explicit_pixels_and_tags_win_over_the_persona(tmp_path: Path) -> None:
    persona = next(vendors.persona(n) for n in NAMES if vendors.persona(n).private)
    block = persona.private[0]
    offset = next(iter(block.elements))
    bits = min(16, persona.detector.bits_stored + 1)
    spec = Spec.model_validate(
        {
            "defaults": {
                "vendor": persona.name,
                "pixels": {"rows": 64, "columns": 48, "bits_stored": bits},
                "tags": {"Manufacturer": "ACME", "StationName": "MINE", "KVP": 22},
                "remove_tags": [f'({block.group},"{block.creator}",{offset})'],
            },
            "patients": [{"studies": [{"series": [{"iod": "mg-presentation", "count": 1}]}]}],
        }
    )
    result = generate(spec, tmp_path, workers=1)
    ds = pydicom.dcmread(result.path / result.manifest.instances()[0].file)
    assert (ds.Rows, ds.Columns, ds.BitsStored) == (64, 48, bits)
    assert (ds.Manufacturer, ds.StationName, float(ds.KVP)) == ("ACME", "MINE", 22)
    assert ds.ManufacturerModelName == persona.model
    private = ds.private_block(block.group_number, block.creator)
    assert private.get_tag(int(offset, 16)) not in ds
    # the windows follow the bits stored: one bit more, twice the values
    factor = 2 ** (bits - persona.detector.bits_stored)
    widths = [float(w) for w in _values(ds.WindowWidth)]
    assert widths == [w.width * factor for w in persona.voi_lut.windows]
    assert dciodvfy(result.path / result.manifest.instances()[0].file).errors == []


def test_a_window_of_the_spec_replaces_the_personas_windows(tmp_path: Path) -> None:
    """WindowCenter and WindowWidth keep one number of values: a spec's own window (one value)
    leaves the persona's first window beside it, not all of them."""
    persona = max((vendors.persona(n) for n in NAMES), key=lambda p: len(p.voi_lut.windows))
    spec = Spec.model_validate(
        {
            "defaults": {
                "vendor": persona.name,
                "pixels": {"size": "small"},
                "tags": {"WindowCenter": 1000},
            },
            "patients": [{"studies": [{"series": [{"iod": "mg-presentation", "count": 1}]}]}],
        }
    )
    result = generate(spec, tmp_path, workers=1)
    ds = pydicom.dcmread(result.path / result.manifest.instances()[0].file)
    assert float(ds.WindowCenter) == 1000
    assert float(ds.WindowWidth) == persona.voi_lut.windows[0].width
    assert ds.WindowCenterWidthExplanation == persona.voi_lut.windows[0].explanation


def test_same_spec_and_seed_give_identical_files(tmp_path: Path) -> None:
    persona = vendors.persona(NAMES[-1])
    first = generate(_spec(persona), tmp_path / "a", workers=1)
    second = generate(_spec(persona), tmp_path / "b", workers=2)
    files = [e.file for e in first.manifest.instances()]
    assert files == [e.file for e in second.manifest.instances()]
    for file in files:
        assert (first.path / file).read_bytes() == (second.path / file).read_bytes()


def test_presentation_and_processing_of_a_view_share_their_exposure() -> None:
    persona = vendors.persona(NAMES[0])
    spec = Spec.model_validate(
        {
            "defaults": {"vendor": persona.name},
            "patients": [
                {"studies": [{"series": [{"iod": "mg-presentation"}, {"iod": "mg-processing"}]}]}
            ],
        }
    )
    plan = make_plan(spec)
    by_view: dict[str, set[tuple[str, int]]] = {}
    for instance in plan.instances:
        assert instance.view is not None and instance.vendor is not None
        choice = header.exposure(instance.vendor, instance.exposure_key)
        by_view.setdefault(instance.view.name, set()).add(choice)
    assert all(len(choices) == 1 for choices in by_view.values())


def test_unknown_vendor_exits_2_naming_the_field_and_the_nearest(tmp_path: Path) -> None:
    name = NAMES[0]
    spec = {"patients": [{"studies": [{"vendor": name[:-1]}]}]}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    proc = subprocess.run(
        [sys.executable, "-m", "dicomfab", "generate", "-c", "spec.yaml", "-o", "out"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "patients[0].studies[0].vendor" in proc.stderr
    assert f"did you mean {name}?" in proc.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_list_vendors_lists_every_persona() -> None:
    import json

    proc = subprocess.run(
        [sys.executable, "-m", "dicomfab", "list", "vendors", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["name"] for r in rows] == NAMES
    assert [r["manufacturer"] for r in rows] == [vendors.persona(n).manufacturer for n in NAMES]


def test_schema_lists_the_personas() -> None:
    from dicomfab.builder.schema import spec_schema

    vendor = spec_schema()["$defs"]["Settings"]["properties"]["vendor"]
    assert {"type": "string", "enum": NAMES} in vendor["anyOf"]


def _values(value: Any) -> list[Any]:
    if isinstance(value, list | tuple | pydicom.multival.MultiValue):
        return [_plain(v) for v in value]
    return [_plain(value)]


def _plain(value: Any) -> Any:
    return str(value) if not isinstance(value, str) else value
