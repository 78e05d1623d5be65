"""The spec's JSON Schema, with the names the registries know (IODs, transfer syntaxes, vendor
personas, views)."""

from __future__ import annotations

from typing import Any

from dicomfab.builder import transfer, vendors
from dicomfab.builder.iods import registry
from dicomfab.builder.iods.reference import iod_field_description
from dicomfab.studyspec.models import Spec
from dicomfab.studyspec.views import VIEWS


def spec_schema() -> dict[str, Any]:
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "dicomfab spec"
    defs = schema.get("$defs", {})
    settings = defs.get("Settings", {}).get("properties", {})
    for model in defs.values():
        props = model.get("properties", {})
        if "iod" in props:
            props["iod"]["examples"] = registry.names()
            props["iod"]["description"] = iod_field_description()
        if "vendor" in props:  # the spec's levels (the persona file's own vendor is not here)
            props["vendor"]["anyOf"] = [
                {"type": "string", "enum": vendors.names()},
                {"type": "null"},
            ]
        if "transfer_syntax" in props:
            props["transfer_syntax"]["examples"] = transfer.names()
        if "view" in props:
            props["view"]["examples"] = list(VIEWS)
    _ = settings
    schema["x-iods"] = iod_catalogue()
    schema["x-transfer-syntaxes"] = transfer_catalogue()
    return schema


def transfer_catalogue() -> dict[str, dict[str, Any]]:
    """What a form shows of each transfer syntax (the wizard's select): its title, UID, aliases
    and whether it is lossy."""
    return {
        ts.name: {"title": ts.title, "uid": ts.uid, "aliases": list(ts.aliases), "lossy": ts.lossy}
        for ts in transfer.REGISTRY
    }


def iod_catalogue() -> dict[str, dict[str, Any]]:
    """What a form needs of each IOD (the wizard): the names a spec may give it (name, aliases,
    SOP Class UID), whether it is a derived object (then it takes ``references``) and the
    ``content`` fields it reads."""
    return {
        t.name: {
            "title": t.title,
            "names": [t.name, *t.aliases, t.sop_class_uid],
            "derived": t.derived,
            "content_fields": sorted(t.content_fields),
        }
        for t in registry.templates()
    }
