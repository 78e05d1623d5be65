"""Optional dependencies (pyproject's extras): a missing one is a one-line error naming the
extra to install, never an ImportError traceback.

    require("ui", "dicomfab ui", "fastapi", "uvicorn")   # raises MissingExtra if one is absent
"""

from __future__ import annotations

import importlib

from dicomfab.errors import MissingExtra


def require(extra: str, needed_by: str, *modules: str) -> None:
    """Import ``modules``; if one cannot be, raise :class:`~dicomfab.errors.MissingExtra` saying
    ``needed_by`` needs ``dicomfab[extra]``."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingExtra(extra, needed_by) from None
