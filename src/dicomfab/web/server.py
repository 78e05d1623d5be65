"""Starting the server: a loopback socket, the URL with the token, the browser, uvicorn."""

from __future__ import annotations

import multiprocessing
import socket
import webbrowser
from collections.abc import Sequence
from pathlib import Path

import click
import uvicorn

from dicomfab.web.app import create_app
from dicomfab.web.security import new_token
from dicomfab.web.settings import UISettings, local_hosts

HOST = "127.0.0.1"


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 (``port`` 0: a free one). Bound and listening before the
    URL is printed, so nobody can take the port and a first request waits instead of failing."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {HOST}:{port}: {exc.strerror}") from None
    sock.listen(128)
    return sock


def serve(roots: Sequence[Path], port: int, config: Path | None, open_browser: bool) -> None:
    # generation spreads scenarios over processes; forking this multi-threaded server could
    # deadlock a child, so children start from a clean fork server instead
    multiprocessing.set_start_method("forkserver", force=True)
    sock = bind(port)
    port = sock.getsockname()[1]
    settings = UISettings(
        token=new_token(),
        roots=list(roots),
        port=port,
        allowed_hosts=local_hosts(port),
        config=config,
    )
    url = f"http://{HOST}:{port}/?token={settings.token}"
    click.echo(f"dicomfab UI: {url}")
    click.echo("Ctrl-C to stop")
    if open_browser:
        webbrowser.open(url)
    config_ = uvicorn.Config(create_app(settings), log_level="warning", lifespan="off")
    server = uvicorn.Server(config_)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
