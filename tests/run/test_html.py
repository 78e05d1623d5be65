"""The HTML report: real generated datasets (merged and single), hand-made observations, the page
parsed back with the standard library's HTML parser."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterable
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from dicomfab import generate, parse_spec
from dicomfab.output.manifest import InstanceEntry, Manifest
from dicomfab.output.merge import MergedManifest, merge
from dicomfab.run.checks import ScenarioResult, StudyCheck, check, check_merged, combine
from dicomfab.run.html import MAX_THUMBS, THUMB_SIZE, write_html
from dicomfab.scenarios import ScenarioRequest
from dicomfab.scenarios.generate import generate_one
from dicomfab.targets.observations import Observations, ObservedInstance, studies_from_instances

SMALL = {"image_size": "small"}
PNG_URI = "data:image/png;base64,"


class Page(HTMLParser):
    """Every start tag with its attributes, and the text, unescaped."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)

    def imgs(self) -> list[str]:
        return [a.get("src") or "" for t, a in self.tags if t == "img"]

    def placeholders(self) -> int:
        return sum(1 for t, a in self.tags if t == "div" and a.get("class") == "ph")


def observe(entries: Iterable[InstanceEntry]) -> Observations:
    found = {
        e.sop_instance_uid: ObservedInstance(
            e.sop_instance_uid,
            e.attributes.get("StudyInstanceUID"),
            e.attributes.get("SeriesInstanceUID"),
            e.attributes.get("PatientID"),
        )
        for e in entries
    }
    return Observations(found, source="test", studies=studies_from_instances(found.values()))


def decode_thumbs(page: Page) -> list[Image.Image]:
    images = []
    for src in page.imgs():
        assert src.startswith(PNG_URI)
        image = Image.open(io.BytesIO(base64.b64decode(src[len(PNG_URI) :])))
        image.load()
        assert image.format == "PNG"
        assert max(image.size) <= THUMB_SIZE
        images.append(image)
    return images


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ScenarioResult]]:
    """Three scenarios merged into one folder: truncated_file (both broken files wrongly found in
    the index), bits_consistent (its first instance missing) and cu_missing_dicom (as expected)."""
    out = tmp_path_factory.mktemp("html")
    names = ("truncated_file", "bits_consistent", "cu_missing_dicom")
    folders = [
        generate_one(ScenarioRequest(name, SMALL, seed=seed), out / name).path
        for seed, name in enumerate(names, start=101)
    ]
    result = merge(folders, out / "merged")
    manifests = {d.name: d.manifest for d in result.manifest.datasets}
    seen = [
        *manifests["truncated_file"].instances(),
        *manifests["bits_consistent"].instances()[1:],
        *(i for i in manifests["cu_missing_dicom"].instances() if i.written),
    ]
    return out / "merged", check_merged(result.manifest, observe(seen))


def test_merged_report_lists_failures_with_thumbnails(
    merged: tuple[Path, list[ScenarioResult]], tmp_path: Path
) -> None:
    root, results = merged
    by_name = {r.name: r for r in results}
    assert not by_name["truncated_file"].passed and not by_name["bits_consistent"].passed
    assert by_name["cu_missing_dicom"].passed
    path = write_html(results, tmp_path / "report.html", dataset_root=root, title="run 1")
    text = path.read_text(encoding="utf-8")
    page = Page(text)
    body = page.all_text
    for r in results:
        assert r.name in body
    for r in results:
        for line in r.failures():
            assert line in body
    # truncated_file: its two failed instances are the two broken files → placeholders;
    # bits_consistent: one thumbnail of its missing instance; the passed scenario: none
    assert len(decode_thumbs(page)) == 1
    assert page.placeholders() == 2
    assert body.count("cannot preview") == 2
    # failed scenarios come first in the table and each has an open <details>
    rows = [a for t, a in page.tags if t == "details" and a.get("id")]
    assert len(rows) == 2 and all("open" in a for a in rows)
    # the passed scenario's link verdict is shown with its evidence, folded
    assert "Link verdicts of the scenarios that passed" in text
    assert "linked (expected link)" in text
    assert text.index("truncated_file") < text.index("cu_missing_dicom")


