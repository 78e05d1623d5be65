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

from dicomfab.builder import transfer
from dicomfab.errors import SpecError, TransferSyntaxError, shorten
from dicomfab.studyspec.models import Settings
from dicomfab.studyspec.tags import CoercedValue, TagRef, parse_tag_key

if TYPE_CHECKING:
    from dicomfab.builder.iods.base import IODTemplate
    from dicomfab.builder.plan_model import InstancePlan

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
    if not instance.permissive:
        _check_quality(instance, chain, where, fail)
    if instance.iod.pixels is None:
        return
    _check_iod(instance, where, iod_fail)
    _check_pairs(instance, chain, iod_fail)
    _check_laterality(instance, chain, where, iod_fail)
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
    bits = pixels.bits_stored or 8
    if photometric == "RGB" and (bits, allocated) != (8, 8):
        fail(
            where.pixels("bits_stored"),
            f"RGB pixels (a screen capture) are 8 bits stored in 8 allocated, not {bits} in "
            f"{allocated}; set permissive: true to write it on purpose",
            "bits_stored: 8",
        )


#: attributes that come together (Type 1C on each other): WindowWidth is required when
#: WindowCenter is present (C.11.2), and a centre without a width means nothing
_PAIRS = (("WindowCenter", "WindowWidth"),)


def _check_pairs(instance: InstancePlan, chain: Sequence[tuple[str, Settings]], fail: Fail) -> None:
    """Leaving out one attribute of a pair while the other stays is refused."""
    removed = {ref.keyword for ref in instance.remove}
    for pair in _PAIRS:
        gone = [k for k in pair if k in removed]
        if len(gone) != 1 or set(pair) & instance.iod.forbidden:
            continue
        other = pair[1] if gone[0] == pair[0] else pair[0]
        fail(
            _removed_at(chain, gone[0], instance.path),
            f"{gone[0]} and {other} come together (Type 1C on each other): leave out both or "
            "neither; set permissive: true to write one alone on purpose",
            f"remove_tags: [{', '.join(pair)}]",
        )


def _check_laterality(
    instance: InstancePlan, chain: Sequence[tuple[str, Settings]], where: _Where, fail: Fail
) -> None:
    """Laterality (General Series) is Type 2C: required for a paired body part when the image
    has no ImageLaterality (nor FrameLaterality, as DBT has), and not allowed otherwise. So a
    breast image without ImageLaterality needs Laterality in its tags, and any other image
    must not be given it."""
    tags = {ref.keyword: value for ref, value in instance.tags.items()}
    without_image_laterality = "ImageLaterality" in {ref.keyword for ref in instance.remove}
    part = tags.get("BodyPartExamined")  # dciodvfy still sees a breast without it (the region)
    breast = part.value == "BREAST" if part is not None else instance.iod.breast_body_part
    needed = without_image_laterality and breast and not instance.iod.frame_laterality
    if needed and "Laterality" not in tags:
        fail(
            _removed_at(chain, "ImageLaterality", instance.path),
            "without ImageLaterality a breast image needs Laterality (Type 2C for a paired "
            "body part): give Laterality in tags, or keep ImageLaterality; set permissive: true "
            "to write it without either on purpose",
            "tags: {Laterality: R}",
        )
    elif not needed and "Laterality" in tags:
        fail(
            where.tags.get("Laterality", f"{instance.path}.tags.Laterality"),
            "Laterality (Type 2C) is allowed only on an image of a paired body part that has no "
            f"ImageLaterality{' or FrameLaterality' if instance.iod.frame_laterality else ''}; "
            "this one has it: leave Laterality out, or set permissive: true to write it on "
            "purpose",
        )


def _removed_at(chain: Sequence[tuple[str, Settings]], keyword: str, default: str) -> str:
    """The ``remove_tags`` of the deepest level that leaves ``keyword`` out."""
    found = f"{default}.remove_tags"
    for level_path, level in chain:
        for key in level.remove_tags:
            try:
                if parse_tag_key(key).keyword == keyword:
                    found = f"{level_path}.remove_tags"
            except SpecError:  # an unknown key is reported where it is written
                continue
    return found


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
        elif keyword in iod.enumerated and value.value not in iod.enumerated[keyword]:
            allowed = iod.enumerated[keyword]
            fail(
                path,
                f"the {iod.title} IOD allows {keyword} {_list(allowed)}, not "
                f"{shorten(value.value)}; set permissive: true to write it on purpose",
                f"{keyword}: {allowed[0]}",
            )
        elif keyword in iod.value_counts and (problem := _count_problem(value, iod, keyword)):
            fail(path, f"{problem}; set permissive: true to write it on purpose")
        elif keyword in iod.forbidden:
            fail(
                path,
                f"{keyword} is not allowed in the {iod.title} IOD; remove it, or set "
                "permissive: true to write it on purpose",
            )
        elif keyword == "ViewCodeSequence" and value.vr == "SQ" and not instance.permissive:
            _check_view_codes(instance, value.value, path, fail)


