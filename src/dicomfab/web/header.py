"""A DICOM file's header as rows for the UI: sequences flattened, with their depth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from dicomfab.output.preview import read_header

MAX_VALUE = 200
_ITEM_TAG = "(FFFE,E000)"


def _text(elem: DataElement) -> str:
    try:
        value = elem.value
    except Exception as exc:  # a deliberately broken file may hold anything
        return f"<unreadable: {exc}>"
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        text = "\\".join(str(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _tag(elem: DataElement) -> str:
    return f"({elem.tag.group:04X},{elem.tag.element:04X})"


def _rows(ds: Dataset, depth: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for elem in ds:
        keyword = elem.keyword or elem.name
        if elem.VR == "SQ":
            items = elem.value or []
            rows.append(
                {
                    "tag": _tag(elem),
                    "keyword": keyword,
                    "vr": "SQ",
                    "value": f"<{len(items)} item{'s' if len(items) != 1 else ''}>",
                    "depth": depth,
                }
            )
            for n, item in enumerate(items, 1):
                rows.append(
                    {
                        "tag": _ITEM_TAG,
                        "keyword": "Item",
                        "vr": "",
                        "value": f"item {n}",
                        "depth": depth + 1,
                    }
                )
                rows.extend(_rows(item, depth + 2))
            continue
        rows.append(
            {
                "tag": _tag(elem),
                "keyword": keyword,
                "vr": str(elem.VR),
                "value": _text(elem),
                "depth": depth,
            }
        )
    return rows


def header_rows(path: Path) -> dict[str, Any]:
    """``{path, elements: [{tag, keyword, vr, value, depth}]}``: the file meta, then the data
    set, read as ``dicomfab inspect`` reads it."""
    ds = read_header(path)
    meta = getattr(ds, "file_meta", None)
    elements = (_rows(meta, 0) if meta is not None else []) + _rows(ds, 0)
    return {"path": str(path), "elements": elements}
