"""What each IOD and each transfer syntax's codec can hold, checked once per planned instance.

The planner calls :func:`check` when an instance's settings are final. Each problem is reported
through the planner's ``fail`` at the path the user wrote (the level that set the value: a
``pixels`` field, a tag, ``transfer_syntax``), with the reason and the nearest valid choice.
IOD constraints are not enforced when the instance is ``permissive``: the value is then written as
asked, on purpose, and each broken constraint is declared in the instance's ``defects`` (which the
manifest lists). Codec limits are always enforced, since no codec can write what it cannot encode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from dicomfab.build import encoding
from dicomfab.errors import shorten
from dicomfab.spec.models import Settings
from dicomfab.spec.tags import CoercedValue, TagRef, parse_tag_key

if TYPE_CHECKING:
    from dicomfab.build.plan import InstancePlan

Fail = Callable[..., None]
"""The planner's ``fail(path, message, suggestion=None)``."""

_PIXEL_TAG = {
    "bits_allocated": "BitsAllocated",
    "bits_stored": "BitsStored",
    "photometric": "PhotometricInterpretation",
    "rows": "Rows",
    "columns": "Columns",
}


class _Where:
    """Where the user set a value: the deepest level of the chain that sets it."""

    def __init__(
        self,
        instance: InstancePlan,
        chain: Sequence[tuple[str, Settings]],
        tag_paths: dict[TagRef, str],
    ) -> None:
        self.instance = instance
        self.chain = chain
        self.tags = {ref.keyword: path for ref, path in tag_paths.items()}

    def pixels(self, name: str) -> str:
        found = set_at(self.chain, self.instance.path, name, pixels=True)
        return self.tags.get(_PIXEL_TAG.get(name, ""), found)

    def setting(self, name: str) -> str:
        return set_at(self.chain, self.instance.path, name)


def set_at(
    chain: Sequence[tuple[str, Settings]], path: str, name: str, pixels: bool = False
) -> str:
    """The path of the deepest level of ``chain`` that sets ``name`` (``pixels.name`` when
    ``pixels``), else that field at ``path``: a value written once is reported once, where the
    user wrote it (``defaults.…`` rather than each instance that inherits it)."""
    field = f"pixels.{name}" if pixels else name
    found = f"{path}.{field}"
    for level_path, level in chain:
        holder = level.pixels if pixels else level
        if holder is not None and getattr(holder, name) is not None:
            found = f"{level_path}.{field}"
    return found


def _bits_allocated(instance: InstancePlan) -> int:
    pixels = instance.pixels
    if pixels.bits_allocated is not None:
        return pixels.bits_allocated
    return 8 if (pixels.bits_stored or 8) <= 8 else 16


def check(
    instance: InstancePlan,
    chain: Sequence[tuple[str, Settings]],
    tag_paths: dict[TagRef, str],
    fail: Fail,
) -> None:
    """Report every IOD or codec constraint ``instance`` violates (a permissive instance declares
    the IOD's as defects instead); complete what the IOD makes Type 2 inside a sequence the user
    gave (an empty ViewModifierCodeSequence), unless permissive."""
    where = _Where(instance, chain, tag_paths)
    iod_fail = _declare(instance) if instance.permissive else fail
    _check_tags(instance, where, iod_fail)
    if instance.iod.pixels is None:
        return
    _check_iod(instance, where, iod_fail)
    _check_codec(instance, where, fail)


def _declare(instance: InstancePlan) -> Fail:
    """A ``fail`` that records the broken constraint in ``instance.defects`` (its reason: the
    message up to the advice on permissive)."""

    def declare(path: str, message: str, suggestion: str | None = None) -> None:
        defect = {"what": message.split("; ")[0], "at": path}
        if defect not in instance.defects:
            instance.defects.append(defect)

    return declare


