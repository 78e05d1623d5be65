"""dicomfab: synthetic DICOM studies, broken on purpose when asked, and ingestion tests.

>>> from dicomfab import load_spec, generate
>>> result = generate(load_spec("study.yaml"), Path("out"))

The names below are imported when first used (PEP 562): ``import dicomfab`` (and so its pytest
plugin, which pytest loads in every session where dicomfab is installed) costs next to nothing;
``from dicomfab import generate`` works as before.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from dicomfab._version import __version__

if _typing.TYPE_CHECKING:
    from dicomfab.builder.plan import make_plan
    from dicomfab.builder.plan_model import Plan
    from dicomfab.errors import (
        BuildError,
        DicomfabError,
        Issue,
        OutputError,
        SpecError,
        TargetError,
        TransferSyntaxError,
    )
    from dicomfab.output.generate import GenerateResult, generate
    from dicomfab.output.manifest import Manifest
    from dicomfab.studyspec.loading import load_spec, parse_spec
    from dicomfab.studyspec.models import Spec

_HOMES = {
    "Plan": "dicomfab.builder.plan_model",
    "make_plan": "dicomfab.builder.plan",
    "BuildError": "dicomfab.errors",
    "DicomfabError": "dicomfab.errors",
    "Issue": "dicomfab.errors",
    "OutputError": "dicomfab.errors",
    "SpecError": "dicomfab.errors",
    "TargetError": "dicomfab.errors",
    "TransferSyntaxError": "dicomfab.errors",
    "GenerateResult": "dicomfab.output.generate",
    "generate": "dicomfab.output.generate",
    "Manifest": "dicomfab.output.manifest",
    "load_spec": "dicomfab.studyspec.loading",
    "parse_spec": "dicomfab.studyspec.loading",
    "Spec": "dicomfab.studyspec.models",
}


def __getattr__(name: str) -> _typing.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'dicomfab' has no attribute {name!r}")
    value = getattr(_importlib.import_module(home), name)
    globals()[name] = value  # once: later lookups are plain module attributes
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


__all__ = [
    "BuildError",
    "DicomfabError",
    "GenerateResult",
    "Issue",
    "Manifest",
    "OutputError",
    "Plan",
    "Spec",
    "SpecError",
    "TargetError",
    "TransferSyntaxError",
    "__version__",
    "generate",
    "load_spec",
    "make_plan",
    "parse_spec",
]
