"""Site profiles: the patient details and equipment an external site writes into its priors.

A site's unit is a vendor persona (``vendor``, see ``dicomfab.builder.vendors``): scenarios pass it
on as the spec's ``vendor``, so that only the IODs the persona builds carry that vendor.
``manufacturer`` / ``model`` / ``station`` stay for a user's own unit that no persona models: they
are written as tags on every image of the site. A profile without ``patient.issuer`` gives its
patient no IssuerOfPatientID at all (the site-based scenarios remove dicomfab's own).

Built-in profiles live in ``sites.yaml`` beside this module; users add or change profiles in their
own YAML file (``--sites FILE``, or ``$DICOMFAB_SITES``) without touching code. A wrong field is
reported with its file, line and the nearest valid field name.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dicomfab._yaml import safe_load
from dicomfab.builder import vendors
from dicomfab.errors import Issue, SpecError, format_location, shorten
from dicomfab.studyspec.documents import compose_yaml, parse_document, read_bytes

BUILTIN = Path(__file__).with_name("sites.yaml")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SitePatient(_Model):
    name: str | None = Field(None, description="PatientName as the site writes it")
    birth_date: str | None = None
    id: str | None = Field(None, description="PatientID at that site")
    issuer: str | None = Field(None, description="IssuerOfPatientID")
    sex: str | None = None


class SiteProfile(_Model):
    description: str = ""
    patient: SitePatient = Field(default_factory=SitePatient)
    institution: str | None = None
    vendor: str | None = Field(
        None,
        description="vendor persona of the site's unit (`dicomfab list vendors`): its equipment, "
        "detector and private blocks on the IODs it builds, no trace of it on the others",
    )
    manufacturer: str | None = Field(
        None, description="Manufacturer on every image: an override for a unit no persona models"
    )
    model: str | None = Field(None, description="ManufacturerModelName, the same override")
    station: str | None = Field(None, description="StationName on every image")

    def flat(self) -> dict[str, Any]:
        values: dict[str, Any] = {f"patient.{k}": v for k, v in self.patient.model_dump().items()}
        values.update(
            {k: v for k, v in self.model_dump().items() if k not in ("patient", "description")}
        )
        return values


def _line_of(node: yaml.Node, loc: tuple[int | str, ...]) -> int | None:
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if getattr(k, "value", None) == part]
            keys = [k for k, v in node.value if getattr(k, "value", None) == part]
            if not match:
                return node.start_mark.line + 1
            if part == loc[-1]:
                return keys[0].start_mark.line + 1
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part]
        else:
            break
    return node.start_mark.line + 1


def load_file(path: Path, *, packaged: bool = False) -> dict[str, SiteProfile]:
    """Read one site-profile file (through the bounded loader: size, nesting, aliases; our own
    ``packaged`` file through libyaml, many times faster)."""
    raw = read_bytes(path)
    if packaged:
        data = safe_load(raw.decode("utf-8")) or {}
    else:
        data = parse_document(raw, fmt="yaml", source=str(path)) or {}

    @cache
    def root() -> yaml.Node | None:
        """The node tree, for line numbers: composed only when there is a problem to place
        (the text already parsed within the bounds above)."""
        return compose_yaml(raw.decode("utf-8"), source=str(path))

    if not isinstance(data, dict):
        raise SpecError(
            Issue("", "site profiles are a mapping: NAME: {patient: {...}, ...}"), str(path)
        )
    profiles: dict[str, SiteProfile] = {}
    issues: list[Issue] = []
    for name, body in data.items():
        try:
            profiles[str(name)] = SiteProfile.model_validate(body or {})
        except ValidationError as exc:
            for err in exc.errors():
                loc = (name, *err["loc"])
                line = _line_of(tree, loc) if (tree := root()) is not None else None
                suggestion = None
                if err["type"] == "extra_forbidden":
                    import difflib

                    fields = [*SiteProfile.model_fields, *SitePatient.model_fields]
                    near = difflib.get_close_matches(str(loc[-1]), fields, n=1)
                    suggestion = near[0] if near else None
                where = f"line {line}: {format_location(loc)}" if line else format_location(loc)
                message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
                issues.append(Issue(where, message, suggestion))
    for name, profile in profiles.items():
        if profile.vendor is not None and vendors.find(profile.vendor) is None:
            line = _line_of(tree, (name, "vendor")) if (tree := root()) is not None else None
            where = f"line {line}: {name}.vendor" if line else f"{name}.vendor"
            known = ", ".join(vendors.names())
            message = f"unknown vendor persona {shorten(profile.vendor)} (known: {known})"
            issues.append(Issue(where, message, vendors.suggest(profile.vendor)))
    if issues:
        raise SpecError(issues, str(path))
    return profiles


@cache
def _builtin() -> dict[str, SiteProfile]:
    """The packaged profiles, read once per process (the file never changes under us)."""
    return load_file(BUILTIN, packaged=True)


def load_profiles(extra: Path | None = None) -> dict[str, SiteProfile]:
    """Built-in profiles, then ``$DICOMFAB_SITES``, then ``extra`` (later files win by name)."""
    profiles = dict(_builtin())
    env = os.environ.get("DICOMFAB_SITES")
    for path in (Path(env) if env else None, extra):
        if path is not None:
            profiles.update(load_file(path))
    return profiles