def _check_iod(instance: InstancePlan, where: _Where, fail: Fail) -> None:
    iod = instance.iod
    pixels = instance.pixels
    allocated = _bits_allocated(instance)
    if allocated not in iod.bits_allocated:
        fail(
            where.pixels("bits_allocated"),
            f"the {iod.title} IOD allows BitsAllocated {_list(iod.bits_allocated)}, "
            f"not {allocated}; set permissive: true to write it on purpose",
            f"bits_allocated: {_nearest(allocated, iod.bits_allocated)}",
        )
    photometric = pixels.photometric or "MONOCHROME2"
    if photometric not in iod.photometrics:
        fail(
            where.pixels("photometric"),
            f"the {iod.title} IOD allows PhotometricInterpretation {_list(iod.photometrics)}, "
            f"not {photometric}; set permissive: true to write it on purpose",
            f"photometric: {iod.photometrics[0]}",
        )


def _check_tags(instance: InstancePlan, where: _Where, fail: Fail) -> None:
    iod = instance.iod
    for ref, value in instance.tags.items():
        keyword = ref.keyword or ""
        path = where.tags.get(keyword, f"{instance.path}.tags.{keyword}")
        if keyword == "Modality" and iod.modalities and value.value not in iod.modalities:
            # a breast view on DX or CR is a mammogram: MG is then the nearest choice
            breast = instance.view is not None and "MG" in iod.modalities
            fail(
                path,
                f"the {iod.title} IOD allows Modality {_list(iod.modalities)}, not "
                f"{shorten(value.value)}; set permissive: true to write it on purpose",
                f"Modality: {'MG' if breast else iod.modalities[0]}",
            )
        elif keyword in iod.forbidden:
            fail(
                path,
                f"{keyword} is not allowed in the {iod.title} IOD; remove it, or set "
                "permissive: true to write it on purpose",
            )
        elif keyword == "ViewCodeSequence" and value.vr == "SQ" and not instance.permissive:
            _complete_view_codes(value.value)


def _complete_view_codes(items: list[dict[TagRef, CoercedValue]]) -> None:
    """ViewModifierCodeSequence is Type 2 in each ViewCodeSequence item (C.8.11.5.1.1, and
    C.8.11.7 for mammography): an item without it gets it, empty."""
    modifier = parse_tag_key("ViewModifierCodeSequence")
    for item in items:
        if not any(ref.keyword == modifier.keyword for ref in item):
            item[modifier] = CoercedValue("SQ", [])


def _check_codec(instance: InstancePlan, where: _Where, fail: Fail) -> None:
    ts = instance.transfer_syntax
    if not ts.compressed:
        return
    path = where.setting("transfer_syntax")
    pixels = instance.pixels
    bits = pixels.bits_stored or 8
    allocated = _bits_allocated(instance)
    why = encoding.check_bits(ts, bits)
    if why:
        fail(path, why, _alternatives(ts, bits, allocated))
    elif ts.sample_bits and allocated not in ts.sample_bits:
        fail(
            path,
            f"{ts.name} encodes {_list(ts.sample_bits)}-bit samples only, not "
            f"BitsAllocated {allocated} (BitsStored {bits})",
            _alternatives(ts, bits, allocated),
        )
    rows, columns = pixels.rows or 0, pixels.columns or 0
    if ts.min_side and min(rows, columns) < ts.min_side:
        fail(
            path,
            f"{ts.name} needs at least {ts.min_side} rows and columns, not {rows}×{columns}",
            " or ".join(ts.alternatives) or f"rows and columns ≥ {ts.min_side}",
        )
    if ts.min_pixels and rows * columns < ts.min_pixels:
        fail(
            path,
            f"{ts.name} cannot encode frames of fewer than {ts.min_pixels} pixels "
            f"(its encoder runs out of room on small noisy frames), not {rows}×{columns}",
            " or ".join(ts.alternatives) or None,
        )


def _alternatives(ts: encoding.TransferSyntax, bits: int, allocated: int) -> str | None:
    """``ts``'s alternatives that can hold these bits (all of them if none can)."""
    fitting = [
        name
        for name in ts.alternatives
        if encoding.check_bits(other := encoding.get(name), bits) is None
        and allocated in other.sample_bits
    ]
    return " or ".join(fitting or ts.alternatives) or None


def _nearest(value: int, allowed: tuple[int, ...]) -> int:
    return min(allowed, key=lambda a: (abs(a - value), a))


def _list(values: tuple[Any, ...]) -> str:
    return " or ".join(str(v) for v in values)