def _count_problem(value: CoercedValue, iod: IODTemplate, keyword: str) -> str | None:
    """Why ``value`` has a number of values the IOD's module does not allow, or None."""
    rule = iod.value_counts[keyword]
    values = value.value if isinstance(value.value, list) else [value.value]
    count = len(values)
    if count < rule.least or (rule.most is not None and count > rule.most):
        if rule.most is None:
            wanted = f"at least {rule.least}"
        elif rule.most == rule.least:
            wanted = str(rule.least)
        else:
            wanted = f"{rule.least} to {rule.most}"
        return f"the {iod.title} IOD requires {wanted} values of {keyword}, not {count}"
    empty = [n + 1 for n, v in enumerate(values[: rule.filled]) if v in ("", None)]
    if empty:
        return f"the {iod.title} IOD requires value {empty[0]} of {keyword} (it is empty)"
    return None


def _check_view_codes(
    instance: InstancePlan, items: list[dict[TagRef, CoercedValue]], path: str, fail: Fail
) -> None:
    """Where ViewModifierCodeSequence is Type 2, an item without it gets it, empty; where it is
    Type 3, an empty one is refused (dciodvfy: 1-n items required)."""
    modifier = parse_tag_key("ViewModifierCodeSequence")
    type2 = instance.iod.view_modifier_type2
    for n, item in enumerate(items):
        given = next((v for ref, v in item.items() if ref.keyword == modifier.keyword), None)
        if given is None and type2:
            item[modifier] = CoercedValue("SQ", [])
        elif given is not None and not type2 and not given.value:
            fail(
                f"{path}[{n}].ViewModifierCodeSequence",
                f"ViewModifierCodeSequence is optional (Type 3) in the {instance.iod.title} IOD: "
                "when present it holds at least one item; give one or leave it out",
            )


def _check_quality(
    instance: InstancePlan, chain: Sequence[tuple[str, Settings]], where: _Where, fail: Fail
) -> None:
    """``quality`` would be ignored where the lossless transfer syntax it meets is chosen at its
    level or below it (or is the default). Set above a deeper level's lossless choice, it is for
    the lossy syntaxes elsewhere in the spec, and stays."""
    ts = instance.transfer_syntax
    quality_at = _deepest(chain, "quality")
    if ts.lossy or quality_at is None:
        return
    ts_at = _deepest(chain, "transfer_syntax")
    if ts_at is not None:
        if quality_at < ts_at:
            return
        try:
            transfer.get(chain[ts_at][1].transfer_syntax or "")
        except TransferSyntaxError:  # an unknown name is reported where it is written
            return
    lossy = " or ".join(t.name for t in transfer.REGISTRY if t.lossy)
    fail(
        where.setting("quality"),
        f"quality applies to lossy transfer syntaxes only, and {ts.name} is lossless: remove "
        f"quality, or choose a lossy transfer_syntax ({lossy})",
    )


def _deepest(chain: Sequence[tuple[str, Settings]], name: str) -> int | None:
    """The index in ``chain`` of the deepest level that sets ``name``, or None."""
    found = None
    for index, (_, level) in enumerate(chain):
        if getattr(level, name) is not None:
            found = index
    return found


def _check_codec(instance: InstancePlan, where: _Where, fail: Fail) -> None:
    ts = instance.transfer_syntax
    if not ts.compressed:
        return
    path = where.setting("transfer_syntax")
    pixels = instance.pixels
    if pixels.photometric == "RGB":
        native = " or ".join(t.name for t in transfer.REGISTRY if not t.compressed)
        fail(path, f"RGB pixels are written uncompressed only, not in {ts.name}", native)
        return
    bits = pixels.bits_stored or 8
    allocated = _bits_allocated(instance)
    why = transfer.check_bits(ts, bits)
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


def _alternatives(ts: transfer.TransferSyntax, bits: int, allocated: int) -> str | None:
    """``ts``'s alternatives that can hold these bits (all of them if none can)."""
    fitting = [
        name
        for name in ts.alternatives
        if transfer.check_bits(other := transfer.get(name), bits) is None
        and allocated in other.sample_bits
    ]
    return " or ".join(fitting or ts.alternatives) or None


def _nearest(value: int, allowed: tuple[int, ...]) -> int:
    return min(allowed, key=lambda a: (abs(a - value), a))


def _list(values: tuple[Any, ...]) -> str:
    return " or ".join(str(v) for v in values)
