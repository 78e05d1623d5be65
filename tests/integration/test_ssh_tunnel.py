"""SQL verification through an SSH tunnel: OpenSSH's client with a jump host (a private sshd
as bastion, another as target, both on loopback) to Orthanc's PostgreSQL index. Faults: a key
the servers do not know, a host key the client does not know, nothing listening."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sshd import SSHServer, generate_key
from stack import OrthancStack, free_port

from dicomfab import generate, parse_spec
from dicomfab.errors import TargetAuthError, TargetError
from dicomfab.targets.cstore import CStoreIngestor
from dicomfab.targets.profiles import ORTHANC_POSTGRES_QUERY
from dicomfab.targets.ssh import Endpoint, SSHTunnel, tunnel_url
from dicomfab.targets.verify_sql import SQLVerifier
from expected import expected_observations

SPEC = {
    "seed": 20261129,
    "defaults": {"pixels": {"rows": 64, "columns": 48}},
    "patients": [{"studies": [{"series": [{}]}]}],
}


@pytest.fixture
def known_hosts(sshd: SSHServer, bastion_sshd: SSHServer, tmp_path: Path) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(f"{sshd.known_hosts_line}\n{bastion_sshd.known_hosts_line}\n")
    return path


def _pg_url(stack: OrthancStack) -> str:
    return (
        f"postgresql+psycopg://{stack.user}:{stack.password}@{stack.pg_host}:{stack.pg_port}/"
        f"{stack.database}"
    )


def test_sql_verification_through_a_tunnel_with_a_jump_host(
    orthanc_stack: OrthancStack,
    sshd: SSHServer,
    bastion_sshd: SSHServer,
    known_hosts: Path,
    tmp_path: Path,
) -> None:
    result = generate(parse_spec(SPEC), tmp_path / "gen", workers=1)
    files = sorted(result.path.glob("dicoms/**/*.dcm"))
    receipt = CStoreIngestor(
        orthanc_stack.host, orthanc_stack.dicom_port, orthanc_stack.ae_title
    ).ingest(files)
    assert receipt.all_succeeded, receipt
    expected = expected_observations(result.manifest, names=False)

    with SSHTunnel(
        target=sshd.target,
        bastion=bastion_sshd.target,
        remote_host=orthanc_stack.pg_host,
        remote_port=orthanc_stack.pg_port,
        key=sshd.client_key,
        known_hosts=known_hosts,
        connect_timeout=10,
    ) as tunnel:
        assert tunnel.running and tunnel.local_host == "127.0.0.1"
        assert tunnel.local_port not in (orthanc_stack.pg_port, sshd.port, bastion_sshd.port)
        url = tunnel_url(_pg_url(orthanc_stack), tunnel)
        assert url == (
            f"postgresql+psycopg://{orthanc_stack.user}:{orthanc_stack.password}@127.0.0.1:"
            f"{tunnel.local_port}/{orthanc_stack.database}"
        )
        observed = SQLVerifier(url, ORTHANC_POSTGRES_QUERY).observe(expected)
    assert not tunnel.running
    assert set(observed.instances) == set(expected) and len(expected) == len(files)
    for uid, want in expected.items():
        got = observed.get(uid)
        assert got is not None and got.series_instance_uid == want.series_instance_uid
    # both hops were used: each sshd logged a key login
    assert "Accepted publickey" in sshd.log_text()
    assert "Accepted publickey" in bastion_sshd.log_text()


def _tunnel_error(kind: type[TargetError] = TargetError, **kwargs: object) -> str:
    with pytest.raises(kind) as info, SSHTunnel(**kwargs):  # type: ignore[arg-type]
        pass
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_key_the_servers_do_not_know_is_permission_denied(
    sshd: SSHServer, bastion_sshd: SSHServer, known_hosts: Path, tmp_path: Path
) -> None:
    wrong = generate_key(tmp_path / "stranger_ed25519")
    message = _tunnel_error(
        TargetAuthError,
        target=sshd.target,
        bastion=bastion_sshd.target,
        remote_host="127.0.0.1",
        remote_port=5432,
        key=wrong,
        known_hosts=known_hosts,
    )
    print(message)
    assert message.startswith(
        f"SSH tunnel to {Endpoint.parse(sshd.target)} via {Endpoint.parse(bastion_sshd.target)} "
        "failed: "
    )
    assert "Permission denied (publickey)" in message


def test_an_unknown_host_key_fails_host_key_verification(
    sshd: SSHServer, bastion_sshd: SSHServer, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    message = _tunnel_error(
        target=sshd.target,
        bastion=bastion_sshd.target,
        remote_host="127.0.0.1",
        remote_port=5432,
        key=sshd.client_key,
        known_hosts=empty,
    )
    print(message)
    assert "Host key verification failed" in message


def test_the_target_host_key_alone_unknown_fails_too(
    sshd: SSHServer, bastion_sshd: SSHServer, tmp_path: Path
) -> None:
    only_bastion = tmp_path / "known_hosts"
    only_bastion.write_text(bastion_sshd.known_hosts_line + "\n")
    message = _tunnel_error(
        target=sshd.target,
        bastion=bastion_sshd.target,
        remote_host="127.0.0.1",
        remote_port=5432,
        key=sshd.client_key,
        known_hosts=only_bastion,
    )
    assert "Host key verification failed" in message


def test_nothing_listening_is_a_one_line_error(sshd: SSHServer, known_hosts: Path) -> None:
    port = free_port()
    message = _tunnel_error(
        target=f"{sshd.user}@127.0.0.1:{port}",
        remote_host="127.0.0.1",
        remote_port=5432,
        key=sshd.client_key,
        known_hosts=known_hosts,
        connect_timeout=5,
    )
    print(message)
    assert message == (
        f"SSH tunnel to {sshd.user}@127.0.0.1:{port} failed: "
        f"ssh: connect to host 127.0.0.1 port {port}: Connection refused"
    )


def test_nothing_listening_behind_the_bastion(
    sshd: SSHServer, bastion_sshd: SSHServer, known_hosts: Path
) -> None:
    port = free_port()
    message = _tunnel_error(
        target=f"{sshd.user}@127.0.0.1:{port}",
        bastion=bastion_sshd.target,
        remote_host="127.0.0.1",
        remote_port=5432,
        key=sshd.client_key,
        known_hosts=known_hosts,
        connect_timeout=5,
    )
    print(message)
    assert "Connection refused" in message


def test_the_tunnel_forwards_without_a_bastion_and_stops(
    sshd: SSHServer, known_hosts: Path
) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with (
            SSHTunnel(
                sshd.target,
                "127.0.0.1",
                port,
                key=sshd.client_key,
                known_hosts=known_hosts,
            ) as tunnel,
            socket.create_connection((tunnel.local_host, tunnel.local_port), timeout=5) as c,
        ):
            c.sendall(b"hello")
            server.settimeout(5)
            received = b""
            while not received:  # the tunnel's own readiness probe came first, empty
                conn, _ = server.accept()
                with conn:
                    conn.settimeout(5)
                    received = conn.recv(5)
            assert received == b"hello"
        local = tunnel.local_port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", local), timeout=2).close()


def test_endpoint_parsing() -> None:
    assert Endpoint.parse("db@10.0.0.5") == Endpoint("db", "10.0.0.5", 22)
    assert Endpoint.parse("db@10.0.0.5:2222") == Endpoint("db", "10.0.0.5", 2222)
    assert Endpoint.parse("db@10.0.0.5:2222", port=22) == Endpoint("db", "10.0.0.5", 22)
    assert Endpoint.parse("bastion") == Endpoint(None, "bastion", 22)
    assert Endpoint.parse("u@[::1]:2200") == Endpoint("u", "::1", 2200)
    assert str(Endpoint.parse("jump@bastion")) == "jump@bastion"
    with pytest.raises(ValueError):
        Endpoint.parse("db@host:notaport")
    with pytest.raises(ValueError):
        Endpoint.parse("db@host;rm -rf /")
