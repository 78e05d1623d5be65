"""SSH tunnels with OpenSSH's own client, for systems whose database (or DICOM port) is only
reachable through SSH, possibly through a jump host (bastion).

    with SSHTunnel("db@10.0.0.5", "127.0.0.1", 5432, bastion="jump@bastion:2222",
                   key=Path("id_ed25519"), known_hosts=Path("known_hosts")) as tunnel:
        SQLVerifier(tunnel_url(url, tunnel), query).observe(uids)

The tunnel is ``ssh -N -L 127.0.0.1:<free port>:<remote_host>:<remote_port>`` with a private
ssh_config file (``-F``, so the system and user configs do not apply) that has a ``Host`` entry
for the target and one for the bastion: the key, the known_hosts file, ``BatchMode`` and strict
host key checking apply to both hops. Entering the context waits until the local end accepts
connections; a failure (host key, authentication, connection refused, …) is a one-line
:class:`~dicomfab.errors.TargetError` with the line of ssh's stderr that says why (a refused
host key names the hop: "SSH host key of the bastion user@host:port is not in known_hosts …").

ssh runs in a session of its own (:mod:`dicomfab.targets._children`), with the ProxyJump ssh it
starts: leaving the context, an exception or an interruption stops both and removes the private
config folder; the interpreter's exit does, at the latest.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from sqlalchemy.engine import URL, make_url

from dicomfab.errors import TargetAuthError, TargetConnectError, TargetError, TargetTimeoutError
from dicomfab.targets import _children

SSH = Path("/usr/bin/ssh")
LOCALHOST = "127.0.0.1"
TARGET_ALIAS = "dicomfab-target"
BASTION_ALIAS = "dicomfab-bastion"

# ssh's stderr lines that say why, best first; lines that only say "it went wrong" come last
_REASONS = (
    "host key verification failed",
    "remote host identification has changed",
    "no host key is known",
    "permission denied",
    "too many authentication failures",
    "could not resolve hostname",
    "connection refused",
    "connection timed out",
    "no route to host",
    "network is unreachable",
    "open failed",
    "cannot listen",
    "address already in use",
    "bad configuration",
    "no such file",
    "load key",
)
_NOISE = (
    "kex_exchange_identification",
    "connection closed by",
    "stdio forwarding failed",
    "banner exchange",
    "warning: permanently added",
    "pseudo-terminal",
)
_UNKNOWN_KEY = re.compile(r"host key is known for (\S+) and", re.IGNORECASE)
_CHANGED_KEY = re.compile(r"Host key for (\S+) has changed", re.IGNORECASE)
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9._:%@+\-\[\]]+$")


@dataclass(frozen=True)
class Endpoint:
    """``user@host:port`` taken apart (``user`` may be ``None``: ssh then uses the login name)."""

    user: str | None
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, port: int | None = None) -> Endpoint:
        """``[user@]host[:port]`` or ``[user@][v6addr]:port``; an explicit ``port`` wins."""
        user, _, rest = text.rpartition("@")
        found: int | None = None
        if rest.startswith("["):  # [::1]:22
            host, _, tail = rest[1:].partition("]")
            if tail.startswith(":") and tail[1:]:
                found = _port(tail[1:], text)
        elif rest.count(":") == 1:
            host, _, number = rest.partition(":")
            found = _port(number, text)
        else:
            host = rest
        if not host:
            raise ValueError(f"no host in {text!r}")
        for token in (user, host):
            if token and not _SAFE_TOKEN.match(token):
                raise ValueError(f"unexpected characters in {text!r}")
        return cls(user or None, host, port if port is not None else found or 22)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and self.port != 22 else self.host
        where = host if self.port == 22 else f"{host}:{self.port}"
        return f"{self.user}@{where}" if self.user else where


def _known_hosts_names(endpoint: Endpoint) -> set[str]:
    """How ssh names ``endpoint`` in its host key messages (and in known_hosts)."""
    if endpoint.port == 22:
        return {endpoint.host, f"[{endpoint.host}]:22"}
    return {f"[{endpoint.host}]:{endpoint.port}"}


def _port(text: str, where: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"bad port in {where!r}")
    return int(text)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCALHOST, 0))
        return int(s.getsockname()[1])


_KINDS: tuple[tuple[tuple[str, ...], type[TargetError]], ...] = (
    (("permission denied", "too many authentication failures"), TargetAuthError),
    (("connection timed out", "timed out"), TargetTimeoutError),
    (
        ("could not resolve hostname", "connection refused", "no route to host",
         "network is unreachable"),
        TargetConnectError,
    ),
)  # fmt: skip


def error_kind(reason: str) -> type[TargetError]:
    """Which TargetError ssh's reason is (an unknown host key stays a plain TargetError: it is
    our refusal, not the peer's)."""
    lowered = reason.lower()
    for needles, kind in _KINDS:
        if any(n in lowered for n in needles):
            return kind
    return TargetError


