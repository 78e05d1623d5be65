"""The Runs page in Chromium (issue 16): card parameters sent (bug 5), not-checked lines grouped by
verifier (bug 8), a run that survives a reload and can be cancelled, and the whole library asked
first (bug 11), a stopped run that says what was done and where its data is (bug 12), results
record by record (need 1) and passes through overrides marked (need 2).

Besides the embedded PACS, the root's dicomfab.toml has in-memory targets (fast, and shaped for
one behaviour each): ``mem``; ``mem2`` with two verifiers and ``links = "none"`` (not-checked
link verdicts); ``lost`` that keeps nothing (every instance fails, its files still on disk)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from browser_kit import assert_accessible, shot
from playwright.sync_api import Browser, Page, expect
from ui_server import UI

RUN_TIMEOUT = 180_000
CONFIG = """
[targets.mem]
description = "in memory"
ingest = { kind = "memory", store = "ui-runs-mem" }
verify = { kind = "memory", store = "ui-runs-mem" }

[targets.mem2]
description = "two verifiers, links not checked"
ingest = { kind = "memory", store = "ui-runs-mem2" }
links = "none"

[[targets.mem2.verify]]
kind = "memory"
store = "ui-runs-mem2"

[[targets.mem2.verify]]
kind = "memory"
store = "ui-runs-mem2"

