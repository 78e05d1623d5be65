"""Reading a spec from JSON or YAML, in dicomfab's format or the predecessor's power-customize
format (detected and converted, never rejected). Errors name the path of the bad field."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from dicomfab.errors import Issue, SpecError, format_location, shorten
from dicomfab.studyspec import documents, legacy
from dicomfab.studyspec.models import Spec


def read_document(path: Path, *, fmt: documents.Format | None = None) -> Any:
    """Parse a JSON or YAML file into plain data within the loader's bounds (size, depth,
    aliases); raise SpecError naming the file and line. See :mod:`dicomfab.studyspec.documents`."""
    return documents.read_document(path, fmt=fmt)


#: fields whose type is a union of date and text: pydantic reports each member separately
_DATE_FIELDS = {"date", "birth_date"}
_UNION_MEMBERS = {"date", "str"}


_PYDANTIC_TAG = re.compile(r"^[a-z][a-z_-]*\[.*\]$")


def _issues(exc: ValidationError) -> list[Issue]:
    issues: dict[str, Issue] = {}
    for err in exc.errors():
        # drop pydantic's union-member tags (``function-after[...]``, ``list[str]``), never the
        # user's own key of an unknown field (which may hold "[" too)
        *inner, last = err["loc"] or ("",)
        if err["type"] != "extra_forbidden":
            inner.append(last)
        loc = tuple(p for p in inner if not (isinstance(p, str) and _PYDANTIC_TAG.match(p)))
        if err["type"] == "extra_forbidden":
            loc = (*loc, last)
        if len(loc) > 1 and loc[-1] in _UNION_MEMBERS and loc[-2] in _DATE_FIELDS:
            loc = loc[:-1]
        path = format_location(loc)
        message = str(err["msg"]).removeprefix("Value error, ")
        suggestion = None
        if err["type"] == "extra_forbidden":
            message = "unknown field"
            suggestion = _near_field(loc)
        elif loc and loc[-1] in _DATE_FIELDS:
            message = "not a date: use YYYY-MM-DD, YYYYMMDD or relative like -2y, -18m"
        if err["type"] not in ("extra_forbidden", "value_error", "missing"):
            message += f" (got {_short(err.get('input'))})"
        issues.setdefault(path, Issue(path, message, suggestion))
    return list(issues.values())


def _short(value: Any) -> str:
    return shorten(value, 60)


def _near_field(loc: tuple[int | str, ...]) -> str | None:
    """The nearest field name of the model at ``loc`` (all models' fields if it is not found)."""
    import difflib

    if not loc:
        return None
    field = str(loc[-1])
    names = _fields_at(loc[:-1])
    if not loc[:-1]:
        names = names | legacy.LEGACY_KEYS
    hits = difflib.get_close_matches(field, sorted(names), n=1)
    return hits[0] if hits else None


def _fields_at(loc: tuple[int | str, ...]) -> set[str]:
    from dicomfab.studyspec import models

    cls: type[BaseModel] | None = models.Spec
    for part in loc:
        if isinstance(part, int) or cls is None:
            continue
        info = cls.model_fields.get(part)
        cls = _model_in(info.annotation) if info is not None else None
    if cls is not None:
        return set(cls.model_fields)
    names: set[str] = set()
    for model in (
        models.Spec,
        models.PatientSpec,
        models.StudySpec,
        models.SeriesSpec,
        models.InstanceSpec,
        models.PixelOptions,
        models.Settings,
    ):
        names.update(model.model_fields)
    return names


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``list[StudySpec]`` or ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def parse_spec(data: Any, source: str | None = None, warn: legacy.Warn | None = None) -> Spec:
    """Validate plain data as a spec (converting the old power-customize format).

    ``warn`` receives one line per lossy step of an old-format conversion."""
    if data is None:  # an empty document (or only `~`): almost always a mistake
        raise SpecError(Issue("", EMPTY), source)
    if not isinstance(data, dict):
        raise SpecError(Issue("", "a spec is a mapping (JSON object / YAML mapping)"), source)
    if legacy.is_legacy(data):
        try:
            data = legacy.convert(data, warn=warn)
        except SpecError as exc:
            raise SpecError(exc.issues, source=source) from None
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_issues(exc), source=source) from None


#: what an empty spec file is told (``{}`` is how to ask for the default study)
EMPTY = "is empty: write {} to ask for the default study"


def load_spec(path: str | Path, warn: legacy.Warn | None = None) -> Spec:
    """Read a spec file (``.json``, ``.yaml`` or ``.yml``)."""
    path = Path(path)
    fmt = documents.format_of(path)
    raw = documents.read_bytes(path, fmt=fmt)
    data = None if not raw.strip() else documents.parse_document(raw, fmt=fmt, source=str(path))
    return parse_spec(data, source=str(path), warn=warn)
