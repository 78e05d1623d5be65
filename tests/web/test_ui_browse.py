"""The scenario browser, the output browser and error texts (issue 16: bugs 7 and 10, needs 3,
6 and 7), driven through Debian's Chromium against the real ``dicomfab ui``. Screenshots go to
``docs/screenshots/`` (the README shows them)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_kit import shot
from playwright.sync_api import Browser, Page, expect
from ui_server import UI

expect.set_options(timeout=60_000)

SCENARIOS = ("bits_consistent", "pr_no_pixel_data", "external_prior")


@pytest.fixture(scope="module")
def datasets(ui: UI) -> Path:
    """Small datasets in ``ROOT/browse``, written by the command line (the UI's own generate
    is tested below): a clean one, one whose file has no pixel data, one with an external
    prior."""
    output = ui.root / "browse"
    command = [sys.executable, "-m", "dicomfab", "generate", "--output", str(output)]
    for name in SCENARIOS:
        command += ["-s", name]
    subprocess.run([*command, "--set", "image_size=small"], check=True, capture_output=True)
    return output


@pytest.fixture
def narrow(browser: Browser) -> Iterator[Page]:
    """A page 800 px wide."""
    context = browser.new_context(viewport={"width": 800, "height": 800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def _open_dataset(page: Page, ui: UI, folder: str, name: str) -> None:
    page.goto(ui.url)
    page.get_by_role("link", name="Output", exact=True).click()
    page.get_by_label("Output folder").fill(folder)
    page.get_by_role("button", name="Open", exact=True).click()
    page.get_by_test_id("datasets").get_by_role("button", name=name, exact=True).click()


def _generate(page: Page, ui: UI, folder: str) -> None:
    """Select bits_consistent on the Scenarios page and generate it into ``folder``."""
    page.goto(ui.url)
    page.get_by_label("Search scenarios").fill("bits_consistent")
    page.get_by_label("Select bits_consistent", exact=True).check()
    page.get_by_label("Image size").select_option("small")
    page.locator("#gen-output").fill(folder)
    page.get_by_role("button", name="Generate 1 selected").click()


def test_bug7_dataset_exists_is_said_once(ui: UI, page: Page) -> None:
    """Generate twice into the same folder: 'exists' once (under the Output folder field), not
    three times (field, message, issue list)."""
    _generate(page, ui, "twice")
    expect(page.get_by_test_id("generate-results")).to_contain_text("bits_consistent")
    page.get_by_role("button", name="Back to scenarios").click()
    page.get_by_role("button", name="Generate 1 selected").click()
    expect(page.get_by_text("exists (set overwrite to replace it)")).to_have_count(1)
    expect(page.get_by_role("alert")).to_contain_text("correct the marked field")
    text = page.locator("main").inner_text()
    assert text.count("exists (set overwrite") == 1, text
    shot(page, "error-once")


def test_bug7_a_refused_folder_is_named_once(ui: UI, page: Page) -> None:
    """A 400 names its field in the message and in its issue: the page says it once."""
    page.goto(ui.url)
    page.get_by_role("link", name="Output", exact=True).click()
    page.get_by_label("Output folder").fill("/")
    page.get_by_role("button", name="Open", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("output")
    text = alert.inner_text()
    assert text.count("output") == 1, text


def test_bug10_a_missing_output_folder_says_so(ui: UI, page: Page) -> None:
    page.goto(ui.url)
    page.get_by_role("link", name="Output", exact=True).click()
    page.get_by_label("Output folder").fill("no-such-folder")
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("no-such-folder does not exist")
    expect(page.get_by_text("No datasets in this folder")).to_have_count(0)
    (ui.root / "empty-folder").mkdir()
    page.get_by_label("Output folder").fill("empty-folder")
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.get_by_text("No datasets in this folder")).to_be_visible()


def test_bug10_header_values_wrap_at_800px(ui: UI, datasets: Path, narrow: Page) -> None:
    """At 800 px the header's long values (UIDs) wrap inside the panel: none is clipped and
    the page does not scroll sideways."""
    page = narrow
    _open_dataset(page, ui, "browse", "bits_consistent")
    page.get_by_role("navigation", name="Files").locator("button.file").first.click()
    table = page.get_by_test_id("header-table")
    expect(table).to_contain_text("StudyInstanceUID")
    clipped = table.evaluate(
        "t => [...t.querySelectorAll('td')].filter(td => td.scrollWidth > td.clientWidth + 1)"
        ".map(td => td.textContent)"
    )
    assert clipped == [], clipped
    wrap = page.locator(".header-table-wrap")
    assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth + 1")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 800
    uid = page.get_by_role("row").filter(has_text="StudyInstanceUID").first
    uid.scroll_into_view_if_needed()
    shot(page, "output-header-800")


def test_need3_thumbnails_say_what_they_are(ui: UI, datasets: Path, page: Page) -> None:
    """Thumbnails grouped by patient and study, labelled with view and role; a click opens
    the header and a larger image; the tree shows the study, not only its UID."""
    manifest = json.loads((datasets / "external_prior" / "manifest.json").read_text())
    patient = manifest["patients"][0]
    _open_dataset(page, ui, "browse", "external_prior")
    name = patient["name"].replace("^", " ")
    heading = f"Patient {name} ({patient['patient_id']})"
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    studies = [s for p in manifest["patients"] for s in p["studies"]]
    external = next(s for s in studies if s["role"] == "external_prior")
    digits = external["date"].replace("-", "")
    date = f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    expect(page.get_by_role("heading", name=f"external prior · {date}").first).to_be_visible()
    labels = page.get_by_test_id("thumb-label").all_inner_texts()
    assert "RCC · current" in labels and "RCC · external prior" in labels, labels
    # the tree: study folders show the patient and the study's role and description
    tree = page.get_by_role("navigation", name="Files")
    expect(tree).to_contain_text(f"external prior · {date}")
    expect(tree).to_contain_text("RCC · current")
    shot(page, "output-thumbnails")
    # a thumbnail opens the file's header and a larger image
    page.get_by_role("button", name="Open RCC · external prior", exact=False).first.click()
    expect(page.get_by_test_id("header-what")).to_contain_text("RCC (R) · external prior study")
    expect(page.get_by_test_id("header-table")).to_contain_text("StudyInstanceUID")
    expect(page.locator(".preview-large img")).to_be_visible()
    shot(page, "output-header")


def test_need3_a_broken_image_shows_why(ui: UI, datasets: Path, page: Page) -> None:
    """The file without pixel data: a placeholder saying so, not alt text on black."""
    _open_dataset(page, ui, "browse", "pr_no_pixel_data")
    broken = page.get_by_test_id("no-image")
    expect(broken).to_have_count(1)
    expect(broken).to_have_text("no image: no pixel data")
    thumbnails = page.locator('img[alt^="thumbnail"]')
    expect(thumbnails).to_have_count(7)
    broken.scroll_into_view_if_needed()
    shot(page, "output-no-image")


def test_need3_result_thumbnails_open_their_header(ui: UI, page: Page) -> None:
    """On the generate results (no file tree there) a thumbnail opens its header in place;
    need 6: the results heading has the focus after generating."""
    _generate(page, ui, "results")
    heading = page.get_by_role("heading", name="Generated datasets")
    expect(heading).to_be_focused()
    expect(page.get_by_role("heading", name="current · ", exact=False).first).to_be_visible()
    page.get_by_role("button", name="Open LMLO · prior", exact=False).first.click()
    expect(page.get_by_test_id("header-what")).to_contain_text("LMLO (L) · prior study")
    page.get_by_role("button", name="Close LMLO · prior").click()
    expect(page.get_by_test_id("header-what")).to_have_count(0)


def test_need6_a_row_click_says_how_to_select(ui: UI, page: Page) -> None:
    page.goto(ui.url)
    page.get_by_label("Search scenarios").fill("bits_consistent")
    page.get_by_test_id("scenario-row-bits_consistent").click()
    button = page.get_by_role("button", name="Generate (select a scenario first)")
    expect(button).to_be_disabled()
    expect(page.get_by_text("Nothing is selected: tick a scenario’s box")).to_be_visible()
    page.get_by_role("button", name="Select bits_consistent for generating").click()
    expect(page.get_by_label("Select bits_consistent", exact=True)).to_be_checked()
    expect(page.get_by_role("button", name="Generate 1 selected")).to_be_enabled()


def test_need6_a_search_without_match_says_so(ui: UI, page: Page) -> None:
    page.goto(ui.url)
    page.get_by_label("Search scenarios").fill("xyzzy")
    expect(page.get_by_role("status")).to_contain_text("No scenario matches “xyzzy”")
    page.get_by_role("button", name="Clear search").click()
    expect(page.get_by_label("Search scenarios")).to_have_value("")
    expect(page.get_by_test_id("scenario-row-bits_consistent")).to_be_visible()


def test_need6_skip_link_and_landmarks_reach_generate(ui: UI, page: Page) -> None:
    """Two Tab presses and Enter reach the Generate panel; the next Tab is its first field."""
    page.goto(ui.url)
    expect(page.get_by_test_id("scenario-row-bits_consistent")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to Generate")).to_be_focused()
    shot(page, "skip-links")
    page.keyboard.press("Enter")
    expect(page.get_by_role("region", name="Generate")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#gen-output")).to_be_focused()
    expect(page.get_by_role("main")).to_have_count(1)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("region", name="Scenario list")).to_be_visible()
    expect(page.get_by_role("complementary", name="Scenario card")).to_be_visible()


def _wizard(page: Page, ui: UI) -> None:
    page.goto(ui.url)
    page.get_by_role("link", name="Wizard", exact=True).click()
    expect(page.get_by_role("heading", name="Wizard", exact=True)).to_be_visible()


def test_need7_a_30mb_import_is_refused_before_upload(ui: UI, page: Page) -> None:
    """Over the 8 MiB every spec reader takes: a clear message at once, nothing sent."""
    _wizard(page, ui)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "spec/import" in r.url else None)
    big = b"{" + b" " * (30 * 1024 * 1024) + b"}"
    page.get_by_label("Import spec file").set_input_files(
        {"name": "big.json", "mimeType": "application/json", "buffer": big}
    )
    expect(page.get_by_role("alert")).to_contain_text("big.json is 30 MB")
    expect(page.get_by_role("alert")).to_contain_text("at most 8.0 MB")
    assert sent == []


def test_need7_an_import_shows_progress_and_can_be_cancelled(ui: UI, page: Page) -> None:
    """A 6 MB import over a throttled link: a progress bar with a Cancel button that stops it."""
    _wizard(page, ui)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 200_000},
    )
    spec = b'{"name": "big", "note": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    page.get_by_label("Import spec file").set_input_files(
        {"name": "slow.json", "mimeType": "application/json", "buffer": spec}
    )
    progress = page.get_by_test_id("upload-progress")
    expect(progress).to_contain_text("Uploading slow.json")
    expect(page.get_by_role("progressbar")).to_be_visible()
    shot(page, "import-progress")
    page.get_by_role("button", name="Cancel upload").click()
    expect(progress).to_have_count(0)
    expect(page.get_by_role("alert")).to_contain_text("Import of slow.json cancelled")
