"""A refused SSH host key says which hop it was: the bastion or the target behind it. Real
OpenSSH on both ends (the private sshd fixtures: a target and a bastion on loopback); each case
gives the client a known_hosts file that lacks (or has a wrong) key for exactly one hop."""

from __future__ import annotations

from pathlib import Path

import pytest
from sshd import SSHServer

from dicomfab.errors import TargetError
from dicomfab.targets.ssh import Endpoint, SSHTunnel


def _refused(sshd: SSHServer, bastion: SSHServer | None, known_hosts: Path, *lines: str) -> str:
    known_hosts.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    tunnel = SSHTunnel(
        sshd.target,
        "127.0.0.1",
        5432,
        bastion=bastion.target if bastion else None,
        key=sshd.client_key,
        known_hosts=known_hosts,
        connect_timeout=10,
    )
    with pytest.raises(TargetError) as info:
        tunnel.start()
    assert not tunnel.running
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_bastion_key_missing_names_the_bastion(
    sshd: SSHServer, bastion_sshd: SSHServer, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    message = _refused(sshd, bastion_sshd, known, sshd.known_hosts_line)

    bastion = Endpoint.parse(bastion_sshd.target)
    assert f"SSH host key of the bastion {bastion} is not in known_hosts {known}" in message
    assert "of the target" not in message
    assert "Host key verification failed" in message


def test_the_target_key_missing_names_the_target(
    sshd: SSHServer, bastion_sshd: SSHServer, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    message = _refused(sshd, bastion_sshd, known, bastion_sshd.known_hosts_line)

    target = Endpoint.parse(sshd.target)
    assert f"SSH host key of the target {target} is not in known_hosts {known}" in message
    assert "of the bastion" not in message


def test_a_changed_target_key_names_the_target(
    sshd: SSHServer, bastion_sshd: SSHServer, tmp_path: Path
) -> None:
    # the target's entry carries another server's key: a changed key, not a missing one
    wrong = bastion_sshd.known_hosts_line.replace(f":{bastion_sshd.port} ", f":{sshd.port} ")
    known = tmp_path / "known_hosts"
    message = _refused(sshd, bastion_sshd, known, bastion_sshd.known_hosts_line, wrong)

    target = Endpoint.parse(sshd.target)
    assert f"SSH host key of the target {target} does not match the key in known_hosts" in message


def test_without_a_bastion_the_target_is_named(sshd: SSHServer, tmp_path: Path) -> None:
    message = _refused(sshd, None, tmp_path / "known_hosts")

    assert f"SSH host key of the target {Endpoint.parse(sshd.target)} is not in" in message