def ssh_reason(stderr: str) -> str:
    """The one line of ssh's stderr that says why it failed (or a fallback)."""
    lines = [" ".join(line.split()) for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith("debug")]
    for reason in _REASONS:
        for line in lines:
            if reason in line.lower():
                return line
    useful = [line for line in lines if not any(n in line.lower() for n in _NOISE)]
    if useful:
        return useful[-1]
    return lines[-1] if lines else "ssh exited without saying why"


class SSHTunnel:
    """A local port forward to ``remote_host:remote_port`` as seen from ``target``.

    ``target`` and ``bastion`` are ``user@host`` or ``user@host:port`` (``port`` /
    ``bastion_port`` override); ``key`` is the private key for both hops (``IdentitiesOnly``);
    ``known_hosts`` is the only file of trusted host keys (``StrictHostKeyChecking yes``; without
    it, ssh's default ``~/.ssh/known_hosts``). ``connect_timeout`` is ssh's ``ConnectTimeout`` per
    hop; the whole start-up may take ``3 × connect_timeout``."""

    def __init__(
        self,
        target: str,
        remote_host: str,
        remote_port: int,
        *,
        bastion: str | None = None,
        key: Path | None = None,
        known_hosts: Path | None = None,
        port: int | None = None,
        bastion_port: int | None = None,
        connect_timeout: float = 15,
        local_port: int | None = None,
        ssh: Path = SSH,
    ) -> None:
        self.target = Endpoint.parse(target, port)
        self.bastion = Endpoint.parse(bastion, bastion_port) if bastion else None
        self.remote_host = remote_host
        self.remote_port = int(remote_port)
        self.key = Path(key) if key is not None else None
        self.known_hosts = Path(known_hosts) if known_hosts is not None else None
        self.connect_timeout = float(connect_timeout)
        self.local_host = LOCALHOST
        self.local_port = local_port or 0
        self._fixed_port = local_port is not None
        self.ssh = Path(ssh)
        self.process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    def __repr__(self) -> str:
        return f"SSHTunnel({self.description}, {self.remote_host}:{self.remote_port})"

    @property
    def description(self) -> str:
        via = f" via {self.bastion}" if self.bastion else ""
        return f"{self.target}{via}"

    def _fail(self, reason: str) -> TargetError:
        text = " ".join(f"SSH tunnel to {self.description} failed: {reason}".split())
        return error_kind(reason)(text)

    # --- the ssh command --------------------------------------------------------------------

    def _host_block(self, alias: str, endpoint: Endpoint, jump: bool) -> list[str]:
        lines = [f"Host {alias}", f"  HostName {endpoint.host}", f"  Port {endpoint.port}"]
        if endpoint.user:
            lines.append(f"  User {endpoint.user}")
        if self.key is not None:
            lines += [f'  IdentityFile "{self.key.resolve()}"', "  IdentitiesOnly yes"]
        if self.known_hosts is not None:
            lines += [
                f'  UserKnownHostsFile "{self.known_hosts.resolve()}"',
                "  GlobalKnownHostsFile /dev/null",
            ]
        lines += [
            "  StrictHostKeyChecking yes",
            "  BatchMode yes",
            "  PasswordAuthentication no",
            "  KbdInteractiveAuthentication no",
            f"  ConnectTimeout {max(1, round(self.connect_timeout))}",
            "  ServerAliveInterval 15",
            "  ServerAliveCountMax 3",
            "  ControlMaster no",
            "  ControlPath none",
            "  ForwardAgent no",
        ]
        if jump:
            lines.append(f"  ProxyJump {BASTION_ALIAS}")
        return lines

    def _write_config(self, folder: Path) -> Path:
        lines = self._host_block(TARGET_ALIAS, self.target, jump=self.bastion is not None)
        if self.bastion is not None:
            lines += ["", *self._host_block(BASTION_ALIAS, self.bastion, jump=False)]
        config = folder / "ssh_config"
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        config.chmod(0o600)
        return config

    def command(self, config: Path) -> list[str]:
        forward = f"{self.local_host}:{self.local_port}:{self.remote_host}:{self.remote_port}"
        return [
            str(self.ssh),
            "-F",
            str(config),
            "-N",
            "-T",
            "-L",
            forward,
            "-o",
            "ExitOnForwardFailure=yes",
            TARGET_ALIAS,
        ]

    # --- start / stop -----------------------------------------------------------------------

    def __enter__(self) -> SSHTunnel:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> SSHTunnel:
        if self.process is not None:
            raise RuntimeError("the tunnel is already started")
        if not os.access(self.ssh, os.X_OK):
            raise self._fail(f"OpenSSH client not found at {self.ssh} (install openssh-client)")
        if self.key is not None and not self.key.is_file():
            raise self._fail(f"no key file at {self.key}")
        if self.known_hosts is not None and not self.known_hosts.is_file():
            raise self._fail(f"no known_hosts file at {self.known_hosts}")
        self._workdir = Path(tempfile.mkdtemp(prefix="dicomfab-ssh-"))
        _children.remove_at_exit(self._workdir)
        try:
            config = self._write_config(self._workdir)
            attempts = 1 if self._fixed_port else 3
            for attempt in range(attempts):  # a port picked free can be taken before ssh binds
                if not self._fixed_port:
                    self.local_port = _free_port()
                try:
                    self._launch(config)
                    return self
                except _PortTaken as taken:
                    if attempt == attempts - 1:
                        raise self._fail(str(taken)) from None
        except BaseException:
            self.stop()
            raise
        return self  # not reached

    def _launch(self, config: Path) -> None:
        assert self._workdir is not None
        stderr_path = self._workdir / "ssh.stderr"
        with stderr_path.open("wb") as stderr:
            self.process = _children.spawn(
                self.command(config),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + 3 * self.connect_timeout + 5
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                text = stderr_path.read_text(encoding="utf-8", errors="replace")
                self._stop_process()
                reason = ssh_reason(text)
                if "address already in use" in text.lower() or "cannot listen" in text.lower():
                    raise _PortTaken(reason)
                raise self._fail(self._host_key_hop(text) or reason)
            if self._accepts():
                return
            time.sleep(0.1)
        self._stop_process()
        raise self._fail(
            f"the local end {self.local_host}:{self.local_port} did not open within "
            f"{3 * self.connect_timeout + 5:g} s"
        )

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((self.local_host, self.local_port), timeout=1.0):
                return True
        except OSError:
            return False

    def _stop_process(self) -> None:
        """Stop ssh and whatever it started (the ProxyJump ssh to the bastion): its session."""
        process, self.process = self.process, None
        if process is not None:
            _children.stop(process)

    def stop(self) -> None:
        """Stop ssh and remove the private config (safe to call twice)."""
        self._stop_process()
        if self._workdir is not None:
            _children.remove(self._workdir)
            self._workdir = None

    def _host_key_hop(self, stderr: str) -> str | None:
        """When ssh refused a host key, which hop's it was, in words; None otherwise (or when
        the host ssh names is neither hop, or both)."""
        unknown = _UNKNOWN_KEY.search(stderr)
        changed = _CHANGED_KEY.search(stderr)
        found = unknown or changed
        if found is None:
            return None
        hops = [("target", self.target)]
        if self.bastion is not None:
            hops.append(("bastion", self.bastion))
        named = [(role, end) for role, end in hops if found[1] in _known_hosts_names(end)]
        if len(named) != 1:
            return None
        role, endpoint = named[0]
        where = str(self.known_hosts) if self.known_hosts is not None else "~/.ssh/known_hosts"
        state = "is not in" if found is unknown else "does not match the key in"
        said = ssh_reason(stderr)
        return f"SSH host key of the {role} {endpoint} {state} known_hosts {where} (ssh: {said})"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class _PortTaken(Exception):
    """ssh could not bind the local port (someone took it after we picked it)."""


class TunnelEnd(Protocol):
    """Anything with a local end (an :class:`SSHTunnel`)."""

    local_host: str
    local_port: int


def tunnel_url(url: str | URL, tunnel: TunnelEnd) -> str:
    """The SQLAlchemy ``url`` pointed at the tunnel's local end (password kept, in clear)."""
    parsed = make_url(url) if isinstance(url, str) else url
    moved = parsed.set(host=tunnel.local_host, port=tunnel.local_port)
    return moved.render_as_string(hide_password=False)
