"""Fixtures of the in-process API tests and of the browser tests (the real `dicomfab ui` driven
through Debian's Chromium with Playwright, ``executable_path``: no browser download)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apiclient import TestClient, make_settings, serving
from browser_kit import CHROMIUM, CHROMIUM_ARGS, STATIC
from playwright.sync_api import Browser, Page, sync_playwright
from ui_server import UI, running_ui


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


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UI]:
    """``dicomfab ui`` on a free port with a fresh root (needs ``make web``: never skipped)."""
    if not STATIC.is_file():
        pytest.fail("the front end is not built: run `make web`", pytrace=False)
    with running_ui(tmp_path_factory.mktemp("ui-root")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail("Debian's chromium is not installed: run `make deps`", pytrace=False)
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookie yet); what the page's Content-Security-Policy blocked
    fails the test: the policy must fit the built front end."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    blocked: list[str] = []
    page.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
    )
    yield page
    context.close()
    assert blocked == [], blocked
