"""The web API in process (FastAPI's TestClient): one way for the API tests to build the app."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dicomfab.web.app import create_app
from dicomfab.web.settings import UISettings

with warnings.catch_warnings():  # starlette deprecates its httpx-based client; it still works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = "test-token-" + "x" * 32
AUTH = {"X-Dicomfab-Token": TOKEN}


def make_settings(root: Path, tmp_path: Path, **changes: Any) -> UISettings:
    """Settings for an app that allows ``root`` and has no built front end (unless changed)."""
    values: dict[str, Any] = {
        "token": TOKEN,
        "roots": [root],
        "allowed_hosts": frozenset({"testserver"}),
        "static_dir": tmp_path / "no-static",
        "workers": 1,  # no process pool forked from the test process
    }
    values.update(changes)
    return UISettings(**values)


@contextmanager
def serving(settings: UISettings, **client: Any) -> Iterator[TestClient]:
    """A client of the app made with ``settings``, sending the token header (a script)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield TestClient(create_app(settings), headers=AUTH, **client)
