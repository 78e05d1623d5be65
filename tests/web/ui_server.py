"""Start the real ``dicomfab ui`` in a subprocess and read the URL it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dicomfab.targets.embedded import free_port

URL_LINE = re.compile(r"dicomfab UI: (http://127\.0\.0\.1:(\d+)/)\?token=(\S+)")


@dataclass(frozen=True)
class UI:
    base: str  # http://127.0.0.1:PORT/
    port: int
    token: str
    root: Path  # the one allowed folder

    @property
    def url(self) -> str:
        """What the user opens: the base URL with its token."""
        return f"{self.base}?token={self.token}"


@contextmanager
def running_ui(root: Path) -> Iterator[UI]:
    """``dicomfab ui --no-browser`` on a free port with ``root`` as its only folder."""
    port = free_port()
    command = [sys.executable, "-m", "dicomfab", "ui", "--no-browser"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--root", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=root,
    )
    try:
        assert process.stdout is not None
        found = None
        for line in process.stdout:
            found = URL_LINE.search(line)
            if found:
                break
        if found is None:
            raise RuntimeError("dicomfab ui printed no URL")
        yield UI(found[1], int(found[2]), found[3], root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
