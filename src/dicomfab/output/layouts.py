"""The names of the output layouts, apart from :mod:`dicomfab.output.media` (which needs
pydicom), so that ``dicomfab generate --help`` can offer them without loading it."""

from __future__ import annotations

from typing import Literal

Layout = Literal["folders", "media"]
LAYOUTS: tuple[Layout, ...] = ("folders", "media")
