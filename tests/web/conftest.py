"""Fixtures of the in-process API tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apiclient import TestClient, make_settings, serving


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The one folder the app may read and write."""
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


@pytest.fixture
def client(root: Path, tmp_path: Path) -> Iterator[TestClient]:
    with serving(make_settings(root, tmp_path)) as client:
        yield client
