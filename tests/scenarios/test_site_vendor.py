"""Site profiles and vendor personas in the scenario library: a site's unit appears only on the
IODs its persona builds, its patient details (sex, station, issuer) as the profile says — and
nothing but what it says — and a scenario that carries a vendor's private block says that
vendor's Manufacturer. Values are read from the profiles and personas, never written out here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
import yaml
from pydicom.dataset import Dataset

from dicomfab.builder import modules, vendors
from dicomfab.scenarios.generate import ScenarioRequest, generate_one
from dicomfab.scenarios.profiles import load_profiles

SMALL = {"image_size": "small"}


def _files(scenario: str, tmp_path: Path, **overrides: object) -> list[Dataset]:
    result = generate_one(ScenarioRequest(scenario, {**SMALL, **overrides}), tmp_path)
    return [
        pydicom.dcmread(result.path / e.file, force=True)
        for e in result.manifest.instances()
        if e.written and (result.path / e.file).exists()
    ]


def _creators(ds: Dataset) -> set[tuple[int, str]]:
    return {
        (elem.tag.group, str(elem.value))
        for elem in ds.iterall()
        if elem.tag.is_private and 0x10 <= elem.tag.element <= 0xFF
    }


def test_masc_ext_prior_has_the_profiles_sex_station_and_unit(tmp_path: Path) -> None:
    profile = load_profiles()["masc"]
    assert profile.vendor is not None and profile.station is not None
    persona = vendors.persona(profile.vendor)
    files = _files("masc_ext_prior", tmp_path)
    assert files
    for ds in files:
        assert ds.PatientSex == profile.patient.sex
        assert ds.StationName == profile.station  # the site's, over the persona's
        assert ds.IssuerOfPatientID == profile.patient.issuer
        assert ds.Manufacturer == persona.manufacturer
        assert ds.ManufacturerModelName == persona.model


def _site_file(tmp_path: Path) -> Path:
    """A user's site file: a site whose profile has no issuer (and no station)."""
    path = tmp_path / "sites.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "noissuer": {
                    "patient": {"name": "NOISSUER^SITE", "id": "NI-1", "sex": "F"},
                    "institution": "No Issuer Clinic",
                    "vendor": vendors.names()[0],
                }
            }
        )
    )
    return path


@pytest.mark.parametrize("scenario", ["masc_ext_prior", "external_prior", "aachen_double_ingest"])
def test_a_site_without_an_issuer_gives_no_issuer_of_patient_id(
    tmp_path: Path, scenario: str
) -> None:
    sites = _site_file(tmp_path)
    proc = subprocess.run(
        [
            sys.executable, "-m", "dicomfab", "generate", "-s", scenario, "-o", "out",
            "--sites", str(sites), "--set", "site=noissuer", "--set", "image_size=small",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    site_files = 0
    for path in sorted((tmp_path / "out").rglob("*.dcm")):
        ds = pydicom.dcmread(path, force=True)
        if ds.PatientID != "NI-1":
            # the local patient of a screening exam keeps dicomfab's own issuer
            assert ds.IssuerOfPatientID == "DICOMFAB"
            continue
        site_files += 1
        assert "IssuerOfPatientID" not in ds, path
        assert ds.StationName != ""
    assert site_files


def test_the_built_in_sites_name_personas() -> None:
    for name, profile in load_profiles().items():
        assert profile.vendor is not None and vendors.find(profile.vendor), name
        assert profile.manufacturer is None and profile.model is None, name


def test_a_site_file_with_an_unknown_vendor_names_the_nearest(tmp_path: Path) -> None:
    from dicomfab.errors import SpecError
    from dicomfab.scenarios.profiles import load_file

    name = vendors.names()[0]
    path = tmp_path / "sites.yaml"
    path.write_text(yaml.safe_dump({"mine": {"vendor": name[:-1]}}))
    with pytest.raises(SpecError) as info:
        load_file(path)
    assert info.value.issues[0].path.endswith("mine.vendor")
    assert info.value.issues[0].suggestion == name


@pytest.mark.parametrize(
    "scenario",
    [
        "mammasoft_ext_prior_real_mr",
        "mammasoft_ext_prior_real_pdf",
        "mammasoft_ext_prior_mixed_real_mr",
    ],
)
def test_a_sites_mr_or_pdf_prior_is_not_its_mammography_unit(tmp_path: Path, scenario: str) -> None:
    profile = load_profiles()["mammasoft"]
    assert profile.vendor is not None
    persona = vendors.persona(profile.vendor)
    covered = {"1.2.840.10008.5.1.4.1.1.1.2", "1.2.840.10008.5.1.4.1.1.1.2.1"}
    others = 0
    for ds in _files(scenario, tmp_path):
        if ds.SOPClassUID in covered:
            assert ds.Manufacturer == persona.manufacturer
            continue
        others += 1
        assert ds.Manufacturer == modules.MANUFACTURER
        assert ds.ManufacturerModelName != persona.model
        assert not _creators(ds) & set(persona.creators)
    assert others, "the scenario has an image of another IOD"


PRIVATE_SCENARIOS = [
    "pr_private_tag",
    "cu_private_tag",
    "private_phi",
    "private_vr_un",
    "private_creator_missing_or_moved",
    "vendor_fallback_sop_class",
    "view_only_in_viewposition_or_private",
    "hologic_dbt_in_secondary_capture",
]


def _family_of(creator: str) -> set[str]:
    """The Manufacturer values that may carry ``creator``: those of the personas that write it,
    else of the personas whose creators start with its first word (``HOLOGIC`` and
    ``HOLOGIC, Inc.``)."""
    personas = vendors.personas().values()
    exact = {p.manufacturer for p in personas if any(c == creator for _, c in p.creators)}
    if exact:
        return exact
    word = creator.split()[0].rstrip(",").upper()
    return {
        p.manufacturer
        for p in personas
        if any(c.split()[0].rstrip(",").upper() == word for _, c in p.creators)
    }


@pytest.mark.parametrize("scenario", PRIVATE_SCENARIOS)
def test_private_tag_scenarios_say_the_manufacturer_of_their_creator(
    tmp_path: Path, scenario: str
) -> None:
    checked = 0
    for ds in _files(scenario, tmp_path):
        for _, creator in _creators(ds):
            family = _family_of(creator)
            if family:
                checked += 1
                assert ds.Manufacturer in family, f"{scenario}: {creator} under {ds.Manufacturer}"
    assert checked, f"{scenario} carries no vendor private block"
