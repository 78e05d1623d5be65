"""A real PACS for the integration tests: a private PostgreSQL 15 cluster and Orthanc 1.10 with
the PostgreSQL index and DICOMweb plugins (Debian 12 packages, installed by ``make deps``).

Everything listens on 127.0.0.1 only, on ports the OS picked, in folders of its own, so several
pytest workers (or a developer's own Orthanc / PostgreSQL) do not clash. PostgreSQL refuses to
run as root: the cluster runs as the ``postgres`` user through ``runuser``, in a folder under
the system temp dir (pytest's own tmp folders are mode 700 and root's, so postgres could not
reach them). Orthanc 1.10.1 has no bind-address setting; an LD_PRELOAD shim
(``shared/tools/bind_loopback.c``, copied here as :data:`BIND_SHIM_SOURCE`) moves its wildcard
binds onto loopback, and ``TCP_NODELAY=1`` turns off Nagle in its DCMTK SCP."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PGBIN = Path("/usr/lib/postgresql/15/bin")
ORTHANC = Path("/usr/sbin/Orthanc")
PLUGINS = Path("/usr/share/orthanc/plugins")
REQUIRED = {
    "runuser": Path("/usr/sbin/runuser"),
    "initdb": PGBIN / "initdb",
    "pg_ctl": PGBIN / "pg_ctl",
    "Orthanc": ORTHANC,
    "orthanc-postgresql": PLUGINS / "libOrthancPostgreSQLIndex.so",
    "orthanc-dicomweb": PLUGINS / "libOrthancDicomWeb.so",
    "pg_trgm (postgresql-contrib)": Path("/usr/share/postgresql/15/extension/pg_trgm.control"),
}

BIND_SHIM_SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real_bind)(int, const struct sockaddr *, socklen_t);
    if (!real_bind)
        real_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    if (addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in a;
        memcpy(&a, addr, sizeof a);
        if (a.sin_addr.s_addr == htonl(INADDR_ANY)) {
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (struct sockaddr *)&a, sizeof a);
        }
    } else if (addr && addr->sa_family == AF_INET6
               && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 a;
        memcpy(&a, addr, sizeof a);
        if (memcmp(&a.sin6_addr, &in6addr_any, sizeof a.sin6_addr) == 0) {
            a.sin6_addr = in6addr_loopback;
            return real_bind(fd, (struct sockaddr *)&a, sizeof a);
        }
    }
    return real_bind(fd, addr, len);
}
"""


class StackError(RuntimeError):
    """The stack could not be set up; the message says why (and where the log is)."""


def missing_requirements() -> list[str]:
    """What ``make deps`` would install that is not here (empty when all is present)."""
    missing = [name for name, path in REQUIRED.items() if not path.exists()]
    if shutil.which("gcc") is None:
        missing.append("gcc")
    return missing


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def _run(cmd: list[str], what: str, **kwargs: Any) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, **kwargs)
    if done.returncode != 0:
        out = (done.stdout + done.stderr).strip()
        raise StackError(f"{what} failed (rc={done.returncode}): {out[-2000:]}")


@dataclass
class Postgres:
    """A private PostgreSQL cluster: the ``postgres`` superuser over the unix socket (trust),
    everyone else over TCP with a password (scram)."""

    base: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def log(self) -> Path:
        return self.base / "postgres.log"

    @classmethod
    def start(cls, attempts: int = 3) -> Postgres:
        base = Path(tempfile.mkdtemp(prefix="dicomfab-pg-"))
        shutil.chown(base, "postgres", "postgres")
        os.chmod(base, 0o700)
        cluster = cls(base, 0)
        try:
            cluster._initdb()
            for attempt in range(attempts):  # a port picked free can be taken before we bind
                cluster.port = free_port()
                try:
                    cluster._pg_ctl_start()
                    break
                except StackError:
                    if attempt == attempts - 1:
                        raise
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise
        return cluster

    def _as_postgres(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args]

    def _initdb(self) -> None:
        self.data.mkdir(mode=0o700)
        shutil.chown(self.data, "postgres", "postgres")
        _run(
            self._as_postgres(
                str(PGBIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                "--auth-local=trust", "--auth-host=scram-sha-256",
                "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
            ),
            "initdb",
            cwd=self.base,
        )  # fmt: skip

    def _pg_ctl_start(self) -> None:
        self.log.touch()
        shutil.chown(self.log, "postgres", "postgres")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.data} -c fsync=off"
        )
        cmd = self._as_postgres(
            str(PGBIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-w", "-t", "60", "-o", options, "start",
        )  # fmt: skip
        try:
            _run(cmd, "pg_ctl start", cwd=self.base)
        except StackError as exc:
            raise StackError(f"{exc}\n--- {self.log} ---\n{_tail(self.log)}") from None

    def execute(self, *statements: str) -> None:
        """Run SQL as the superuser, over the unix socket."""
        import psycopg

        with psycopg.connect(
            host=str(self.data), port=self.port, user="postgres", dbname="postgres",
            autocommit=True, connect_timeout=10,
        ) as conn:  # fmt: skip
            for statement in statements:
                conn.execute(statement.encode())

    def create_database(self, name: str, owner: str, password: str) -> None:
        self.execute(
            f"CREATE ROLE {owner} LOGIN PASSWORD '{password}'",
            f"CREATE DATABASE {name} OWNER {owner}",
        )

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                subprocess.run(
                    self._as_postgres(
                        str(PGBIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                        "-t", "60", "stop",
                    ),
                    capture_output=True, timeout=90, check=False, cwd=self.base,
                )  # fmt: skip
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def build_bind_shim(folder: Path) -> Path:
    source = folder / "bind_loopback.c"
    source.write_text(BIND_SHIM_SOURCE, encoding="utf-8")
    library = folder / "bind_loopback.so"
    _run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(library), str(source), "-ldl"], "gcc")
    return library


