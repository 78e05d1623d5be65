"""pydicom's writing validation, switched per instance: strict (raise) on the normal build path,
off inside the explicit permissive mode that broken-on-purpose instances use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydicom import config as pydicom_config


@contextmanager
def writing_mode(*, permissive: bool) -> Iterator[None]:
    """Within the block, pydicom raises on invalid values (or, if ``permissive``, ignores them)."""
    settings = pydicom_config.settings
    previous = settings.writing_validation_mode, settings.reading_validation_mode
    settings.writing_validation_mode = pydicom_config.IGNORE if permissive else pydicom_config.RAISE
    if permissive:  # DataElement() checks a new value with the *reading* mode (WARN by default)
        settings.reading_validation_mode = pydicom_config.IGNORE
    try:
        yield
    finally:
        settings.writing_validation_mode, settings.reading_validation_mode = previous
