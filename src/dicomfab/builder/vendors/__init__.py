"""Vendor personas: real acquisition units as they write their images, one YAML file each.

A persona (``<name>.yaml`` beside this module, the format of docs/vendors.md) holds what a unit's
public DICOM conformance statement and public header dumps show: equipment names, detector formats,
bits, photometric interpretation, anode and filters, VOI LUT windows, tomosynthesis geometry and
its private blocks. A spec names one with ``vendor:``; the builder applies it to the IODs the
persona lists (``dicomfab.builder.vendors.header``) and to no other, so that no file mixes vendors.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from dicomfab._yaml import safe_load
from dicomfab.errors import Issue, SpecError, format_location, shorten

FOLDER = Path(__file__).parent
_PLAIN_NAME = re.compile(r"[a-z0-9-]+")  # a persona's name is its file's: no path
#: the IODs a persona may list: those whose builders read the persona's detector, exposure and
#: VOI LUT (every other IOD stays generic, whatever ``vendor`` says)
PERSONA_IODS = ("mg-presentation", "mg-processing", "dbt")

Spacing = tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]]
Matrix = Annotated[int, Field(ge=32, le=65535)]
LO = Annotated[str, Field(min_length=1, max_length=64)]  # the VRs' limits (PS3.5 6.2)
SH = Annotated[str, Field(min_length=1, max_length=16)]
Scalar = str | int | float


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectorFormat(_Model):
    name: str
    rows: Matrix
    columns: Matrix
    spacing: Spacing = Field(description="ImagerPixelSpacing in mm (row, column)")


class Detector(_Model):
    type: Literal["DIRECT", "SCINTILLATOR", "STORAGE", "SCAN"]
    id: SH | None = None
    description: str | None = None
    formats: list[DetectorFormat] = Field(min_length=1, description="the first is the default")
    bits_stored: Annotated[int, Field(ge=8, le=16)]
    bits_stored_processing: Annotated[int, Field(ge=8, le=16)] | None = None


class Exposure(_Model):
    anode: str
    filters: list[str] = Field(min_length=1)
    kvp: tuple[Annotated[int, Field(ge=15, le=50)], Annotated[int, Field(ge=15, le=50)]]
    dbt_filter: str | None = None

    @model_validator(mode="after")
    def _range(self) -> Exposure:
        if self.kvp[0] > self.kvp[1]:
            raise ValueError(f"kvp range {list(self.kvp)} runs backwards")
        return self


class Window(_Model):
    center: float
    width: Annotated[float, Field(gt=0)]
    explanation: LO


class VoiLut(_Model):
    function: Literal["LINEAR", "SIGMOID", "LINEAR_EXACT"]
    windows: list[Window] = Field(min_length=1)


class Tomosynthesis(_Model):
    angular_range: Annotated[float, Field(gt=0, le=90)]
    projections: Annotated[int, Field(ge=2, le=100)]
    slice_spacing_mm: Annotated[float, Field(gt=0)]
    rows: Matrix
    columns: Matrix
    spacing: Spacing


class PrivateElement(_Model):
    vr: Literal[
        "AE", "AS", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OW", "SH",
        "SL", "SS", "ST", "TM", "UI", "UL", "UN", "US", "UT",
    ]  # fmt: skip
    value: Scalar | list[Scalar] = Field(
        description="text, a number, a list for several values; hex digits for OB/OW/UN"
    )
    name: str = ""


class PrivateBlock(_Model):
    group: str = Field(pattern=r"^[0-9A-Fa-f]{4}$")
    creator: str = Field(min_length=1, max_length=64)
    elements: dict[str, PrivateElement]

    @model_validator(mode="after")
    def _odd_group_and_offsets(self) -> PrivateBlock:
        if int(self.group, 16) % 2 == 0 or int(self.group, 16) <= 0x0008:
            raise ValueError(f"group {self.group} is not a private (odd, above 0008) group")
        for offset in self.elements:
            # the low byte of (gggg,xxee): 00..FF (FDMS 1.0 has 0009,xx04, for one)
            if len(offset) != 2 or _hex(offset) < 0:
                raise ValueError(f"element offset {offset!r} is not two hex digits 00..FF")
        return self

    @property
    def group_number(self) -> int:
        return int(self.group, 16)


class Source(_Model):
    what: str
    source: str


class Persona(_Model):
    """One acquisition unit model as it writes its images (docs/vendors.md)."""

    title: str
    vendor: Literal["hologic", "ge", "siemens", "fujifilm", "philips", "planmed", "ims"]
    manufacturer: LO
    model: LO
    software_versions: list[LO] = Field(min_length=1)
    station_name: SH
    device_serial_number: LO
    iods: list[str] = Field(min_length=1)
    detector: Detector
    photometric: Literal["MONOCHROME1", "MONOCHROME2"]
    exposure: Exposure
    voi_lut: VoiLut
    dbt: Tomosynthesis | None = None
    private: list[PrivateBlock] = Field(default_factory=list)
    sources: list[Source] = Field(min_length=1)
    _name: str = PrivateAttr("")

    @property
    def name(self) -> str:
        """The file stem: what a spec's ``vendor`` names."""
        return self._name

    @model_validator(mode="after")
    def _consistent(self) -> Persona:
        for iod in self.iods:
            if iod not in PERSONA_IODS:
                raise ValueError(f"iods: {iod!r} is not one of {', '.join(PERSONA_IODS)}")
        if "dbt" in self.iods and (self.dbt is None or self.exposure.dbt_filter is None):
            raise ValueError("a persona that builds dbt needs dbt: and exposure.dbt_filter")
        return self

    @property
    def bits_processing(self) -> int:
        return self.detector.bits_stored_processing or self.detector.bits_stored

    @property
    def creators(self) -> list[tuple[int, str]]:
        """(group, Private Creator) of each private block."""
        return [(block.group_number, block.creator) for block in self.private]


