"""Run pynetdicom's qrscp app with three changes: it checks the called AE title (qrscp leaves
``require_called_aet`` off, so any called AE title is accepted — unlike a real PACS), it sets
TCP_NODELAY on every accepted connection (pynetdicom never does; see test-stack P2), and it
takes up to 64 associations at once instead of 10 (parallel C-STORE and C-FIND associations,
and a released one holds its slot until qrscp's reactor notices), and its SQLite index
waits up to :data:`BUSY_TIMEOUT` seconds for a lock instead of SQLite's 5: qrscp answers a
C-STORE with Success even when the row could not be added, so on a loaded machine, with several
associations storing at once, rows were lost while the files were kept.

Usage: ``python -m dicomfab.targets._qrscp [qrscp options]``
"""

from __future__ import annotations

import sys
from typing import Any

import sqlalchemy
from pynetdicom import AE, evt
from pynetdicom.apps.qrscp import handlers, qrscp

from dicomfab.targets._dicomnet import NODELAY_HANDLERS

BUSY_TIMEOUT = 300.0


def _waiting_engine(url: Any, **kwargs: Any) -> Any:
    """``sqlalchemy.create_engine`` for qrscp's handlers: SQLite waits for a busy index."""
    if str(url).startswith("sqlite"):
        kwargs.setdefault("connect_args", {}).setdefault("timeout", BUSY_TIMEOUT)
    return sqlalchemy.create_engine(url, **kwargs)


class _StrictAE(AE):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.require_called_aet = True
        self.maximum_associations = 64

    def start_server(self, address: Any, *args: Any, **kwargs: Any) -> Any:
        handlers = list(kwargs.pop("evt_handlers", None) or [])
        kwargs["evt_handlers"] = handlers + [
            h for h in NODELAY_HANDLERS if h[0] is evt.EVT_CONN_OPEN
        ]
        return super().start_server(address, *args, **kwargs)


def main(argv: list[str] | None = None) -> None:
    qrscp.AE = _StrictAE  # type: ignore[misc]
    handlers.create_engine = _waiting_engine
    qrscp.main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
