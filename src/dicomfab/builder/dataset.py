"""Instance plan → pydicom Dataset: the IOD's modules, then the spec's tags, then removals.

Pixel data is not attached here (see ``builder.transfer.pixel_data``), so that native pixels can
be streamed from a shared buffer instead of copied into every dataset.
"""

from __future__ import annotations

from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence

from dicomfab.builder.elements import assign
from dicomfab.builder.pixels.image import PixelImage
from dicomfab.builder.plan_model import InstancePlan
from dicomfab.builder.vendors import header as vendor_header
from dicomfab.studyspec.tags import CoercedValue, TagRef

# dicomfab's own UUID-derived UID (PS3.5 B.2): no organisation root is borrowed
IMPLEMENTATION_CLASS_UID = "2.25.186286998657177681993761274476141863721"
IMPLEMENTATION_VERSION = "DICOMFAB_010"


def build_dataset(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    """The full header of one instance (without PixelData), with its file meta information.

    Call it inside ``validation.writing_mode(permissive=plan.permissive)``."""
    ds = plan.iod.build(plan, image)
    if plan.vendor is not None:  # the unit's private blocks, under the spec's tags
        vendor_header.private_blocks(ds, plan.vendor)
    apply_tags(ds, plan.tags, permissive=plan.permissive)
    for ref in plan.remove:
        _remove(ds, ref)
    _character_set(ds)
    ds.file_meta = file_meta(ds, plan.transfer_syntax.uid)
    return ds


def file_meta(ds: Dataset, transfer_syntax_uid: str) -> FileMetaDataset:
    """The File Meta Information (PS3.10 7.1); the UI elements hold pydicom UIDs, as ``meta.X =
    UID(...)`` would store them (the element converts a str)."""
    meta = FileMetaDataset()
    assign(meta, "MediaStorageSOPClassUID", str(ds.get("SOPClassUID", "")))
    assign(meta, "MediaStorageSOPInstanceUID", str(ds.get("SOPInstanceUID", "")))
    assign(meta, "TransferSyntaxUID", transfer_syntax_uid)
    assign(meta, "ImplementationClassUID", IMPLEMENTATION_CLASS_UID)
    assign(meta, "ImplementationVersionName", IMPLEMENTATION_VERSION)
    return meta


def apply_tags(ds: Dataset, tags: dict[TagRef, CoercedValue], *, permissive: bool) -> None:
    """Set every spec tag on ``ds`` (private elements in their creator's block)."""
    for ref, value in tags.items():
        _set(ds, ref, value, permissive)


def _set(ds: Dataset, ref: TagRef, value: CoercedValue, permissive: bool) -> None:
    if value.vr == "SQ":
        items = []
        for item_tags in value.value:
            item = Dataset()
            apply_tags(item, item_tags, permissive=permissive)
            items.append(item)
        element_value: Any = Sequence(items)
    else:
        element_value = value.value
    if ref.is_private:
        assert ref.creator is not None
        block = ds.private_block(ref.group, ref.creator, create=True)
        tag = block.get_tag(ref.element)
    else:
        tag = ref.tag
    ds[tag] = DataElement(tag, value.vr, element_value)


def _remove(ds: Dataset, ref: TagRef) -> None:
    if ref.is_private:
        assert ref.creator is not None
        try:
            block = ds.private_block(ref.group, ref.creator)
        except KeyError:
            return
        ds.pop(block.get_tag(ref.element), None)
    else:
        ds.pop(ref.tag, None)


def _character_set(ds: Dataset) -> None:
    """Declare UTF-8 (ISO_IR 192) when any text is not ASCII, unless the spec chose a set."""
    if "SpecificCharacterSet" in ds:
        return
    if _has_non_ascii(ds):
        ds.SpecificCharacterSet = "ISO_IR 192"


_TEXT_VRS = frozenset({"PN", "LO", "SH", "ST", "LT", "UT", "UC"})


def _has_non_ascii(ds: Dataset) -> bool:
    # the elements as stored, unsorted (iterating a Dataset sorts its tags: a third of the cost)
    for stored in ds._dict.values():
        elem = stored if type(stored) is DataElement else ds[stored.tag]
        if elem.VR == "SQ":
            if any(_has_non_ascii(item) for item in elem.value):
                return True
        elif elem.VR in _TEXT_VRS:
            if type(elem.value) is str:  # the usual case, without a generator
                if not elem.value.isascii():
                    return True
                continue
            values = elem.value if isinstance(elem.value, list | tuple) else [elem.value]
            if any(not str(v).isascii() for v in values if v is not None):
                return True
    return False
