"""The embedded default target: pynetdicom's Query/Retrieve SCP app (``qrscp``) in a subprocess.

The subprocess runs in a session of its own (:mod:`dicomfab.targets._children`): the terminal's
Ctrl-C reaches dicomfab only, which stops the server on its way out (the interpreter's exit at
the latest).

It listens on a free loopback port, stores what it receives in its own folder
(``instances/<SOPInstanceUID>``, no extension) and indexes it in SQLite (``instances.sqlite``;
tables ``patient``, ``study``, ``series``, ``image`` and ``instance`` — the last one holds
everything: ``sop_instance_uid``, ``study_instance_uid``, ``series_instance_uid``,
``transfer_syntax_uid``, ``filename``, …). C-STORE in; SQL and C-FIND out. It runs through
:mod:`dicomfab.targets._qrscp`, which makes it check the called AE title and set TCP_NODELAY.

Two behaviours of qrscp 1.1.0 (pynetdicom 3.0) worth knowing: it answers C-STORE with Success
even when adding the instance to the database failed (for example PatientID or a UID longer
than 64 characters: the file is stored, the row is not; its log says "Unable to add instance
to the database"); and a second copy of an instance overwrites the first.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from dicomfab.errors import TargetError
from dicomfab.targets import _children
from dicomfab.targets._dicomnet import DicomNode, echo

DEFAULT_AE_TITLE = "DICOMFAB_PACS"

_CONFIG = """\
# written by dicomfab for an embedded qrscp; see pynetdicom/apps/qrscp/default.ini
[DEFAULT]
    ae_title: {ae_title}
    port: {port}
    max_pdu: {max_pdu}
    acse_timeout: 30
    dimse_timeout: 30
    network_timeout: 60
    bind_address: {host}
    instance_location: {storage_dir}
    database_location: {database_path}
    log_identifier: False
"""


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the OS picks it; another process could still take it
    before the server binds, which then fails to start with a clear error)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EmbeddedPACS:
    """pynetdicom's qrscp on a free loopback port, with its own folder.

    >>> with EmbeddedPACS() as pacs:
    ...     CStoreIngestor(pacs.host, pacs.port, pacs.ae_title).ingest(files)

    ``workdir``: where the config, log, database and instances go; by default a new temporary
    folder, removed on exit unless ``keep`` is true or the server failed (so its log can be
    read). A given ``workdir`` is never removed.
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        ae_title: str = DEFAULT_AE_TITLE,
        host: str = "127.0.0.1",
        port: int | None = None,
        max_pdu: int = 16382,
        log_level: str = "info",
        startup_timeout: float = 20.0,
        keep: bool = False,
    ) -> None:
        self.ae_title = ae_title
        self.host = host
        self._port = port
        self.max_pdu = max_pdu
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self._given_workdir = workdir
        self.keep = keep or workdir is not None
        self._workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._failed = False

    # --- where things are -------------------------------------------------------------------

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise TargetError("the embedded PACS is not started")
        return self._workdir

    @property
    def port(self) -> int:
        if self._port is None:
            raise TargetError("the embedded PACS is not started")
        return self._port

    @property
    def node(self) -> DicomNode:
        """Where to send and ask (started: its port is known)."""
        return DicomNode(self.host, self.port, self.ae_title)

    @property
    def database_path(self) -> Path:
        """The SQLite file qrscp indexes received instances in."""
        return self.workdir / "instances.sqlite"

    @property
    def storage_dir(self) -> Path:
        """Where qrscp writes each received instance, named by its SOP Instance UID."""
        return self.workdir / "instances"

    @property
    def config_path(self) -> Path:
        return self.workdir / "qrscp.ini"

    @property
    def log_path(self) -> Path:
        """qrscp's stdout and stderr; kept after exit when the workdir is kept."""
        return self.workdir / "qrscp.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> EmbeddedPACS:
        if self._process is not None:
            raise TargetError("the embedded PACS is already started")
        if importlib.util.find_spec("sqlalchemy") is None:
            raise TargetError(
                "the embedded PACS (pynetdicom's qrscp) needs SQLAlchemy: pip install sqlalchemy"
            )
        if self._given_workdir is not None:
            self._workdir = self._given_workdir.resolve()
            self._workdir.mkdir(parents=True, exist_ok=True)
        else:
            self._workdir = Path(tempfile.mkdtemp(prefix="dicomfab-pacs-"))
            if not self.keep:
                _children.remove_at_exit(self._workdir)
        if self._port is None:
            self._port = free_port(self.host)
        self.storage_dir.mkdir(exist_ok=True)
        self.config_path.write_text(
            _CONFIG.format(
                ae_title=self.ae_title,
                port=self._port,
                max_pdu=self.max_pdu,
                host=self.host,
                storage_dir=self.storage_dir,
                database_path=self.database_path,
            ),
            encoding="utf-8",
        )
        command = [sys.executable, "-m", "dicomfab.targets._qrscp"]
        command += ["--config", str(self.config_path), "--log-level", self.log_level]
        with self.log_path.open("wb") as log:
            self._process = _children.spawn(
                command,
                cwd=self._workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_ready()
        except BaseException:
            self._failed = True
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            code = self._process.poll()
            if code is not None:
                raise TargetError(
                    f"the embedded PACS (qrscp) exited with code {code} while starting on "
                    f"{self.host}:{self.port}; see {self.log_path}"
                )
            if self._listening():
                try:
                    if echo(self.node) == 0:
                        return
                except TargetError:
                    pass
            if time.monotonic() > deadline:
                raise TargetError(
                    f"the embedded PACS (qrscp) did not answer C-ECHO on {self.host}:{self.port} "
                    f"within {self.startup_timeout:g} s; see {self.log_path}"
                )
            time.sleep(0.05)

    def _listening(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate qrscp (then kill it if it does not go), and remove a temporary workdir."""
        process, self._process = self._process, None
        if process is not None:
            _children.stop(process, timeout)
        if self._workdir is not None and not self.keep:
            if self._failed:
                _children.keep(self._workdir)
            else:
                _children.remove(self._workdir)

    def __enter__(self) -> EmbeddedPACS:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        port = self._port if self._port is not None else "?"
        return f"EmbeddedPACS({self.ae_title!r} on {self.host}:{port}, {state})"
