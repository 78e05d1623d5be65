"""A Study Root C-FIND SCP of the tests' own on loopback (pynetdicom), answering with a handler."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, evt

from dicomfab.targets._dicomnet import DicomNode
from dicomfab.targets.verify_cfind import STUDY_ROOT_FIND

Answers = Callable[[Any], Iterator[tuple[int, Dataset | None]]]
"""pynetdicom's C-FIND handler: (status, identifier) for each answer of an event."""


@contextlib.contextmanager
def find_scp(answers: Answers) -> Iterator[DicomNode]:
    """The SCP, AE title PEER, as a node, shut down on the way out."""
    ae = AE(ae_title="PEER")
    ae.add_supported_context(STUDY_ROOT_FIND)
    handlers: list[Any] = [(evt.EVT_C_FIND, answers)]
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
    assert server is not None
    try:
        yield DicomNode("127.0.0.1", server.server_address[1], "PEER")
    finally:
        server.shutdown()