def test_pre_existing_instances_are_shown_and_not_passed(
    merged: tuple[Path, list[ScenarioResult]], tmp_path: Path
) -> None:
    """A scenario with instances the target held before ingest is shown as failed, with why,
    and the summary counts them; the run's seed (given in ``meta``) is in the header."""
    root, _ = merged
    data = MergedManifest.model_validate_json((root / "manifest.json").read_text("utf-8"))
    (m,) = [d.manifest for d in data.datasets if d.name == "bits_consistent"]
    old = {i.sop_instance_uid for i in m.instances()[:2]}
    result = check(m, observe(m.instances()), pre_existing=old)
    path = write_html([result], tmp_path / "r.html", dataset_root=root, meta={"seed": "77"})
    page = Page(path.read_text(encoding="utf-8"))
    body = page.all_text
    assert "2 instances were already in the target before ingest" in body
    assert "2 already in the target before ingest (not credited)" in body
    assert "seed77" in body.replace(" ", "")
    assert [a for t, a in page.tags if t == "details"]  # its section, open: it did not pass
    assert len(decode_thumbs(page)) == 2  # the two pre-existing instances


def test_two_verifiers_show_each_instance_once_with_their_verdicts(
    merged: tuple[Path, list[ScenarioResult]], tmp_path: Path
) -> None:
    """SQL misses the first instance, C-FIND the first two: two failed instances, one tile
    each, captioned with each verifier's status; the disagreement is one failure line."""
    root, _ = merged
    data = MergedManifest.model_validate_json((root / "manifest.json").read_text("utf-8"))
    (m,) = [d.manifest for d in data.datasets if d.name == "bits_consistent"]
    everything = m.instances()
    sql = replace(observe(everything[1:]), source="sql db")
    cfind = replace(observe(everything[2:]), source="c-find pacs")
    (result,) = combine([[check(m, sql)], [check(m, cfind)]])
    path = write_html([result], tmp_path / "r.html", dataset_root=root)
    body = Page(path.read_text(encoding="utf-8")).all_text
    assert len(decode_thumbs(Page(path.read_text(encoding="utf-8")))) == 2
    assert body.count("— fail (sql: fail, c-find: fail)") == 1
    assert body.count("— fail (sql: pass, c-find: fail)") == 1
    assert body.count("verifiers disagree") == 2  # the instance's line and its study's
    for line in result.failures():
        assert line in body


def test_files_are_found_from_a_datasets_own_manifest(
    merged: tuple[Path, list[ScenarioResult]], tmp_path: Path
) -> None:
    """A generated dataset already writes ``dicoms/<StudyUID>/<file>`` and a merge keeps that
    path, so a result from the dataset's own manifest finds its files under the merged folder,
    under the dataset's folder, and under the folder that holds the dataset folders."""
    root, results = merged
    dataset = root.parent / "bits_consistent" / "bits_consistent"
    manifest = Manifest.model_validate_json((dataset / "manifest.json").read_bytes())
    result = check(manifest, observe(manifest.instances()[1:]))
    (merged_result,) = [r for r in results if r.name == "bits_consistent"]
    assert [c.file for c in result.instances] == [c.file for c in merged_result.instances]
    for folder in (root, dataset, dataset.parent):
        page = Page(write_html([result], tmp_path / "r.html", dataset_root=folder).read_text())
        assert len(decode_thumbs(page)) == 1 and page.placeholders() == 0, folder
    page = Page(write_html([result], tmp_path / "r.html", dataset_root=tmp_path).read_text())
    assert page.imgs() == [] and "file not found" in page.all_text


def test_single_dataset_caps_thumbnails(tmp_path: Path) -> None:
    spec = {
        "name": "three-studies",
        "seed": 11,
        "defaults": {"pixels": {"size": "small"}},
        "patients": [{"studies": [{"role": "current"}, {"role": "prior", "date": "-2y"}]}] * 2,
    }
    gen = generate(parse_spec(spec), tmp_path / "ds")
    result = check(gen.manifest, Observations({}, source="test"))
    assert result.counts["failed"] == 16
    page = Page(write_html([result], tmp_path / "r.html", dataset_root=tmp_path / "ds").read_text())
    assert len(decode_thumbs(page)) == MAX_THUMBS
    assert f"{MAX_THUMBS} of 16 shown" in page.all_text
    # no dataset_root: placeholders, never an exception
    page = Page(write_html([result], tmp_path / "r2.html").read_text())
    assert page.imgs() == [] and page.placeholders() == MAX_THUMBS


