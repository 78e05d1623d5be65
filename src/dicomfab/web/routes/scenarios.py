"""The scenario library: the list, a card, a scenario's composed spec, the site profiles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import ConfigDict

from dicomfab.errors import SpecError
from dicomfab.scenarios import Scenario, compose, get, load_profiles, scenarios
from dicomfab.scenarios.compose import declared_parameters
from dicomfab.scenarios.params import parse_assignment
from dicomfab.scenarios.selection import scenario_row
from dicomfab.web.errors import not_found
from dicomfab.web.routes.common import Answer, Context


class ScenarioRow(Answer):
    """A scenario as ``dicomfab list --json`` shows it, with its ``why``."""

    name: str
    category: str
    title: str
    description: str
    tags: list[str]
    aliases: list[str]
    defects: list[str]
    expected: list[str]
    network: str | None
    why: str


class ScenarioCard(Scenario):
    """A scenario as ``dicomfab describe NAME --json`` shows it, with every parameter it takes:
    the universal ones, its base's and its own."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class ScenarioSpec(Answer):
    spec: dict[str, Any]


class SiteRow(Answer):
    name: str
    description: str
    patient_name: str | None
    birth_date: str | None
    patient_id: str | None
    issuer: str | None
    sex: str | None
    institution: str | None
    vendor: str | None
    manufacturer: str | None
    model: str | None
    station: str | None


def scenario_or_404(name: str) -> Scenario:
    try:
        return get(name)
    except SpecError as exc:
        raise not_found(str(exc), exc.issues) from None


def make_router(ctx: Context) -> APIRouter:
    router = APIRouter()

    @router.get("/scenarios", response_model=list[ScenarioRow])
    def list_scenarios() -> list[dict[str, Any]]:
        return [{**scenario_row(s), "why": " ".join(s.why.split())} for s in scenarios().values()]

    @router.get("/scenarios/{name}", response_model=ScenarioCard)
    def describe(name: str) -> ScenarioCard:
        scenario = scenario_or_404(name)
        parameters = declared_parameters(scenario)
        return ScenarioCard.model_validate({**scenario.model_dump(), "parameters": parameters})

    @router.get("/scenarios/{name}/spec", response_model=ScenarioSpec)
    def scenario_spec(
        name: str, assignments: Annotated[list[str] | None, Query(alias="set")] = None
    ) -> ScenarioSpec:
        scenario = scenario_or_404(name)
        overrides = dict(parse_assignment(a) for a in assignments or [])
        composed = compose(scenario, overrides, load_profiles())
        return ScenarioSpec(spec=composed.spec.model_dump(mode="json", exclude_unset=True))

    @router.get("/sites", response_model=list[SiteRow])
    def sites() -> list[SiteRow]:
        return [
            SiteRow(
                name=name,
                description=profile.description,
                patient_name=profile.patient.name,
                birth_date=profile.patient.birth_date,
                patient_id=profile.patient.id,
                issuer=profile.patient.issuer,
                sex=profile.patient.sex,
                institution=profile.institution,
                vendor=profile.vendor,
                manufacturer=profile.manufacturer,
                model=profile.model,
                station=profile.station,
            )
            for name, profile in load_profiles().items()
        ]

    return router
