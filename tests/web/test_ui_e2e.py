"""The web UI end to end: the real server (`dicomfab ui`) driven through Debian's Chromium with
Playwright (``executable_path``: no browser download). Screenshots of the main screens go to
``docs/screenshots/`` (the README shows them).

Needs the built front end (``make web``) and ``/usr/bin/chromium`` (``make deps``): a missing one
fails the test, it is never skipped."""

from __future__ import annotations

import json
import re

import pydicom
from browser_kit import assert_accessible, shot
from playwright.sync_api import Page, expect
from ui_server import UI

# generation starts worker processes: on a loaded machine it takes more than expect's 5 s default
expect.set_options(timeout=60_000)


def test_a_missing_or_wrong_token_is_refused(ui: UI, page: Page) -> None:
    for url in (ui.base, ui.base + "?token=wrong"):
        page.goto(url)
        expect(page.get_by_text("This page needs the link printed by")).to_be_visible()


def test_the_link_signs_in_with_an_http_only_cookie(ui: UI, page: Page) -> None:
    response = page.goto(ui.url)
    assert response is not None and response.status == 200
    assert response.request.redirected_from is not None  # the server's 303 dropped the token
    expect(page).not_to_have_url(re.compile("token="))
    expect(page.get_by_role("heading", name="Scenarios", exact=True)).to_be_visible()
    (cookie,) = [c for c in page.context.cookies() if c["name"] == f"dicomfab-token-{ui.port}"]
    assert cookie["value"] == ui.token and cookie["path"] == "/"
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert ui.token not in page.evaluate("() => document.cookie")  # page scripts never see it
    assert page.evaluate("() => sessionStorage.length + localStorage.length") == 0
    for header in ("x-frame-options", "content-security-policy", "referrer-policy"):
        assert header in response.headers


def test_pick_two_presets_generate_and_see_thumbnails(ui: UI, page: Page) -> None:
    page.goto(ui.url)
    expect(page).not_to_have_url(re.compile("token="))  # the token leaves the address bar
    page.get_by_label("Search scenarios").fill("bits")
    for name in ("bits_consistent", "pr_bits_mismatch"):
        page.get_by_label(f"Select {name}", exact=True).check()
    page.get_by_test_id("scenario-row-pr_bits_mismatch").click()
    expect(page.get_by_test_id("scenario-card")).to_contain_text("pr_bits_mismatch")
    shot(page, "scenarios")
    page.get_by_label("Image size").select_option("small")
    page.get_by_role("button", name="Generate 2 selected").click()
    results = page.get_by_test_id("generate-results")
    expect(results).to_contain_text("bits_consistent")
    # two 4-view studies each with a prior, at least; a broken image is a placeholder (role img)
    expect(page.get_by_role("img", name=re.compile("^thumbnail")).nth(15)).to_be_visible()
    thumbnails = page.locator('img[alt^="thumbnail"]')
    page.wait_for_function(
        "() => [...document.querySelectorAll('img[alt^=\"thumbnail\"]')]"
        ".slice(0, 8).every(i => i.complete && i.naturalWidth > 0)"
    )
    sources = thumbnails.evaluate_all("images => images.map(i => i.src)")
    assert sources and not any("token" in s for s in sources), sources[:2]
    shot(page, "generated")


def test_wizard_spec_with_a_private_tag_is_written(ui: UI, page: Page) -> None:
    page.goto(ui.url)
    page.get_by_role("link", name="Wizard", exact=True).click()
    page.get_by_role("button", name="Tree editor").click()  # the guided flow is the default
    page.get_by_role("button", name="New spec").click()
    page.get_by_role("button", name="Edit dataset settings").click()
    page.get_by_role("button", name="Add tag").first.click()
    page.get_by_label("Private element 1", exact=True).check()
    page.get_by_label("Private group 1", exact=True).fill("0029")
    page.get_by_label("Private creator 1", exact=True).fill("ACME 1.0")
    page.get_by_label("Private element byte 1", exact=True).fill("10")
    page.get_by_label("Private VR 1", exact=True).select_option("LO")
    page.get_by_label("Tag value 1", exact=True).fill("hello wizard")
    expect(page.get_by_test_id("spec-json")).to_contain_text("ACME 1.0")
    expect(page.get_by_test_id("spec-summary")).to_contain_text("instances")
    shot(page, "wizard")
    page.get_by_label("Output folder").fill("wizard-out")
    page.get_by_role("button", name="Generate", exact=True).click()
    # issue 16 need 6: focus moves to the result after generating
    expect(page.get_by_role("heading", name="Generated", exact=True)).to_be_focused()
    thumbnails = page.locator('img[alt^="thumbnail"]')
    expect(thumbnails.first).to_be_visible()
    files = sorted(ui.root.glob("wizard-out/*/dicoms/*/*.dcm"))
    assert files, "the wizard's dataset was not written"
    ds = pydicom.dcmread(files[0])
    block = ds.private_block(0x0029, "ACME 1.0")
    assert block[0x10].value == "hello wizard"


