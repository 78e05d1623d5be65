"""YAML for dicomfab's own packaged files (the scenario library, vendor personas): PyYAML's
safe loader, with libyaml's C implementation when PyYAML was built with it (the same data, an
order of magnitude faster: the pure-Python scanner dominated a small ``generate``). User files
go through :mod:`dicomfab.studyspec.documents` instead, which bounds size and nesting."""

from __future__ import annotations

from typing import Any

import yaml

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """``yaml.safe_load(text)``; raises :class:`yaml.YAMLError` as it does."""
    return yaml.load(text, Loader=_Loader)  # a safe loader, C or Python
