"""STOW-RS response parsing and the URL / credential helpers, without a network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from dicomfab.targets._dicomweb import (
    http_reason,
    safe_url,
    split_credentials,
    transport_reason,
)
from dicomfab.targets.stow import (
    NOT_MENTIONED,
    StoreItem,
    StowIngestor,
    batch_results,
    parse_store_response,
)
from dicomfab.targets.verify_qido import QidoVerifier, _text

A, B, C = "1.2.3.1", "1.2.3.2", "1.2.3.3"


def _ref(uid: str, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.1.2"]},
        "00081155": {"vr": "UI", "Value": [uid]},
    }
    for tag, code in extra.items():
        item[tag] = {"vr": "US", "Value": [code]}
    return item


def _response(referenced: list[Any] | None = None, failed: list[Any] | None = None) -> bytes:
    body: dict[str, Any] = {"00080005": {"vr": "CS", "Value": ["ISO_IR 100"]}}
    body["00081199"] = {"vr": "SQ", **({"Value": referenced} if referenced else {})}
    body["00081198"] = {"vr": "SQ", **({"Value": failed} if failed else {})}
    return json.dumps(body).encode()


def _files(*uids: str | None) -> list[tuple[Path, str | None]]:
    return [(Path(f"f{i}.dcm"), uid) for i, uid in enumerate(uids)]


def test_parse_referenced_failed_and_warning_items() -> None:
    body = _response(
        [_ref(A), _ref(B, **{"00081196": 0xB000})],
        [_ref(C, **{"00081197": 0xA700})],
    )
    items = parse_store_response(body)
    assert items == [
        StoreItem(A, "success"),
        StoreItem(B, "warning", 0xB000, "0xB000 Coercion of Data Elements"),
        StoreItem(C, "failure", 0xA700, "0xA700 Refused: Out of Resources"),
    ]


def test_a_failure_reason_on_a_referenced_item_is_a_warning() -> None:
    items = parse_store_response(_response([_ref(A, **{"00081197": 0x0110})]))
    assert items == [StoreItem(A, "warning", 0x0110, "0x0110 Processing Failure")]


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"<xml/>", b"[]", b'{"HttpError": "Not Found"}', b"[1, 2]", b"42"],
)
def test_what_is_not_a_store_response(body: bytes) -> None:
    assert parse_store_response(body) is None


def test_empty_sequences_are_a_store_response_with_no_items() -> None:
    assert parse_store_response(_response()) == []


def test_string_codes_are_understood() -> None:
    failed = [{"00081155": {"Value": [A]}, "00081197": {"Value": ["0xC000"]}}]
    items = parse_store_response(json.dumps({"00081198": {"vr": "SQ", "Value": failed}}))
    assert items == [StoreItem(A, "failure", 0xC000, "0xC000 Cannot Understand")]


def test_batch_200_maps_items_by_uid_and_flags_the_unmentioned() -> None:
    files = _files(A, B, None, C)
    body = _response([_ref(B), _ref(A)], [_ref(C, **{"00081197": 0x0122})])
    results = batch_results(files, 200, "HTTP 200 OK", body)
    assert [r.outcome for r in results] == ["success", "success", "warning", "failure"]
    assert [r.file.name for r in results] == ["f0.dcm", "f1.dcm", "f2.dcm", "f3.dcm"]
    assert all(r.sent for r in results)
    assert results[2].reason == NOT_MENTIONED
    assert results[3].status == 0x0122 and results[3].status_hex == "0x0122"
    assert "SOP Class Not Supported" in results[3].reason


def test_batch_orthanc_400_keeps_the_stored_ones() -> None:
    """Orthanc 1.10.1: one unparseable part -> HTTP 400, the others listed as referenced."""
    files = _files(A, None, B)
    results = batch_results(files, 400, "HTTP 400 Bad Request: …", _response([_ref(A), _ref(B)]))
    assert [r.outcome for r in results] == ["success", "failure", "success"]
    assert results[1].reason == f"HTTP 400 Bad Request: {NOT_MENTIONED}"
    assert results[1].status is None


def test_batch_http_error_without_a_store_body_fails_every_file() -> None:
    reason = "HTTP 500 Internal Server Error: boom"
    results = batch_results(_files(A, B), 500, reason, b"boom\nmore")
    assert [(r.outcome, r.sent, r.status, r.reason) for r in results] == [
        ("failure", True, None, reason)
    ] * 2


def test_batch_2xx_without_a_store_body_is_a_warning() -> None:
    results = batch_results(_files(A), 200, "HTTP 200 OK", b"")
    assert results[0].outcome == "warning"
    assert "not a DICOM JSON store response" in results[0].reason


def test_duplicate_uids_in_a_batch_each_take_one_item() -> None:
    results = batch_results(_files(A, A), 200, "HTTP 200 OK", _response([_ref(A)]))
    assert [r.outcome for r in results] == ["success", "warning"]


def test_items_for_files_not_in_the_batch_are_ignored() -> None:
    results = batch_results(_files(A), 202, "HTTP 202 Accepted", _response([_ref(B), _ref(A)]))
    assert [r.outcome for r in results] == ["success"]


def test_http_reason_is_one_line_at_most_200_characters() -> None:
    response = httpx.Response(409, content=b"\n  first line " + b"x" * 500 + b"\nsecond")
    reason = http_reason(response)
    assert reason.startswith("HTTP 409 Conflict: first line xxx")
    assert len(reason) <= len("HTTP 409 Conflict: ") + 200
    assert "\n" not in reason and "second" not in reason
    orthanc = httpx.Response(404, json={"HttpError": "Not Found", "Message": "Unknown resource"})
    assert http_reason(orthanc) == "HTTP 404 Not Found: Unknown resource"
    assert http_reason(httpx.Response(503)) == "HTTP 503 Service Unavailable"


def test_credentials_come_out_of_the_url_and_are_masked() -> None:
    url, user, password = split_credentials("http://bob:s3cr%3At@pacs:8042/dicom-web/", None, None)
    assert (url, user, password) == ("http://pacs:8042/dicom-web", "bob", "s3cr:t")
    assert safe_url(url, user, password) == "http://bob:***@pacs:8042/dicom-web"
    assert split_credentials("http://bob:x@pacs/dw", "alice", "pw") == (
        "http://pacs/dw",
        "alice",
        "pw",
    )
    assert safe_url("http://pacs/dw", "alice", None) == "http://alice@pacs/dw"
    assert safe_url("http://pacs/dw", None, None) == "http://pacs/dw"


def test_reprs_never_show_the_password() -> None:
    secret = "Top-Secret-42"
    for obj in (
        StowIngestor(f"http://u:{secret}@h:1/dicom-web"),
        StowIngestor("http://h:1/dicom-web", username="u", password=secret),
        QidoVerifier(f"http://u:{secret}@h:1/dicom-web"),
        QidoVerifier("http://h:1/dicom-web", username="u", password=secret),
    ):
        assert secret not in repr(obj) and secret not in str(obj)
        assert "u:***@h:1" in repr(obj)


def test_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch"):
        StowIngestor("http://h/dicom-web", batch=0)


def test_transport_reasons() -> None:
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    assert transport_reason(refused, 60, 10) == "cannot connect (Connection refused)"
    assert transport_reason(httpx.ConnectTimeout("x"), 60, 10) == (
        "cannot connect (no answer within 10 s)"
    )
    assert transport_reason(httpx.ReadTimeout("x"), 60, 10) == "no answer within 60 s"
    assert transport_reason(httpx.RemoteProtocolError("closed"), 60, 10).startswith(
        "connection lost (RemoteProtocolError: closed"
    )


def test_qido_text_reads_person_names_and_multiple_values() -> None:
    ds = {
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane", "Ideographic": "x"}]},
        "00080060": {"vr": "CS", "Value": ["MG", "OT"]},
        "00080050": {"vr": "SH"},
        "00200013": {"vr": "IS", "Value": [4]},
        "00100020": {"vr": "LO", "Value": [""]},
    }
    assert _text(ds, "00100010") == "Doe^Jane"
    assert _text(ds, "00080060") == "MG\\OT"
    assert _text(ds, "00080050") is None
    assert _text(ds, "00200013") == "4"
    assert _text(ds, "00100020") is None
    assert _text(ds, "0020000D") is None
    assert _text({"00100010": {"vr": "PN", "Value": [{"Ideographic": "x"}]}}, "00100010") is None
