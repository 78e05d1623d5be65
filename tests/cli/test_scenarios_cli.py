"""Scenarios from the command line: list, describe, generate --scenario with parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydicom
import pytest

from dicomfab.scenarios import scenarios
from dicomfab.scenarios.compose import scenario_seed

Run = Any


def test_list_json_has_every_scenario_with_its_card(cli: Run) -> None:
    result = cli("list", "--json")
    assert result.returncode == 0
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == sorted(scenarios())
    for row in rows:
        assert row["category"] and row["description"] and row["expected"]


def test_list_filters_by_tag_and_search(cli: Run) -> None:
    rows = json.loads(cli("list", "--json", "--tag", "prior", "--search", "bits").stdout)
    assert "pr_bits_mismatch" in [r["name"] for r in rows]
    assert all("prior" in r["tags"] for r in rows)
    assert "cu_bits_mismatch" not in [r["name"] for r in rows]


def test_describe_shows_the_card(cli: Run) -> None:
    result = cli("describe", "pr_bits_mismatch")
    assert result.returncode == 0
    assert "Why it happens" in result.stdout and "prior.last" in result.stdout
    card = json.loads(cli("describe", "pr_bits_mismatch", "--json").stdout)
    assert card["defects"][0]["at"] == "prior.last"
    assert "patient.name" in card["parameters"]


def test_describe_says_which_studies_go_on_media(cli: Run) -> None:
    result = cli("describe", "media_junk_files")
    assert result.returncode == 0
    assert "On media: external_prior (media/DICOMDIR, with junk files" in result.stdout
    card = json.loads(cli("describe", "media_junk_files", "--json").stdout)
    assert card["media"] == {"studies": ["external_prior"], "junk": True}


def test_generate_scenarios_with_parameters(cli: Run, tmp_path: Path) -> None:
    result = cli(
        "generate", "-o", "out", "--scenario", "pr_bits_mismatch", "masc_ext_prior",
        "--set", "image_size=small", "--set", "patient.name=Doe^Jane", "--seed", "3", "-q",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for name in ("pr_bits_mismatch", "masc_ext_prior"):
        manifest = json.loads((tmp_path / "out" / name / "manifest.json").read_text())
        assert manifest["scenario"] == name and manifest["seed"] == scenario_seed(name, 3)
        first = manifest["patients"][0]["studies"][0]["series"][0]["instances"][0]
        ds = pydicom.dcmread(tmp_path / "out" / name / first["file"])
        assert str(ds.PatientName) == "Doe^Jane"
    manifest = json.loads((tmp_path / "out" / "pr_bits_mismatch" / "manifest.json").read_text())
    prior = manifest["patients"][0]["studies"][1]
    last = prior["series"][-1]["instances"][-1]
    assert (prior["expectation"], last["expectation"]) == ("link", "reject")
    assert last["defects"][0]["at"] == "prior.last"


def test_site_profile_values_and_user_profiles(cli: Run, tmp_path: Path) -> None:
    sites = tmp_path / "sites.yaml"
    sites.write_text("masc:\n  patient: {name: SITE^OWN, id: S-1, birth_date: '1950-01-02'}\n")
    result = cli("generate", "-o", "out", "-s", "masc_ext_prior", "--sites", sites,
                 "--set", "image_size=small", "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "masc_ext_prior" / "manifest.json").read_text())
    attrs = manifest["patients"][0]["studies"][0]["series"][0]["instances"][0]["attributes"]
    assert (attrs["PatientName"], attrs["PatientID"], attrs["PatientBirthDate"]) == (
        "SITE^OWN", "S-1", "19500102",
    )  # fmt: skip


def test_params_file(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("patient:\n  id: FROM-FILE\nimage_size: small\n")
    result = cli("generate", "-o", "out", "-s", "bits_consistent", "--params", "p.yaml", "-q")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "bits_consistent" / "manifest.json").read_text())
    assert manifest["patients"][0]["patient_id"] == "FROM-FILE"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "pr_bits_mismach"], "did you mean pr_bits_mismatch"),
        (["-s", "bits_consistent", "--set", "patient.nmae=x"], "did you mean patient.name"),
        (["-s", "bits_consistent", "--set", "novalue"], "write NAME=VALUE"),
        (["-s", "masc_ext_prior", "--set", "site=masx"], "did you mean masc"),
        (["-s", "bits_consistent", "-c", "x.yaml"], "not both"),
    ],
)
def test_bad_scenario_input(cli: Run, tmp_path: Path, args: list[str], message: str) -> None:
    result = cli("generate", "-o", "out", *args)
    assert result.returncode == 2
    assert message in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_bad_site_profile_names_file_line_and_field(cli: Run, tmp_path: Path) -> None:
    sites = tmp_path / "sites.yaml"
    sites.write_text("mine:\n  description: x\n  patient:\n    nmae: A^B\n")
    result = cli("generate", "-o", "out", "-s", "masc_ext_prior", "--sites", sites)
    assert result.returncode == 2
    assert "sites.yaml" in result.stderr
    assert "line 4" in result.stderr and "mine.patient.nmae" in result.stderr
    assert "did you mean name" in result.stderr


def test_dual_output_writes_two_datasets(cli: Run, tmp_path: Path) -> None:
    result = cli("generate", "-o", "out", "-s", "dual_output", "--set", "image_size=small", "-q")
    assert result.returncode == 0, result.stderr
    root = tmp_path / "out" / "dual_output"
    roles = {}
    for part in ("external_priors_only", "current_study_only"):
        manifest = json.loads((root / part / "manifest.json").read_text())
        roles[part] = sorted(s["role"] for p in manifest["patients"] for s in p["studies"])
        for study in (s for p in manifest["patients"] for s in p["studies"]):
            for inst in (i for se in study["series"] for i in se["instances"]):
                assert (root / part / inst["file"]).is_file()
    assert roles == {
        "external_priors_only": ["external_prior"],
        "current_study_only": ["current", "prior"],
    }
    top = json.loads((root / "manifest.json").read_text())
    files = [
        i["file"]
        for p in top["patients"]
        for s in p["studies"]
        for se in s["series"]
        for i in se["instances"]
    ]
    assert all((root / f).is_file() for f in files) and len(files) == 12
    (record,) = (root / "current_study_only" / "jsons").glob("*.json")
    assert len(json.loads(record.read_text())["external_priors"]) == 1


def test_bad_parameter_value_names_the_parameter(cli: Run, tmp_path: Path) -> None:
    result = cli("generate", "-o", "out", "-s", "bits_consistent", "--set", "image_size=huge")
    assert result.returncode == 2
    assert "--set image_size=huge" in result.stderr and "pixels.size" in result.stderr
    assert not (tmp_path / "out").exists()