@dataclass
class Orthanc:
    """Orthanc with its index in PostgreSQL and files in ``workdir/storage``."""

    workdir: Path
    process: subprocess.Popen[bytes]
    http_port: int
    dicom_port: int
    ae_title: str = "ORTHANC"
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def log(self) -> Path:
        return self.workdir / "orthanc.stdout"

    @classmethod
    def start(
        cls,
        workdir: Path,
        shim: Path,
        postgres: dict[str, Any],
        *,
        ae_title: str = "ORTHANC",
        timeout: float = 60.0,
        extra_config: dict[str, Any] | None = None,
    ) -> Orthanc:
        """Start Orthanc; ``extra_config`` is merged into the JSON configuration (one level deep
        for dict values such as ``"PostgreSQL"``, so ``{"PostgreSQL": {"IndexConnectionsCount":
        4}}`` keeps the connection settings)."""
        http_port, dicom_port = free_port(), free_port()
        while dicom_port == http_port:
            dicom_port = free_port()
        storage = workdir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "Name": "DICOMFAB-IT",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "StorageCompression": False,
            "Plugins": [str(PLUGINS / "libOrthancDicomWeb.so"),
                        str(PLUGINS / "libOrthancPostgreSQLIndex.so")],
            "HttpServerEnabled": True, "HttpPort": http_port,
            "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
            "DicomServerEnabled": True, "DicomAet": ae_title, "DicomPort": dicom_port,
            "DicomCheckCalledAet": True, "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True, "DicomAlwaysAllowFind": True,
            "DicomCheckModalityHost": False, "DicomThreadsCount": 4, "DicomModalities": {},
            "SaveJobs": False, "OverwriteInstances": False, "StableAge": 60,
            "PostgreSQL": {
                "EnableIndex": True, "EnableStorage": False,
                "Host": postgres["host"], "Port": postgres["port"],
                "Database": postgres["database"], "Username": postgres["user"],
                "Password": postgres["password"],
                "Lock": False, "EnableSsl": False,
                "MaximumConnectionRetries": 10, "ConnectionRetryInterval": 1,
                "IndexConnectionsCount": 1,
            },
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True,
                         "WadoRoot": "/wado", "Host": "127.0.0.1", "Ssl": False},
        }  # fmt: skip
        for key, value in (extra_config or {}).items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
        config_path = workdir / "orthanc.json"
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        env = {**os.environ, "LD_PRELOAD": str(shim), "TCP_NODELAY": "1"}
        log = (workdir / "orthanc.stdout").open("wb")
        try:
            process = subprocess.Popen(
                [str(ORTHANC), f"--logdir={workdir}", str(config_path)],
                cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        finally:
            log.close()
        orthanc = cls(workdir, process, http_port, dicom_port, ae_title)
        try:
            orthanc._wait_ready(timeout)
        except BaseException:
            orthanc.stop()
            raise
        return orthanc

    def system(self, timeout: float = 5.0) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/system", timeout=timeout) as response:
            return dict(json.load(response))

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StackError(
                    f"Orthanc exited with rc={self.process.returncode} while starting; "
                    f"log {self.log}:\n{_tail(self.log, 25)}"
                )
            try:
                self.system(timeout=2.0)
                with socket.create_connection((self.host, self.dicom_port), timeout=2.0):
                    return
            except (OSError, urllib.error.URLError, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.25)
        raise StackError(
            f"Orthanc did not answer on {self.url}/system and DICOM port {self.dicom_port} "
            f"within {timeout:.0f} s ({last}); log {self.log}:\n{_tail(self.log, 25)}"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def listening_addresses(port: int) -> set[str]:
    """The local IPv4/IPv6 addresses (hex, as in /proc/net/tcp*) listening on ``port``."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, _, hex_port = fields[1].rpartition(":")
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.add(address)
    return found


@dataclass(frozen=True)
class OrthancStack:
    """How to reach the running stack."""

    orthanc: Orthanc
    postgres: Postgres
    database: str
    user: str
    password: str
    startup_seconds: float

    @property
    def host(self) -> str:
        return self.orthanc.host

    @property
    def dicom_port(self) -> int:
        return self.orthanc.dicom_port

    @property
    def ae_title(self) -> str:
        return self.orthanc.ae_title

    @property
    def pg_host(self) -> str:
        return self.postgres.host

    @property
    def pg_port(self) -> int:
        return self.postgres.port
