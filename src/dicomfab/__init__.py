"""dicomfab: synthetic DICOM studies, broken on purpose when asked, and ingestion tests.

>>> from dicomfab import load_spec, generate
>>> result = generate(load_spec("study.yaml"), Path("out"))
"""

from __future__ import annotations

from dicomfab._version import __version__
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
