"""A verifier that lists the studies itself observes the same, in the same order, whatever order
the target lists them in (Orthanc + PostgreSQL's order changes from one query to the next:
seen as a failed comparison of a 1-association and a 4-association C-FIND run).

The peers are real servers on loopback (a pynetdicom C-FIND SCP, an HTTP QIDO-RS server) that
list their studies in a different order at every listing query."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from find_scp import find_scp
from pydicom.dataset import Dataset

from dicomfab.targets._dicomnet import DicomNode
from dicomfab.targets.verify_cfind import CFindVerifier
from dicomfab.targets.verify_qido import QidoVerifier

STUDIES = [f"1.2.{n}" for n in range(1, 7)]
PER_STUDY = 2


def _instances(study: str) -> list[str]:
    return [f"{study}.{i + 1}" for i in range(PER_STUDY)]


WANTED = [uid for study in STUDIES for uid in _instances(study)]


class _Rotating:
    """The studies, rotated by one more place at each listing."""

    def __init__(self) -> None:
        self._turn = itertools.count()

    def listing(self) -> list[str]:
        k = next(self._turn) % len(STUDIES)
        return STUDIES[k:] + STUDIES[:k]


@pytest.fixture
def scp() -> Iterator[DicomNode]:
    order = _Rotating()

    def find(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        query = event.identifier
        study = str(query.get("StudyInstanceUID", "") or "")
        if query.QueryRetrieveLevel == "STUDY":
            for uid in [study] if study else order.listing():
                ds = Dataset()
                ds.QueryRetrieveLevel = "STUDY"
                ds.StudyInstanceUID = uid
                ds.PatientID = "P1"
                ds.PatientName = "Test^Order"
                yield 0xFF00, ds
            return
        for sop in _instances(study):
            ds = Dataset()
            ds.QueryRetrieveLevel = "IMAGE"
            ds.StudyInstanceUID = study
            ds.SOPInstanceUID = sop
            yield 0xFF00, ds

    with find_scp(find) as node:
        yield node


def _json(tags: dict[str, tuple[str, str]]) -> dict[str, Any]:
    return {tag: {"vr": vr, "Value": [value]} for tag, (vr, value) in tags.items()}


@pytest.fixture
def qido() -> Iterator[str]:
    order = _Rotating()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/dicom-web/studies":
                if "offset=" in self.path and "offset=0" not in self.path:
                    body: list[dict[str, Any]] = []  # one page holds them all
                else:
                    body = [
                        _json({"0020000D": ("UI", uid), "00100020": ("LO", "P1")})
                        for uid in order.listing()
                    ]
            else:  # /dicom-web/studies/{uid}/instances
                study = path.split("/")[3]
                body = [
                    _json({"0020000D": ("UI", study), "00080018": ("UI", sop)})
                    for sop in _instances(study)
                ]
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
    finally:
        server.shutdown()
        server.server_close()


def _order(verifier: CFindVerifier | QidoVerifier) -> list[str]:
    observed = verifier.observe(WANTED)
    assert sorted(observed.instances) == sorted(WANTED)
    return list(observed.instances)


def test_cfind_order_does_not_follow_the_listing(scp: DicomNode) -> None:
    runs = [
        _order(CFindVerifier(scp.host, scp.port, scp.called_ae, timeout=5, parallel=parallel))
        for parallel in (1, 4, 1)
    ]
    assert runs[0] == runs[1] == runs[2] == WANTED  # by study UID, not as listed


def test_qido_order_does_not_follow_the_listing(qido: str) -> None:
    runs = [_order(QidoVerifier(qido, timeout=5, parallel=parallel)) for parallel in (1, 4, 1)]
    assert runs[0] == runs[1] == runs[2] == WANTED