[targets.lost]
description = "keeps nothing it is sent"
ingest = { kind = "memory", store = "ui-runs-sent" }
verify = { kind = "memory", store = "ui-runs-empty" }
"""
# enough work that a cancel lands while the run goes on
MANY = (
    "bits_consistent cu_private_tag charset_chinese_korean birthdate_empty_or_partial "
    "accession_empty_or_colliding cu_instance_number_out_of_range bpxr_with_dbt bpxr_without_dbt "
    "cu_null_byte_tag contrast_enhanced_mammo"
)


@pytest.fixture(scope="module", autouse=True)
def targets(ui: UI) -> None:
    (ui.root / "dicomfab.toml").write_text(CONFIG, encoding="utf-8")


def _runs_page(ui: UI, page: Page) -> None:
    page.goto(ui.url)
    page.get_by_role("link", name="Runs", exact=True).click()
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()


def _choose(page: Page, names: str, target: str) -> None:
    page.get_by_label("Add scenario").fill(names)
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_label("Target", exact=True).select_option(target)
    page.get_by_label("Image size").select_option("small")


def _result(page: Page, name: str) -> None:
    row = page.get_by_test_id(f"run-row-{name}")
    expect(row.get_by_test_id("run-result")).not_to_have_text("", timeout=RUN_TIMEOUT)


def _run_ids(ui: UI) -> set[str]:
    return {p.parent.parent.name for p in ui.root.glob("runs/*/reports/report.json")}


def test_bug5_card_parameters_are_sent_from_the_runs_tab(ui: UI, page: Page) -> None:
    page.goto(ui.url)
    page.get_by_test_id("scenario-row-bits_consistent").click()
    page.get_by_label("patient.id", exact=True).fill("UI-PARAM-5")
    page.get_by_label("Select bits_consistent", exact=True).check()
    page.get_by_role("link", name="Runs", exact=True).click()
    expect(page.get_by_test_id("run-params")).to_contain_text("patient.id=UI-PARAM-5")
    page.get_by_label("Target", exact=True).select_option("mem")
    page.get_by_label("Image size").select_option("small")
    with page.expect_request(lambda r: r.url.endswith("/api/runs") and r.method == "POST") as req:
        page.get_by_role("button", name="Start run").click()
    assert req.value.post_data_json["params"] == {"patient.id": "UI-PARAM-5"}
    _result(page, "bits_consistent")
    page.get_by_role("button", name="Details of bits_consistent").click()
    studies = page.get_by_test_id("run-records-bits_consistent").get_by_test_id("study-record")
    expect(studies.first).to_contain_text("UI-PARAM-5")


def test_bug8_not_checked_lines_are_grouped_and_name_the_verifiers(ui: UI, page: Page) -> None:
    _runs_page(ui, page)
    _choose(page, "bits_consistent", "mem2")
    page.get_by_role("button", name="Start run").click()
    _result(page, "bits_consistent")
    page.get_by_role("button", name="Details of bits_consistent").click()
    expect(page.get_by_role("heading", name="Not checked (1)")).to_be_visible()
    lines = page.get_by_test_id("run-not-checked").locator("li")
    expect(lines).to_have_count(1)  # one record, two verifiers: one line, counted once
    expect(lines.first).to_contain_text("memory, memory#2")
    expect(lines.first).to_contain_text('links = "none" on this target')
    expect(lines.first).to_contain_text("1 record")
    expect(page.get_by_test_id("run-summary")).to_contain_text("1 not checked")
    # the filter keeps the scenario and, in it, only the record not checked
    page.get_by_label("not checked", exact=True).check()
    records = page.get_by_test_id("run-records-bits_consistent")
    expect(records.get_by_test_id("study-record")).to_have_count(1)
    expect(records.get_by_test_id("instance-record")).to_have_count(0)


def test_bug11_whole_library_asks_first(ui: UI, page: Page) -> None:
    _runs_page(ui, page)
    if page.get_by_role("button", name="Clear scenarios").count():
        page.get_by_role("button", name="Clear scenarios").click()
    count = len(page.request.get(ui.base + "api/scenarios").json())
    page.get_by_role("button", name="Start run").click()
    dialog = page.get_by_role("alertdialog", name="Run the whole library?")
    expect(dialog).to_contain_text(f"all {count} scenarios")
    expect(dialog.get_by_role("button", name=f"Run all {count} scenarios")).to_be_focused()
    shot(page, "runs-confirm")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    jobs = page.request.get(ui.base + "api/jobs").json()
    assert not [j for j in jobs if j["state"] == "running"], jobs


def test_bug11_a_reload_keeps_the_run_and_cancel_stops_it(ui: UI, page: Page) -> None:
    _runs_page(ui, page)
    _choose(page, MANY, "embedded")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_role("progressbar", name="Run progress")).to_be_visible()
    page.reload()
    page.get_by_role("link", name="Runs", exact=True).click()
    # after the reload: the run is followed again, its selection is still chosen
    expect(page.get_by_role("progressbar", name="Run progress")).to_be_visible()
    expect(page.get_by_test_id("run-running")).to_contain_text("Running 10 scenarios")
    chips = page.get_by_role("list", name="Chosen scenarios").locator("li")
    expect(chips).to_have_count(10)
    expect(page.get_by_role("button", name="Start run")).to_be_disabled()
    page.get_by_role("button", name="Cancel run").click()
    stopped = page.get_by_test_id("run-stopped")
    expect(stopped).to_contain_text("Run interrupted", timeout=RUN_TIMEOUT)
    jobs = page.request.get(ui.base + "api/jobs").json()
    assert jobs[0]["state"] == "cancelled", jobs[0]
    report = ui.root / "runs" / jobs[0]["result"]["id"] / "reports" / "report.json"
    assert json.loads(report.read_text(encoding="utf-8"))["summary"]["interrupted"] is True


def test_bug12_a_stopped_run_says_what_was_done_and_where_its_data_is(ui: UI, page: Page) -> None:
    _runs_page(ui, page)
    if page.get_by_role("button", name="Clear scenarios").count():
        page.get_by_role("button", name="Clear scenarios").click()
    _choose(page, MANY, "embedded")
    before = _run_ids(ui)
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_role("progressbar", name="Run progress")).to_be_visible()
    page.get_by_role("button", name="Cancel run").click()
    stopped = page.get_by_test_id("run-stopped")
    expect(stopped).to_contain_text("Run interrupted", timeout=RUN_TIMEOUT)
    (run_id,) = _run_ids(ui) - before
    expect(stopped).to_contain_text(re.compile(r"\d+ of 10 scenarios checked, \d+ not run"))
    expect(page.get_by_test_id("run-kept-folder")).to_have_text(f"runs/{run_id}/generated")
    summary = page.get_by_test_id("run-summary")
    expect(summary).to_contain_text("interrupted")
    expect(summary).not_to_contain_text("FAILED")
    # the table lists every scenario not reached, not an empty table
    expect(page.get_by_test_id("run-results").locator("tbody tr")).to_have_count(10)
    assert Path(ui.root / "runs" / run_id / "generated").is_dir()


def test_need1_results_record_by_record(ui: UI, page: Page, browser: Browser) -> None:
    _runs_page(ui, page)
    if page.get_by_role("button", name="Clear scenarios").count():
        page.get_by_role("button", name="Clear scenarios").click()
    _choose(page, "bits_consistent", "lost")
    page.get_by_role("button", name="Start run").click()
    _result(page, "bits_consistent")
    page.get_by_role("button", name="Details of bits_consistent").click()
    records = page.get_by_test_id("run-records-bits_consistent")
    instances = records.get_by_test_id("instance-record")
    expect(instances).to_have_count(8)
    expect(instances.first).to_contain_text("current RCC")
    expect(instances.first).to_contain_text("expected present (accept), not found")
    expect(instances.first.get_by_test_id("record-status")).to_have_text("FAIL")
    thumb = instances.first.get_by_role("img", name="thumbnail current RCC")
    expect(thumb).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    expect(records.get_by_test_id("study-record")).to_have_count(2)
    # the filter: the failed records only; a failed instance opens its header and image
    page.get_by_label("failed", exact=True).check()
    expect(instances).to_have_count(8)
    records.get_by_role("heading", name="Studies").evaluate(
        "e => window.scrollTo(0, e.getBoundingClientRect().top + window.scrollY - 80)"
    )
    shot(page, "runs-records")
    instances.first.get_by_role("button", name="Open header of current RCC").click()
    header = page.get_by_role("region", name=re.compile("^Header of current RCC"))
    expect(header.get_by_test_id("header-table")).to_contain_text("SOPInstanceUID")
    expect(header.get_by_role("img", name=re.compile("^image current RCC"))).to_be_visible()
    assert_accessible(page, "runs records 1280")
    narrow = browser.new_context(viewport={"width": 800, "height": 800})
    try:
        small = narrow.new_page()
        small.set_default_timeout(60_000)
        _runs_page(ui, small)
        small.get_by_role("button", name=re.compile("^View results of run")).first.click()
        small.get_by_role("button", name="Details of bits_consistent").click()
        expect(small.get_by_test_id("instance-record")).to_have_count(8)
        assert_accessible(small, "runs records 800")
    finally:
        narrow.close()


def test_need2_passes_through_overrides_are_marked(ui: UI, page: Page) -> None:
    _runs_page(ui, page)
    if page.get_by_role("button", name="Clear scenarios").count():
        page.get_by_role("button", name="Clear scenarios").click()
    _choose(page, "pr_bits_mismatch", "embedded")
    page.get_by_role("button", name="Start run").click()
    row = page.get_by_test_id("run-row-pr_bits_mismatch")
    expect(row.get_by_test_id("run-result")).to_contain_text("pass", timeout=RUN_TIMEOUT)
    expect(row.get_by_test_id("run-row-overrides")).to_contain_text("through overrides")
    expect(page.get_by_test_id("run-overrides-count")).to_contain_text(
        "passed through the target's overrides"
    )
    page.get_by_role("button", name="Details of pr_bits_mismatch").click()
    badges = page.get_by_test_id("run-records-pr_bits_mismatch").get_by_text(
        "pass (override reject→accept)"
    )
    expect(badges.first).to_be_visible()
    assert badges.count() >= 1
