"""Session fixtures: a private PostgreSQL cluster and Orthanc (PostgreSQL index + DICOMweb) on
free loopback ports, started once per pytest process and stopped at the end. A missing Debian
package is a failure (run ``make deps``), never a skip."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sshd import SSHServer, ssh_missing
from stack import (
    Orthanc,
    OrthancStack,
    Postgres,
    StackError,
    build_bind_shim,
    missing_requirements,
)

DATABASE, USER, PASSWORD = "orthanc", "orthanc", "orthanc-it-secret"


def _require_system_packages() -> None:
    missing = missing_requirements()
    if missing:
        pytest.fail(
            f"integration tests need {', '.join(missing)}: run `make deps` "
            "(installs orthanc, orthanc-dicomweb, orthanc-postgresql, postgresql, "
            "postgresql-contrib, gcc, libc6-dev, openssh-client, openssh-server)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    _require_system_packages()
    try:
        cluster = Postgres.start()
    except (StackError, OSError) as exc:
        pytest.fail(f"cannot start PostgreSQL: {exc}", pytrace=False)
    try:
        cluster.create_database(DATABASE, USER, PASSWORD)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def orthanc_stack(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OrthancStack]:
    start = time.perf_counter()
    workdir = tmp_path_factory.mktemp("orthanc")
    try:
        shim = build_bind_shim(tmp_path_factory.mktemp("shim"))
        orthanc = Orthanc.start(
            workdir,
            shim,
            {
                "host": postgres.host,
                "port": postgres.port,
                "database": DATABASE,
                "user": USER,
                "password": PASSWORD,
            },
        )
    except (StackError, OSError) as exc:
        pytest.fail(f"cannot start Orthanc: {exc}", pytrace=False)
    try:
        yield OrthancStack(orthanc, postgres, DATABASE, USER, PASSWORD, time.perf_counter() - start)
    finally:
        orthanc.stop()


# --- SSH (appended): a private sshd on loopback for the tunnel tests ------------------------------


def _start_sshd(workdir: Path, client_key: Path | None = None) -> SSHServer:
    missing = ssh_missing()
    if missing:
        pytest.fail(
            f"SSH tests need {', '.join(missing)}: run `make deps` "
            "(installs openssh-client, openssh-server)",
            pytrace=False,
        )
    try:
        return SSHServer.start(workdir, client_key=client_key)
    except (StackError, OSError) as exc:
        pytest.fail(f"cannot start sshd: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    """The SSH target: sshd on a free 127.0.0.1 port, the current user, key login only."""
    server = _start_sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def bastion_sshd(sshd: SSHServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    """A second sshd, the jump host: it authorizes the same client key as :func:`sshd`."""
    server = _start_sshd(tmp_path_factory.mktemp("bastion"), client_key=sshd.client_key)
    try:
        yield server
    finally:
        server.stop()
