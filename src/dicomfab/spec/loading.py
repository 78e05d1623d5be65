"""Reading a spec from JSON or YAML, in dicomfab's format or the predecessor's power-customize
format (detected and converted, never rejected). Errors name the path of the bad field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dicomfab.errors import Issue, SpecError
from dicomfab.spec import legacy
from dicomfab.spec.models import Spec


def read_document(path: Path) -> Any:
    """Parse a JSON or YAML file into plain data; raise SpecError naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(Issue("", "no such file"), source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(Issue("", f"cannot read: {exc}"), source=str(path)) from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            issue = Issue(f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}")
            raise SpecError(issue, source=str(path)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(Issue(where, f"invalid YAML: {problem}"), source=str(path)) from None


def format_location(loc: tuple[int | str, ...]) -> str:
    """('patients', 0, 'studies', 1, 'date') → 'patients[0].studies[1].date'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _issues(exc: ValidationError) -> list[Issue]:
    issues = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p and p[0] != "("))
        path = format_location(loc)
        message = err["msg"]
        suggestion = None
        if err["type"] == "extra_forbidden":
            message = "unknown field"
            suggestion = _near_field(exc.title, loc)
        issues.append(Issue(path, message, suggestion))
    return issues


def _near_field(model_name: str, loc: tuple[int | str, ...]) -> str | None:
    import difflib

    from dicomfab.spec import models

    field = str(loc[-1])
    names: set[str] = set()
    for cls in (models.Spec, models.PatientSpec, models.StudySpec, models.SeriesSpec,
                models.InstanceSpec, models.PixelOptions, models.Settings):  # fmt: skip
        names.update(cls.model_fields)
    hits = difflib.get_close_matches(field, sorted(names), n=1)
    return hits[0] if hits else None


def parse_spec(data: Any, source: str | None = None) -> Spec:
    """Validate plain data as a spec (converting the old power-customize format)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(Issue("", "a spec is a mapping (JSON object / YAML mapping)"), source)
    if legacy.is_legacy(data):
        data = legacy.convert(data)
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_issues(exc), source=source) from None


def load_spec(path: str | Path) -> Spec:
    """Read a spec file (``.json``, ``.yaml`` or ``.yml``)."""
    path = Path(path)
    return parse_spec(read_document(path), source=str(path))
