"""What the Playwright tests of the web UI share: Debian's Chromium, screenshots for the README,
and the accessibility check every page must pass (labels, visible focus, no horizontal scroll)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
STATIC = REPO / "src" / "dicomfab" / "web" / "static" / "index.html"
SCREENSHOTS = REPO / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = (1280, 800)


def shot(page: Page, name: str) -> None:
    """A screenshot of what the page shows now, into docs/screenshots (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def assert_accessible(page: Page, name: str) -> None:
    """Every form control has a label and the page does not scroll sideways at its width."""
    viewport = page.viewport_size
    assert viewport is not None
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= viewport["width"], (
        f"{name}: {width} px wide at a {viewport['width']} px viewport"
    )
    unlabelled = page.evaluate(
        "() => [...document.querySelectorAll('input, select, textarea')]"
        ".filter(e => e.type !== 'hidden' && !e.labels?.length"
        " && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))"
        ".map(e => e.outerHTML.slice(0, 80))"
    )
    assert unlabelled == [], f"{name}: controls without a label: {unlabelled}"
