"""A private OpenSSH server for the tunnel tests: ``/usr/sbin/sshd -D -e -f <config>`` on a free
loopback port, with its own ed25519 host key, one authorized client key and a known_hosts file
for clients, all in a folder of its own (``make deps`` installs openssh-server; its system
service is kept from starting).

The login user is the one running the tests (root in CI: ``PermitRootLogin prohibit-password``
lets it in with a key only). pytest's tmp folders have loose permissions for sshd's taste, hence
``StrictModes no`` with an absolute ``AuthorizedKeysFile``."""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from stack import StackError, free_port

SSHD = Path("/usr/sbin/sshd")
SSH_KEYGEN = Path("/usr/bin/ssh-keygen")
PRIVSEP_DIR = Path("/run/sshd")


def generate_key(path: Path, comment: str = "dicomfab-it") -> Path:
    """A new ed25519 key pair at ``path`` (and ``path.pub``), no passphrase."""
    for old in (path, path.with_name(path.name + ".pub")):
        old.unlink(missing_ok=True)
    done = subprocess.run(
        [str(SSH_KEYGEN), "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise StackError(f"ssh-keygen failed: {(done.stdout + done.stderr).strip()}")
    return path


@dataclass
class SSHServer:
    """A running sshd; ``target`` is ``user@127.0.0.1:port`` for :class:`SSHTunnel`."""

    workdir: Path
    process: subprocess.Popen[bytes]
    port: int
    client_key: Path
    host: str = "127.0.0.1"
    user: str = ""

    @property
    def target(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    @property
    def known_hosts_line(self) -> str:
        """The host key as a known_hosts line: ``[127.0.0.1]:PORT ssh-ed25519 AAAA…``."""
        kind, blob = (self.workdir / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        return f"[{self.host}]:{self.port} {kind} {blob}"

    @property
    def known_hosts(self) -> Path:
        return self.workdir / "known_hosts"

    @property
    def log(self) -> Path:
        return self.workdir / "sshd.log"

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    @classmethod
    def start(
        cls, workdir: Path, *, client_key: Path | None = None, timeout: float = 20.0
    ) -> SSHServer:
        if not SSHD.exists() or not SSH_KEYGEN.exists():
            raise StackError(f"{SSHD} or {SSH_KEYGEN} is missing: run `make deps`")
        PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        workdir.mkdir(parents=True, exist_ok=True)
        host_key = generate_key(workdir / "ssh_host_ed25519_key", "dicomfab-it-host")
        if client_key is None:
            client_key = generate_key(workdir / "client_ed25519", "dicomfab-it-client")
        authorized = workdir / "authorized_keys"
        authorized.write_text(client_key.with_name(client_key.name + ".pub").read_text())
        authorized.chmod(0o600)
        port = free_port()
        config = workdir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {port}",
                    "ListenAddress 127.0.0.1",
                    "AddressFamily inet",
                    f"HostKey {host_key}",
                    f"PidFile {workdir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {authorized}",
                    "StrictModes no",
                    "UsePAM no",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "AllowTcpForwarding yes",
                    "PermitTunnel no",
                    "X11Forwarding no",
                    "AllowAgentForwarding no",
                    "PrintMotd no",
                    "LogLevel VERBOSE",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        log = (workdir / "sshd.log").open("wb")
        try:
            process = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        finally:
            log.close()
        server = cls(workdir, process, port, client_key, user=getpass.getuser())
        try:
            server._wait_ready(timeout)
        except BaseException:
            server.stop()
            raise
        server.known_hosts.write_text(server.known_hosts_line + "\n", encoding="utf-8")
        return server

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StackError(
                    f"sshd exited with rc={self.process.returncode} while starting:\n"
                    f"{self.log_text()[-2000:]}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=2.0) as s:
                    s.settimeout(2.0)
                    if s.recv(64).startswith(b"SSH-2.0-"):
                        return
            except OSError as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
        raise StackError(f"sshd did not answer on port {self.port} within {timeout:.0f} s: {last}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def ssh_missing() -> list[str]:
    """What the tunnel tests need that is not installed."""
    wanted = {"openssh-server (sshd)": SSHD, "openssh-client (ssh)": Path("/usr/bin/ssh")}
    return [name for name, path in wanted.items() if not os.access(path, os.X_OK)]
