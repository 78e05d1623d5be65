"""Every path the UI sends must lie inside one of the allowed folders (``--root``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dicomfab.errors import OutputError
from dicomfab.output.paths import component_problem, confined
from dicomfab.web.errors import bad_request


def resolve_inside(value: str, roots: Sequence[Path], field: str) -> Path:
    """``value`` resolved (symlinks followed, ``..`` collapsed), relative to ``roots[0]`` unless
    absolute; a 400 naming ``field`` when the result is outside every root."""
    if "\x00" in value:
        raise bad_request(field, "not a valid path")
    candidate = Path(value).expanduser()
    if not candidate.is_absolute():
        candidate = roots[0] / candidate
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, say
        raise bad_request(field, f"cannot resolve {value!r} ({exc})") from None
    for root in roots:
        if resolved.is_relative_to(root.resolve()):
            return resolved
    allowed = ", ".join(str(r) for r in roots)
    raise bad_request(field, f"{value!r} is outside the allowed folders ({allowed})")


def child_inside(parent: Path, name: str, field: str) -> Path:
    """``parent/name`` when ``name`` is one safe path component and the result, symlinks
    followed, stays inside ``parent``; else a 400 naming ``field``. For the folders the API
    creates from a name (a dataset's folder in the output folder). The same rules as the
    writer's (:mod:`dicomfab.output.paths`)."""
    problem = component_problem(name)
    if problem is not None:
        raise bad_request(field, f"{name!r} is not a plain folder name: it {problem}")
    try:
        confined(parent, name)
    except OutputError as exc:
        raise bad_request(field, str(exc)) from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, say
        raise bad_request(field, f"cannot resolve {name!r} ({exc})") from None
    return parent / name
