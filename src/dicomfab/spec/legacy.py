"""The predecessor's power-customize config (current_study / internal_priors / external_priors with
flat per-image tag dicts) → a dicomfab spec. See docs/legacy-config.md."""

from __future__ import annotations

from typing import Any

LEGACY_KEYS = {"current_study", "internal_priors", "external_priors", "outputDir"}


def is_legacy(data: dict[str, Any]) -> bool:
    return bool(LEGACY_KEYS & set(data)) and "patients" not in data


def convert(data: dict[str, Any]) -> dict[str, Any]:
    raise NotImplementedError