def _hex(text: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        return -1


def load_file(path: Path) -> Persona:
    """One persona file; a wrong field is a SpecError naming the file and the field."""
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
        persona = Persona.model_validate(data)
    except yaml.YAMLError as exc:
        raise SpecError(Issue("", f"not YAML: {exc}"), str(path)) from None
    except ValidationError as exc:
        issues = [Issue(format_location(tuple(e["loc"])), e["msg"]) for e in exc.errors()]
        raise SpecError(issues, str(path)) from None
    persona._name = path.stem
    return persona


@cache
def _packaged(path: Path) -> Persona:
    return load_file(path)


@cache
def personas() -> dict[str, Persona]:
    """Every packaged persona by name, sorted."""
    return {path.stem: _packaged(path) for path in sorted(FOLDER.glob("*.yaml"))}


def names() -> list[str]:
    return list(personas())


def find(name: str) -> Persona | None:
    key = name.strip().lower()
    path = FOLDER / f"{key}.yaml"
    if _PLAIN_NAME.fullmatch(key) and path.is_file():  # its own file, not all of them
        return _packaged(path)
    return personas().get(key)


def suggest(name: str) -> str | None:
    """The persona name nearest to ``name`` (by its words, so ``hologic`` finds one)."""
    key = name.strip().lower()
    near = difflib.get_close_matches(key, names(), n=1, cutoff=0.5)
    if near:
        return near[0]
    starts = [n for n in names() if n.startswith(key.split("-")[0])] if key else []
    return starts[0] if starts else None


def persona(name: str) -> Persona:
    """The persona ``name``; a SpecError naming the nearest one if there is none."""
    found = find(name)
    if found is None:
        raise SpecError(
            [
                Issue(
                    "vendor",
                    f"unknown vendor persona {shorten(name)} (known: {', '.join(names())})",
                    suggest(name),
                )
            ]
        )
    return found