def test_study_level_failure_shows_that_studys_instances(
    merged: tuple[Path, list[ScenarioResult]], tmp_path: Path
) -> None:
    root, results = merged
    ok = next(r for r in results if r.passed)
    written = [c for c in ok.instances if c.written]
    uid = written[0].study_instance_uid
    study = StudyCheck(uid, "current", "P1", "accept", "fail", "study record not matched")
    failed = replace(ok, studies=[study])
    assert not failed.passed and failed.counts["failed"] == 0
    page = Page(write_html([failed], tmp_path / "r.html", dataset_root=root).read_text())
    expected = [c for c in ok.instances if c.study_instance_uid == uid]
    thumbs = [c for c in expected if c.written]
    assert len(decode_thumbs(page)) == len(thumbs) >= 1
    assert page.placeholders() == len(expected) - len(thumbs)  # the file never written
    assert "study record not matched" in page.all_text


def test_text_is_escaped_and_nothing_external_or_secret(
    merged: tuple[Path, list[ScenarioResult]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-Pa55word-never-in-reports"
    monkeypatch.setenv("SECRET", secret)
    monkeypatch.setenv("PGPASSWORD", secret)
    root, results = merged
    nasty = '<script>alert("x")</script> & <b>co</b>'
    bad = next(r for r in results if r.name == "bits_consistent")
    first = next(c for c in bad.instances if c.status == "fail")
    instances = [
        replace(c, label=f"{c.label} <i>x</i>") if c is first else c for c in bad.instances
    ]
    evil = replace(bad, scenario=nasty, instances=instances)
    path = write_html(
        [evil, *results],
        tmp_path / "r.html",
        dataset_root=root,
        title="<title> & run",
        meta={"target": "orthanc <dev>", "run folder": str(root)},
        error='verifier failed: "<boom>" & more',
    )
    text = path.read_text(encoding="utf-8")
    page = Page(text)
    assert "<script>" not in text and "<i>x</i>" not in text and "<boom>" not in text
    assert nasty in page.all_text
    assert f"{first.label} <i>x</i>" in page.all_text
    assert 'verifier failed: "<boom>" & more' in page.all_text
    assert "orthanc <dev>" in page.all_text
    assert not any(t == "script" for t, _ in page.tags)
    for _, attrs in page.tags:
        for key in ("src", "href"):
            value = attrs.get(key)
            if value is not None:
                assert value.startswith(("data:", "#")), value
    assert not re.search(r"https?://", text)
    assert secret not in text


def test_empty_run_with_error(tmp_path: Path) -> None:
    page = Page(write_html([], tmp_path / "r.html", error="cannot reach the target").read_text())
    assert "cannot reach the target" in page.all_text
    assert any(t == "div" and a.get("class") == "error" for t, a in page.tags)
    assert "Scenarios: 0" in page.all_text


def test_need2_passes_through_overrides_are_marked(tmp_path: Path) -> None:
    """pr_bits_mismatch on a target that accepts what the scenario says it rejects: the passes
    that only the override made are counted in the summary, in the table and listed by record
    (issue 16, need 2)."""
    folder = generate_one(ScenarioRequest("pr_bits_mismatch", SMALL, seed=7), tmp_path / "d").path
    manifest = Manifest.model_validate_json((folder / "manifest.json").read_text("utf-8"))
    written = [i for i in manifest.instances() if i.written]
    result = check(manifest, observe(written), overrides={"reject": "accept"})
    assert result.passed
    changed = [c for c in result.instances if c.declared_outcome != c.expected_outcome]
    assert changed, "pr_bits_mismatch declares a reject"
    path = write_html([result], tmp_path / "r.html", dataset_root=folder)
    body = Page(path.read_text(encoding="utf-8")).all_text
    assert f"{len(changed)} passed through the target's overrides" in body
    assert "Passes through the target's overrides" in body
    for c in changed:
        assert f"{c.label} {c.sop_instance_uid}: pass (override reject→accept)" in body
    # without the override nothing is marked
    accepted = {c.sop_instance_uid for c in result.instances if c.declared_outcome == "accept"}
    plain = check(manifest, observe([i for i in written if i.sop_instance_uid in accepted]))
    assert plain.passed
    text = write_html([plain], tmp_path / "p.html", dataset_root=folder).read_text("utf-8")
    assert "pass (override" not in text and "through the target" not in text
