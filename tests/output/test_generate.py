"""The dataset on disk: layout, manifest, companion records, determinism, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydicom
import pytest

from dicomfab import OutputError, SpecError, generate, parse_spec
from dicomfab.output import generate as generate_module
from dicomfab.output.files import file_digests
from trees import file_hashes


def test_layout_manifest_and_records(make_dataset: Any, small_spec: dict[str, Any]) -> None:
    result = make_dataset(small_spec)
    root = result.path
    assert root.name == "small"
    manifest = json.loads((root / "manifest.json").read_text())
    studies = manifest["patients"][0]["studies"]
    assert [s["role"] for s in studies] == ["current", "prior"]
    for study in studies:
        uids = [i["sop_instance_uid"] for se in study["series"] for i in se["instances"]]
        assert len(uids) == 4
        for se in study["series"]:
            for inst in se["instances"]:
                path = root / inst["file"]
                assert (
                    path
                    == root
                    / "dicoms"
                    / study["study_instance_uid"]
                    / f"{inst['sop_instance_uid']}.dcm"
                )
                ds = pydicom.dcmread(path)
                assert ds.SOPInstanceUID == inst["sop_instance_uid"]
                assert ds.StudyInstanceUID == study["study_instance_uid"]
                digest = file_digests(path)
                assert (digest.size, digest.header_blake3, digest.pixel_blake3) == (
                    inst["size"],
                    inst["header_blake3"],
                    inst["pixel_blake3"],
                )
    current, prior = studies
    record = json.loads((root / current["record"]).read_text())
    assert record["study_instance_uid"] == current["study_instance_uid"]
    assert record["prior_study_data"]["study_instance_uid"] == prior["study_instance_uid"]
    assert record["prior_study_data"]["prior_study_data"] is None
    assert record["study_date"].endswith("T00:00:00+00:00")
    assert sorted(record["sop_instance_uids"]) == sorted(
        i["sop_instance_uid"] for se in current["series"] for i in se["instances"]
    )
    assert (
        prior["record"] is None
        and not (root / "jsons" / f"{prior['study_instance_uid']}.json").exists()
    )


def test_digests_are_blake3_of_the_header_and_of_the_pixel_data_element(
    make_dataset: Any, small_spec: dict[str, Any]
) -> None:
    from blake3 import blake3
    from pydicom.filebase import DicomBytesIO

    result = make_dataset(small_spec)
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["format"] == 2
    for inst in (
        i for s in manifest["patients"][0]["studies"] for se in s["series"] for i in se["instances"]
    ):
        data = (result.path / inst["file"]).read_bytes()
        with DicomBytesIO(data) as fp:
            pydicom.dcmread(fp, stop_before_pixels=True)
            split = fp.tell()
        assert data[split : split + 4] == b"\xe0\x7f\x10\x00"  # the Pixel Data element
        assert inst["header_blake3"] == blake3(data[:split]).hexdigest()
        assert inst["pixel_blake3"] == blake3(data[split:]).hexdigest()
        assert inst["size"] == len(data)


def test_prior_chain_is_ordered_newest_first(make_dataset: Any) -> None:
    spec = {
        "defaults": {"pixels": {"rows": 64, "columns": 48}},
        "patients": [
            {
                "studies": [
                    {"role": "prior", "date": "-3y"},
                    {"role": "current", "date": "2024-06-01"},
                    {"role": "prior", "date": "-1y"},
                    {"role": "external_prior", "date": "-2y"},
                    {"role": "prior", "date": "-2y"},
                ]
            }
        ],
    }
    root = make_dataset(spec).path
    (record_file,) = (root / "jsons").glob("*.json")
    record = json.loads(record_file.read_text())
    dates = []
    link = record["prior_study_data"]
    while link:
        dates.append(link["study_date"][:10])
        link = link["prior_study_data"]
    assert dates == ["2023-06-01", "2022-06-01", "2021-06-01"]
    assert [e["study_date"][:10] for e in record["external_priors"]] == ["2022-06-01"]


def test_same_spec_and_seed_give_byte_identical_datasets(
    tmp_path: Path, small_spec: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generate_module, "SMALL_JOB", 0)  # workers=2 starts its pool
    first = generate(parse_spec(small_spec), tmp_path / "a", workers=1)
    second = generate(parse_spec(small_spec), tmp_path / "b", workers=2)
    assert file_hashes(first.path) == file_hashes(second.path)
    other_seed = generate(parse_spec({**small_spec, "seed": 8}), tmp_path / "c")
    assert file_hashes(other_seed.path).keys() != file_hashes(first.path).keys()


def test_existing_output_is_kept_unless_overwrite(
    make_dataset: Any, small_spec: dict[str, Any]
) -> None:
    result = make_dataset(small_spec)
    marker = result.path / "keep.txt"
    marker.write_text("mine")
    with pytest.raises(OutputError, match="already exists"):
        make_dataset(small_spec)
    assert marker.exists()
    make_dataset(small_spec, overwrite=True)
    assert not marker.exists()
    assert [p.name for p in result.path.parent.iterdir()] == ["small"]


def test_invalid_spec_writes_nothing(tmp_path: Path) -> None:
    bad = {"name": "bad", "patients": [{"tags": {"PatientNmae": "x"}}]}
    with pytest.raises(SpecError):
        generate(parse_spec(bad), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_skipped_instance_is_listed_not_written(make_dataset: Any) -> None:
    spec = {
        "defaults": {"pixels": {"rows": 64, "columns": 48}},
        "patients": [{"studies": [{"series": [{"instances": [{}, {"skip_writing": True}]}]}]}],
    }
    result = make_dataset(spec)
    inst = result.manifest.instances()
    assert [i.written for i in inst] == [True, False]  # two instances given: count is 2
    assert [i.view for i in inst] == ["RCC", "LCC"]
    assert not (result.path / inst[1].file).exists()
    (record_file,) = (result.path / "jsons").glob("*.json")
    assert inst[1].sop_instance_uid in json.loads(record_file.read_text())["sop_instance_uids"]
