"""The direct P-DATA path of C-STORE: the same bytes on the wire as pynetdicom would send."""

from __future__ import annotations

import io
import itertools
import socket
import threading
from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom.dimse_messages import C_STORE_RQ
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import encode, split_dataset
from pynetdicom.pdu import P_DATA_TF

from dicomfab.targets import _pdata

MG = "1.2.840.10008.5.1.4.1.1.1.2"


def _pynetdicom_request(sop_class: str, sop_instance: str, msg_id: int, data: bytes) -> C_STORE_RQ:
    req = C_STORE()
    req.MessageID = msg_id
    req.Priority = 2
    req.AffectedSOPClassUID = sop_class
    req.AffectedSOPInstanceUID = sop_instance
    req.DataSet = io.BytesIO(data)
    msg = C_STORE_RQ()
    msg.primitive_to_message(req)
    return msg


@pytest.mark.parametrize(
    ("sop_instance", "msg_id"), [("2.25.1", 1), ("2.25.12", 65535), ("1.2.3.4.5.6.7", 300)]
)
def test_command_set_is_the_bytes_pynetdicom_encodes(sop_instance: str, msg_id: int) -> None:
    msg = _pynetdicom_request(MG, sop_instance, msg_id, b"\0\0")
    assert _pdata.command_set(MG, sop_instance, msg_id) == encode(msg.command_set, True, True)


@pytest.mark.parametrize("max_pdu", [16384, 4096, 250, 0])
@pytest.mark.parametrize("size", [1, 16377, 16378, 16379, 100_001])
def test_pdus_are_the_bytes_pynetdicom_sends(max_pdu: int, size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    msg = _pynetdicom_request(MG, "2.25.77", 3, data)
    theirs = b""
    for primitive in msg.encode_msg(5, max_pdu or 0):
        pdu = P_DATA_TF()
        pdu.from_primitive(primitive)
        theirs += pdu.encode()
    command = _pdata.command_set(MG, "2.25.77", 3)
    if max_pdu == 0:  # pynetdicom: one PDU each; ours: fragments of UNLIMITED_FRAGMENT
        assert len(data) < _pdata.UNLIMITED_FRAGMENT
    ours = b"".join(
        bytes(b)
        for b in _pdata.pdu_buffers(5, command, memoryview(data), _pdata.fragment_size(max_pdu))
    )
    assert ours == theirs


def test_fragment_respects_the_peer_maximum() -> None:
    assert _pdata.fragment_size(16384) == 16378
    assert _pdata.fragment_size(0) == _pdata.UNLIMITED_FRAGMENT


def _part10(path: Path, odd_meta: bool) -> Path:
    ds = Dataset()
    ds.SOPClassUID = MG
    ds.SOPInstanceUID = "2.25.5"
    ds.PatientID = "P1"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MG
    ds.file_meta.MediaStorageSOPInstanceUID = "2.25.5"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if odd_meta:
        ds.file_meta.PrivateInformationCreatorUID = "1.2.3"
        ds.file_meta.PrivateInformation = b"\1\2\3\4"  # OB: a long-form element in the meta
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("odd_meta", [False, True])
def test_dataset_offset_matches_pynetdicom(tmp_path: Path, odd_meta: bool) -> None:
    path = _part10(tmp_path / "a.dcm", odd_meta)
    raw = path.read_bytes()
    _, offset = split_dataset(path)
    assert bytes(_pdata.part10_dataset(raw)) == raw[offset:]
    data, buffer = _pdata.read_part10(path, bytearray(10))  # too small: a new one
    assert bytes(data) == raw[offset:] and len(buffer) >= len(raw)
    again, same = _pdata.read_part10(path, buffer)
    assert bytes(again) == raw[offset:] and same is buffer


def test_not_part10_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="DICM"):
        _pdata.part10_dataset(b"\0" * 200)


def test_sendmsg_all_writes_everything_in_order_through_partial_sends() -> None:
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    received = bytearray()

    def read() -> None:
        while chunk := b.recv(1000):
            received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    payload = bytes(range(256)) * 4000
    buffers: list[bytes | memoryview] = [payload[i : i + 777] for i in range(0, len(payload), 777)]
    try:
        _pdata.sendmsg_all(a, buffers, timeout=10)
    finally:
        a.close()
        reader.join(10)
        b.close()
    assert bytes(received) == payload


def test_sendmsg_all_fails_on_a_closed_peer() -> None:
    a, b = socket.socketpair()
    b.close()
    with pytest.raises(_pdata.SendFailed):
        _pdata.sendmsg_all(a, [b"x" * 100_000] * 10, timeout=5)
    a.close()


@pytest.mark.parametrize("cuts", [(0,), (1,), (16377,), (16378,), (5, 40_000), (16378, 32756)])
def test_data_in_parts_is_sent_as_if_joined(cuts: tuple[int, ...]) -> None:
    data = bytes(i % 253 for i in range(70_001))
    command = _pdata.command_set(MG, "2.25.9", 4)
    bounds = [0, *cuts, len(data)]
    parts = [memoryview(data)[a:b] for a, b in itertools.pairwise(bounds)]
    joined = _pdata.pdu_buffers(3, command, memoryview(data), 16378)
    split = _pdata.pdu_buffers(3, command, parts, 16378)
    assert b"".join(map(bytes, split)) == b"".join(map(bytes, joined))
