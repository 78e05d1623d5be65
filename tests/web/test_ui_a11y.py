"""The accessibility check on every page at every width (issue 16's acceptance): labels, no
horizontal scroll at 1280 and 800 px, and a Tab press lands on a visibly outlined control, on
the Scenarios, Wizard, Output and Runs pages and on a run's results. Screenshots at 800 px go to
``docs/screenshots/`` (``*-800.png``)."""

from __future__ import annotations

import pytest
from browser_kit import WIDTHS, assert_accessible, shot
from playwright.sync_api import Browser, Page, expect
from ui_server import UI

expect.set_options(timeout=60_000)

PAGES = ("Scenarios", "Wizard", "Output", "Runs")


def assert_tab_focus_visible(page: Page, name: str) -> None:
    """The next Tab lands on a control that is on screen and outlined."""
    page.keyboard.press("Tab")
    found = page.evaluate(
        "() => { const e = document.activeElement; if (!e || e === document.body) return null;"
        " const s = getComputedStyle(e); const r = e.getBoundingClientRect();"
        " return {tag: e.tagName,"
        " text: (e.textContent || e.getAttribute('aria-label') || '').slice(0, 40),"
        " outline: s.outlineStyle, width: parseFloat(s.outlineWidth), w: r.width, h: r.height,"
        " inside: r.right > 0 && r.bottom > 0 && r.left < innerWidth}; }"
    )
    assert found is not None, f"{name}: Tab focused nothing"
    outlined = found["outline"] != "none" and found["width"] >= 2
    assert outlined, f"{name}: no focus outline: {found}"
    on_screen = found["w"] > 0 and found["h"] > 0 and found["inside"]
    assert on_screen, f"{name}: focus not visible: {found}"


def _check_page(page: Page, name: str, width: int) -> None:
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    assert_accessible(page, f"{name} at {width} px")
    # from the page's own tab in the menu, Tab goes on into the page
    page.get_by_role("link", name=name, exact=True).focus()
    assert_tab_focus_visible(page, f"{name} at {width} px")


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_is_accessible(ui: UI, browser: Browser, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(ui.url)
        expect(page.get_by_test_id("scenario-row-bits_consistent")).to_be_visible()
        assert_tab_focus_visible(page, f"first Tab at {width} px")
        for name in PAGES:
            _check_page(page, name, width)
            if width == 800:
                shot(page, f"{name.lower()}-800")
    finally:
        context.close()


def test_run_results_are_accessible_at_every_width(ui: UI, page: Page) -> None:
    """A small run on the embedded target; its results pass the same check at each width."""
    page.goto(ui.url)
    page.get_by_role("link", name="Runs", exact=True).click()
    page.get_by_label("Add scenario").fill("bits_consistent")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_label("Image size").select_option("small")
    page.get_by_role("button", name="Start run").click()
    row = page.get_by_test_id("run-row-bits_consistent")
    expect(row.get_by_test_id("run-result")).to_have_text("pass", timeout=180_000)
    page.get_by_role("button", name="Details of bits_consistent").click()
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        assert_accessible(page, f"run results at {width} px")
        page.get_by_role("button", name="Details of bits_consistent").focus()
        assert_tab_focus_visible(page, f"run results at {width} px")
    shot(page, "runs-results-800")
