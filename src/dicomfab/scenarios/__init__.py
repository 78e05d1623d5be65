"""Scenarios: named, documented datasets — clean screening exams and deliberately broken ones.

>>> from dicomfab.scenarios import get, generate_scenarios
>>> generate_scenarios(["pr_bits_mismatch"], Path("out"), {"patient.name": "Doe^Jane"})
"""

from __future__ import annotations

from dicomfab.scenarios.compose import Composed, compose
from dicomfab.scenarios.generate import ScenarioRequest, generate_scenarios
from dicomfab.scenarios.library import get, scenarios
from dicomfab.scenarios.model import Defect, Expectation, Scenario
from dicomfab.scenarios.profiles import SiteProfile, load_profiles

__all__ = [
    "Composed",
    "Defect",
    "Expectation",
    "Scenario",
    "ScenarioRequest",
    "SiteProfile",
    "compose",
    "generate_scenarios",
    "get",
    "load_profiles",
    "scenarios",
]