def test_run_against_the_embedded_target_shows_pass(ui: UI, page: Page) -> None:
    page.goto(ui.url)
    page.get_by_role("link", name="Runs", exact=True).click()
    page.get_by_label("Add scenario").fill("bits_consistent")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_label("Image size").select_option("small")
    page.get_by_role("button", name="Start run").click()
    row = page.get_by_test_id("run-row-bits_consistent")
    expect(row.get_by_test_id("run-result")).to_have_text("pass", timeout=180_000)
    shot(page, "runs")
    expect(page.get_by_test_id("past-runs")).to_contain_text("1")
    # the run's seed, as its report records it, and a button that puts it in the Seed field
    (report,) = ui.root.glob("runs/*/reports/report.json")
    seed = str(json.loads(report.read_text(encoding="utf-8"))["summary"]["seed"])
    expect(page.get_by_test_id("run-seed")).to_have_text(seed)
    page.get_by_role("button", name="Use this seed").click()
    expect(page.get_by_label("Seed", exact=True)).to_have_value(seed)
    # the link verdict: decided by where the studies were filed, with its evidence
    expect(row.get_by_test_id("run-links")).to_have_text("1/1 linked as expected")
    page.get_by_role("button", name="Details of bits_consistent").click()
    verdicts = page.get_by_test_id("run-link-verdicts")
    expect(verdicts).to_contain_text("prior study")
    expect(verdicts).to_contain_text("linked (expected link) (sql, c-find agree)")
    # the report opens in a new tab with the cookie alone: no token in its link
    link = page.get_by_role("link", name="HTML report").first
    assert "token" not in (link.get_attribute("href") or "")
    with page.context.expect_page() as opened:
        link.click()
    report = opened.value
    report.wait_for_load_state()
    expect(report.locator("h1")).to_be_visible()
    assert "token" not in report.url


def test_keyboard_focus_is_visible_and_pages_fit_1280(ui: UI, page: Page) -> None:
    page.goto(ui.url)
    expect(page.get_by_role("heading", name="Scenarios", exact=True)).to_be_visible()
    page.keyboard.press("Tab")
    outline = page.evaluate(
        "() => { const e = document.activeElement; const s = getComputedStyle(e);"
        " return [e.tagName, s.outlineStyle, s.outlineWidth]; }"
    )
    assert outline[0] in ("A", "BUTTON", "INPUT", "SELECT") and outline[1] != "none", outline
    for name in ("Scenarios", "Wizard", "Output", "Runs"):
        page.get_by_role("link", name=name, exact=True).click()
        expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
        assert_accessible(page, name)


def _numeric_values(ds: pydicom.Dataset) -> list[float]:
    """Every NumericValue in an SR content tree."""
    found: list[float] = []
    for item in ds.get("ContentSequence", []):
        for measured in item.get("MeasuredValueSequence", []):
            found.append(float(measured.NumericValue))
        found += _numeric_values(item)
    return found


def test_wizard_offers_a_cad_sr_its_references_and_findings(ui: UI, page: Page) -> None:
    """The form follows the IOD a node builds: an image series has no references or content; a
    Mammography CAD SR series gets references and findings (and no field it does not read),
    and the finding typed in the form is the one the generated SR reports."""
    page.goto(ui.url)
    page.get_by_role("link", name="Wizard", exact=True).click()
    page.get_by_role("button", name="Tree editor").click()  # the guided flow is the default
    page.get_by_role("button", name="New spec").click()
    page.get_by_role("button", name="Edit series 1").click()
    expect(page.get_by_test_id("node-iod")).to_contain_text("mg")
    expect(page.locator('[data-field$=".references"]')).to_have_count(0)
    expect(page.locator('[data-field$=".content"]')).to_have_count(0)

    page.get_by_role("button", name="Add series").click()
    page.get_by_label("IOD", exact=True).select_option("mammo-cad-sr")
    expect(page.get_by_test_id("node-iod")).to_contain_text("a derived object")
    expect(page.locator('[data-field$="series[1].references"]')).to_have_count(1)
    expect(page.locator('[data-field$="series[1].content.findings"]')).to_have_count(1)
    expect(page.locator('[data-field$="series[1].content.segmentation"]')).to_have_count(0)
    page.get_by_label("References", exact=True).fill("RCC LMLO")
    page.get_by_role("button", name="Add finding").click()
    finding = page.locator('[data-field$="content.findings[0]"]')
    finding.get_by_label("Kind", exact=True).select_option("calcification_cluster")
    finding.get_by_label("Probability", exact=True).fill("0.42")
    expect(page.get_by_test_id("spec-json")).to_contain_text("calcification_cluster")
    shot(page, "wizard-cad-sr")

    page.get_by_label("Output folder").fill("wizard-sr")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.locator('img[alt^="thumbnail"]').first).to_be_visible()
    files = sorted(ui.root.glob("wizard-sr/*/dicoms/*/*.dcm"))
    by_class = {str(pydicom.dcmread(f).SOPClassUID): f for f in files}
    sr = pydicom.dcmread(by_class["1.2.840.10008.5.1.4.1.1.88.50"])
    images = {pydicom.dcmread(f).SOPInstanceUID for f in files}
    cited = {
        ref.ReferencedSOPInstanceUID
        for study in sr.CurrentRequestedProcedureEvidenceSequence
        for series in study.ReferencedSeriesSequence
        for ref in series.ReferencedSOPSequence
    }
    assert len(cited) == 2 and cited <= images
    assert 42.0 in _numeric_values(sr)
