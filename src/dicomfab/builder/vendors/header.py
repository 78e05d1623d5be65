"""What a vendor persona writes into a header: equipment, detector, exposure, windows, private
blocks, and the default pixel options of an IOD it builds. The IOD builders call these with the
persona the plan applied (``InstancePlan.vendor``), never with a global."""

from __future__ import annotations

import hashlib
from typing import Any

from pydicom.dataset import Dataset

from dicomfab.builder.elements import assign
from dicomfab.builder.vendors import DetectorFormat, Persona, PrivateElement
from dicomfab.studyspec.models import PixelOptions

_BINARY = frozenset({"OB", "OW", "UN"})
_INTEGER = frozenset({"US", "SS", "UL", "SL"})
_FLOAT = frozenset({"FL", "FD"})


def pixel_defaults(persona: Persona, iod_name: str, base: PixelOptions) -> PixelOptions:
    """The IOD's default pixel options as the persona's unit writes them: the default detector
    format (the reconstructed slice matrix for dbt), its bits stored, its photometric
    interpretation (DBT images are MONOCHROME2 by the IOD)."""
    update: dict[str, Any]
    if iod_name == "dbt" and persona.dbt is not None:
        update = {"rows": persona.dbt.rows, "columns": persona.dbt.columns}
        update["bits_stored"] = persona.detector.bits_stored
    else:
        default = persona.detector.formats[0]
        update = {"rows": default.rows, "columns": default.columns}
        processing = iod_name == "mg-processing"
        update["bits_stored"] = (
            persona.bits_processing if processing else persona.detector.bits_stored
        )
        update["photometric"] = persona.photometric
    return base.model_copy(update=update)


def equipment(ds: Dataset, persona: Persona) -> None:
    """General Equipment (C.7.5.1) as the unit writes it (the institution stays the site's)."""
    assign(ds, "Manufacturer", persona.manufacturer)
    assign(ds, "ManufacturerModelName", persona.model)
    versions = persona.software_versions
    assign(ds, "SoftwareVersions", versions[0] if len(versions) == 1 else list(versions))
    assign(ds, "StationName", persona.station_name)
    assign(ds, "DeviceSerialNumber", persona.device_serial_number)


def detector_format(persona: Persona, rows: int, columns: int) -> DetectorFormat:
    """The detector format of an image of ``rows`` × ``columns`` at full size: the format of that
    matrix if the persona has one, else the default (a scaled or explicit size keeps its
    detector's spacing)."""
    for found in persona.detector.formats:
        if (found.rows, found.columns) == (rows, columns):
            return found
    return persona.detector.formats[0]


def detector(ds: Dataset, persona: Persona, rows: int, columns: int) -> None:
    """DX Detector (C.8.11.4): type, ID, description and the format's ImagerPixelSpacing."""
    assign(ds, "DetectorType", persona.detector.type)
    if persona.detector.id is not None:
        assign(ds, "DetectorID", persona.detector.id)
    if persona.detector.description is not None:
        assign(ds, "DetectorDescription", persona.detector.description)
    assign(ds, "ImagerPixelSpacing", list(detector_format(persona, rows, columns).spacing))


def exposure(persona: Persona, key: str) -> tuple[str, int]:
    """(FilterMaterial, KVP) of one exposure: chosen from the persona's filters and kVp range by
    a digest of ``key`` (the same key, the same choice: a view's For Processing and For
    Presentation images share their exposure)."""
    digest = int.from_bytes(hashlib.sha256(f"{persona.name}/{key}".encode()).digest()[:8], "big")
    filters = persona.exposure.filters
    low, high = persona.exposure.kvp
    return filters[digest % len(filters)], low + (digest // len(filters)) % (high - low + 1)


def kvp_text(kvp: int) -> str:
    """KVP (DS) as units write it: ``29``, not ``29.0``."""
    return str(kvp)


def windows(persona: Persona, bits_stored: int) -> list[tuple[str, str, str]]:
    """The persona's VOI windows (centre, width, explanation), scaled from its own bits stored to
    the image's (a window written for 12 bits means 4× the values in 14)."""
    factor = 2.0 ** (bits_stored - persona.detector.bits_stored)
    return [
        (_decimal(w.center * factor), _decimal(w.width * factor), w.explanation)
        for w in persona.voi_lut.windows
    ]


def voi_lut(ds: Dataset, persona: Persona, bits_stored: int, *, first_only: bool = False) -> None:
    """VOI LUT (C.11.2), or a Frame VOI LUT item: one or several windows and the function;
    only the first window when ``first_only`` (the spec sets a window of its own: WindowCenter
    and WindowWidth must keep the same number of values, C.11.2.1.2)."""
    found = windows(persona, bits_stored)
    if len(found) == 1 or first_only:
        center, width, explanation = found[0]
        assign(ds, "WindowCenter", center)
        assign(ds, "WindowWidth", width)
        assign(ds, "WindowCenterWidthExplanation", explanation)
    else:
        assign(ds, "WindowCenter", [c for c, _, _ in found])
        assign(ds, "WindowWidth", [w for _, w, _ in found])
        assign(ds, "WindowCenterWidthExplanation", [e for _, _, e in found])
    assign(ds, "VOILUTFunction", persona.voi_lut.function)


def private_blocks(ds: Dataset, persona: Persona) -> None:
    """The persona's private blocks, each under its creator (pydicom reserves the block)."""
    for block in persona.private:
        private = ds.private_block(block.group_number, block.creator, create=True)
        for offset, element in block.elements.items():
            private.add_new(int(offset, 16), element.vr, private_value(element))


def private_value(element: PrivateElement) -> Any:
    """The element's value in the form pydicom writes for its VR."""
    value = element.value
    if element.vr in _BINARY:
        return _binary(value)
    if element.vr in _INTEGER:
        return [int(v) for v in value] if isinstance(value, list) else int(value)
    if element.vr in _FLOAT:
        return [float(v) for v in value] if isinstance(value, list) else float(value)
    if isinstance(value, list):
        return [str(v) for v in value]
    return value if isinstance(value, str) else str(value)


def _binary(value: Any) -> bytes:
    """Hex digits (spaces allowed) as bytes, other text as its ASCII bytes; even length."""
    text = str(value)
    try:
        data = bytes.fromhex(text)
    except ValueError:
        data = text.encode("ascii", "replace")
    return data + b"\0" * (len(data) % 2)


def _decimal(value: float) -> str:
    """A DS value as text: ``2048``, ``2047.5`` (at most two decimals)."""
    return f"{round(value, 2):.2f}".rstrip("0").rstrip(".")
