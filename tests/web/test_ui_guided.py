"""Issue 16, need 4: the guided wizard flow the predecessor's users knew (current study → its tags
→ internal priors → external priors → review), driven in Debian's Chromium against the real
`dicomfab ui`. What the review shows before generating is what the written files hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydicom
from browser_kit import assert_accessible, shot
from playwright.sync_api import Browser, Page, expect
from ui_server import UI

expect.set_options(timeout=60_000)


def _spec_json(page: Page) -> dict[str, Any]:
    data = json.loads(page.get_by_test_id("spec-json").inner_text())
    assert isinstance(data, dict)
    return data


def _preview_rows(page: Page) -> list[dict[str, str]]:
    return page.get_by_test_id("guided-preview-row").evaluate_all(
        "rows => rows.map(r => Object.fromEntries([...r.querySelectorAll('td')]"
        ".map((td, i) => [td.dataset.col || String(i), td.textContent])))"
    )


def _step(page: Page, title: str) -> None:
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    current = page.get_by_role("navigation", name="Guided steps").locator('[aria-current="step"]')
    expect(current).to_contain_text(title.split(". ", 1)[1])


def _open_guided(page: Page, ui: UI) -> None:
    page.goto(ui.url)
    page.get_by_role("link", name="Wizard", exact=True).click()
    expect(page.get_by_role("button", name="Guided")).to_have_attribute("aria-pressed", "true")
    _step(page, "1. Current study")


def test_need4_guided_flow_previews_what_it_writes(ui: UI, page: Page) -> None:
    picked = ui.root / "picked"
    picked.mkdir()
    (ui.root / "out").mkdir(exist_ok=True)
    _open_guided(page, ui)

    # 1. the current study: date, description, 4 views, cancerous, small images
    page.get_by_label("Current study date").fill("2024-05-15")
    page.get_by_label("Current study description").fill("MAMMO SCREENING")
    page.get_by_label("Current study cancerous").check()
    page.get_by_label("Image size").select_option("small")
    expect(page.get_by_test_id("guided-current-views")).to_contain_text("RCC LCC RMLO LMLO")
    current_study = _spec_json(page)["patients"][0]["studies"][0]
    assert current_study["pixels"] == {"lesion": "mass"}, current_study
    assert_accessible(page, "guided current study")
    shot(page, "wizard-guided-current")

    # 2. its tags: pre-filled from the server's preview, editable
    page.get_by_role("button", name="Next").click()
    _step(page, "2. Its tags")
    expect(page.get_by_label("Image 1 StudyDate", exact=True)).to_have_value("20240515")
    expect(page.get_by_label("Image 4 ViewPosition", exact=True)).to_have_value("MLO")
    expect(page.get_by_label("Image 1 PatientID", exact=True)).not_to_have_value("")
    expect(page.get_by_label("Image 1 Rows", exact=True)).not_to_have_value("")
    page.get_by_label("Image 2 StudyDescription", exact=True).fill("EDITED LCC")
    page.get_by_label("Image 4 cancerous").uncheck()  # cancerous per image too
    expect(page.get_by_test_id("spec-json")).to_contain_text('"none"')
    series = _spec_json(page)["patients"][0]["studies"][0]["series"][0]
    assert series["count"] == 4
    assert series["instances"][3]["pixels"] == {"lesion": "none"}
    assert "pixels" not in series["instances"][1]
    assert_accessible(page, "guided tags")
    shot(page, "wizard-guided-tags")

    # 3. one internal prior, a year back, same patient
    page.get_by_role("button", name="Next").click()
    _step(page, "3. Internal priors")
    page.get_by_role("button", name="Add internal priors").click()
    expect(page.get_by_label("Internal prior 1 date")).to_have_value("-1y")
    expect(page.get_by_test_id("guided-prior-1")).to_contain_text("2023-05-15")

    # 4. one external prior from the masc site profile
    page.get_by_role("button", name="Next").click()
    _step(page, "4. External priors")
    page.get_by_label("Site profile").select_option("masc")
    expect(page.get_by_test_id("guided-site")).to_contain_text("MASC-4711")
    expect(page.get_by_test_id("guided-site")).to_contain_text("MASC^TEST^PATIENT")
    page.get_by_role("button", name="Add external priors").click()
    expect(page.get_by_test_id("guided-external-1")).to_contain_text("MASC-4711")

    # the tree editor edits the same spec: switching there and back keeps the work
    page.get_by_role("button", name="Tree editor").click()
    expect(page.get_by_role("button", name="Edit dataset settings")).to_be_visible()
    page.get_by_role("button", name="Guided").click()
    _step(page, "4. External priors")
    expect(page.get_by_test_id("guided-external-1")).to_contain_text("MASC-4711")
    expect(page.get_by_label("Internal prior 1 date")).to_have_count(0)  # not this step
    page.get_by_role("button", name="3 Internal priors").click()
    expect(page.get_by_label("Internal prior 1 date")).to_have_value("-1y")
    page.get_by_role("button", name="5 Review").click()

    # 5. review: the summary and the values that WILL be written; a new seed re-rolls them
    _step(page, "5. Review")
    summary = page.get_by_test_id("guided-summary")
    expect(summary).to_have_text("1 patient, 3 studies, 12 instances")
    expect(page.get_by_test_id("guided-preview-row")).to_have_count(12)
    first_id = _preview_rows(page)[0]["PatientID"]
    seed = page.get_by_test_id("guided-seed").inner_text()
    page.get_by_role("button", name="New seed").click()
    expect(page.get_by_test_id("guided-seed")).not_to_have_text(seed)
    expect(
        page.get_by_test_id("guided-preview-row").first.locator('[data-col="PatientID"]')
    ).not_to_have_text(first_id)
    page.wait_for_timeout(600)  # let the debounced preview settle before reading it
    expect(page.get_by_text("Updating the preview…")).to_have_count(0)
    rows = _preview_rows(page)
    assert [r["6"] for r in rows[:4]] == ["mass", "mass", "mass", ""]  # the lesion column
    assert_accessible(page, "guided review")
    shot(page, "wizard-guided-review")

    # the folder picker: from the allowed folder into a sub-folder
    page.get_by_role("button", name="Browse…").click()
    picker = page.get_by_role("group", name="Folder picker")
    out = page.get_by_label("Output folder").input_value()  # the default, inside the root
    expect(picker.get_by_test_id("picker-path")).to_have_text(out)
    picker.get_by_role("button", name="↑ Up").click()
    expect(picker.get_by_test_id("picker-path")).to_have_text(str(ui.root.resolve()))
    picker.get_by_role("button", name="Open folder picked").click()
    expect(picker.get_by_test_id("picker-path")).to_have_text(str(picked.resolve()))
    picker.get_by_role("button", name="Use this folder").click()
    expect(page.get_by_label("Output folder")).to_have_value(str(picked.resolve()))

    # generate: a progress bar, a log, then thumbnails
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.get_by_role("progressbar", name="Generate progress")).to_be_visible()
    log = page.get_by_test_id("generate-log")
    expect(log).to_contain_text("Generating power_customized_dataset")
    result = page.get_by_test_id("guided-result")
    expect(result).to_contain_text("power_customized_dataset")
    expect(result.get_by_role("heading", name="Generated")).to_be_focused()  # need 6
    expect(log).to_contain_text("done")
    expect(result.locator('img[alt^="thumbnail"]').first).to_be_visible()

    files = {
        str(ds.SOPInstanceUID): ds
        for ds in (
            pydicom.dcmread(p, stop_before_pixels=True)
            for p in (picked / "power_customized_dataset" / "dicoms").rglob("*.dcm")
        )
    }
    assert len(files) == 12
    for row in rows:  # what the review showed is what was written
        ds = files[row["SOPInstanceUID"]]
        assert ds.PatientID == row["PatientID"]
        assert ds.AccessionNumber == row["AccessionNumber"]
        assert ds.StudyInstanceUID == row["StudyInstanceUID"]
    by_role: dict[str, list[Any]] = {}
    for row in rows:
        by_role.setdefault(row["0"], []).append(files[row["SOPInstanceUID"]])
    current, prior = by_role["current"], by_role["internal prior"]
    external = by_role["external prior"]
    assert {d.StudyDate for d in current} == {"20240515"}
    assert {d.StudyDate for d in prior} == {"20230515"}
    assert {d.PatientID for d in prior} == {current[0].PatientID}
    assert {str(d.PatientName) for d in prior} == {str(current[0].PatientName)}
    assert {(str(d.PatientName), d.PatientID, d.PatientBirthDate) for d in external} == {
        ("MASC^TEST^PATIENT", "MASC-4711", "19580321")
    }
    assert [d.get("StudyDescription") for d in current[1:2]] == ["EDITED LCC"]
    spec = _spec_json(page)
    studies = spec["patients"][0]["studies"]
    assert [s.get("pixels", {}).get("lesion") for s in studies] == ["mass", None, None]


def test_need4_guided_steps_fit_800px(ui: UI, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 800, "height": 800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        _open_guided(page, ui)
        assert_accessible(page, "guided current study at 800 px")
        for title in ("2. Its tags", "3. Internal priors", "4. External priors", "5. Review"):
            page.get_by_role("button", name="Next").click()
            _step(page, title)
            if title == "2. Its tags":
                expect(page.get_by_label("Image 1 PatientID", exact=True)).not_to_have_value("")
            if title == "5. Review":
                expect(page.get_by_test_id("guided-preview-row").first).to_be_visible()
            assert_accessible(page, f"guided {title} at 800 px")
        page.get_by_role("button", name="Back").click()
        _step(page, "4. External priors")
    finally:
        context.close()


def test_need4_folder_picker_does_not_leave_the_root(ui: UI, page: Page, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    (outside / "secret-folder").mkdir(parents=True)
    link = ui.root / "escape"
    link.symlink_to(outside)
    try:
        _open_guided(page, ui)
        page.get_by_role("button", name="5 Review").click()
        page.get_by_label("Output folder").fill(str(ui.root))
        page.get_by_role("button", name="Browse…").click()
        picker = page.get_by_role("group", name="Folder picker")
        expect(picker.get_by_test_id("picker-path")).to_have_text(str(ui.root.resolve()))
        expect(picker.get_by_role("button", name="Open folder escape")).to_have_count(0)
        picker.get_by_role("button", name="↑ Up to the allowed folders").click()
        expect(picker.get_by_test_id("picker-path")).to_have_text("allowed folders")
        expect(picker).not_to_contain_text("secret-folder")
    finally:
        link.unlink()
