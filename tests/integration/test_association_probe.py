"""The probe of ``dicomfab check --associations`` (how many associations a target serves at once)
against real SCPs on loopback: the session's Orthanc (4 DICOM threads, its configuration), a
second Orthanc configured with 2, and DCMTK's ``storescp``, which serves one association at a
time (without ``--fork``). The probe sends C-ECHOs only: nothing is stored."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from stack import Orthanc, OrthancStack, build_bind_shim, free_port

from dicomfab.load.associations import probe_concurrency
from dicomfab.targets._dicomnet import DicomNode

STORESCP = Path("/usr/bin/storescp")  # DCMTK's (make deps)


def _node(orthanc: Orthanc) -> DicomNode:
    return DicomNode(orthanc.host, orthanc.dicom_port, orthanc.ae_title)


def test_the_session_orthanc_serves_its_four_dicom_threads(orthanc_stack: OrthancStack) -> None:
    found = probe_concurrency(_node(orthanc_stack.orthanc), 8)
    assert found.served == 4 and found.limited, found
    assert found.reason is not None and found.reason.startswith("with 5 open, a C-ECHO waited")
    assert len(found.slowest) == 5  # 1 … 4 served promptly, the fifth waited
    assert max(found.slowest[:4]) < 0.25 <= found.slowest[4]


def test_a_ceiling_above_the_probe_is_not_a_limit(orthanc_stack: OrthancStack) -> None:
    found = probe_concurrency(_node(orthanc_stack.orthanc), 3)
    assert found.served == 3 and not found.limited and found.reason is None
    assert len(found.slowest) == 3


@pytest.fixture()
def two_thread_orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    """Orthanc with ``DicomThreadsCount: 2`` and its own SQLite index (no plugins)."""
    shim = build_bind_shim(tmp_path)
    orthanc = Orthanc.start(
        tmp_path / "orthanc", shim, {"host": "", "port": 0, "database": "", "user": "",
                                     "password": ""},
        extra_config={"Plugins": [], "DicomThreadsCount": 2},
    )  # fmt: skip
    try:
        yield orthanc
    finally:
        orthanc.stop()


def test_an_orthanc_with_two_threads_serves_two(two_thread_orthanc: Orthanc) -> None:
    found = probe_concurrency(_node(two_thread_orthanc), 8)
    assert found.served == 2 and found.limited, found
    assert found.reason is not None and found.reason.startswith("with 3 open")


def test_a_single_process_storescp_serves_one(tmp_path: Path) -> None:
    assert STORESCP.exists(), "DCMTK's storescp is missing: run `make deps`"
    port = free_port()
    (tmp_path / "in").mkdir()
    scp = subprocess.Popen(
        [str(STORESCP), "--aetitle", "STORESCP", "--output-directory", str(tmp_path / "in"),
         str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        node = DicomNode("127.0.0.1", port, "STORESCP")
        deadline = time.monotonic() + 10
        while True:  # until it listens
            found = probe_concurrency(node, 1, timeout=2.0)
            if found.served is not None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert found.served == 1, found
        start = time.monotonic()
        found = probe_concurrency(node, 4, timeout=2.0)
        took = time.monotonic() - start
    finally:
        scp.terminate()
        scp.wait(timeout=10)
    assert found.served == 1 and found.limited, found
    assert found.reason is not None and found.reason.startswith("association 2:")
    assert took < 10  # the second request's wait is bounded by the probe's timeout
