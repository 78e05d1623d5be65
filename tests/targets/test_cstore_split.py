"""How C-STORE ingestion splits files over parallel associations."""

from __future__ import annotations

from pathlib import Path

from pydicom.uid import ExplicitVRLittleEndian

from dicomfab.targets.cstore import _Item, _split


def _item(index: int, uid: str) -> _Item:
    sc = "1.2.840.10008.5.1.4.1.1.7"
    return _Item(index, Path(f"{index}.dcm"), sc, uid, ExplicitVRLittleEndian, True)


def test_contiguous_chunks_of_nearly_equal_size() -> None:
    items = [_item(i, f"1.2.{i}") for i in range(7)]
    assert [[i.index for i in c] for c in _split(items, 3)] == [[0, 1, 2], [3, 4], [5, 6]]


def test_copies_of_one_uid_travel_on_one_association_in_order() -> None:
    # 1 and 5 share a UID, as do 4 and 6: without the rule, 5 and 6 would go on the third
    # association, in parallel with their first copies
    uids = ["1.2.0", "1.2.dup", "1.2.2", "1.2.3", "1.2.other", "1.2.dup", "1.2.other"]
    items = [_item(i, uid) for i, uid in enumerate(uids)]
    chunks = [[i.index for i in c] for c in _split(items, 3)]
    assert chunks == [[0, 1, 2, 5], [3, 4, 6]]
