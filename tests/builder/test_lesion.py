"""Lesions in the synthetic mammogram: a spiculated mass (the legacy ``cancerous``) and the
calcification cluster, chosen by ``pixels.lesion``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dicomfab.builder import pixels
from dicomfab.builder.pixels import mammo
from dicomfab.builder.plan import make_plan
from dicomfab.studyspec.loading import parse_spec


@pytest.mark.parametrize(("laterality", "oblique"), [("L", False), ("R", True)])
def test_a_mass_is_a_dense_compact_region_of_the_same_anatomy(
    laterality: str, oblique: bool
) -> None:
    plain = mammo.synthesize(11, 832, 640, 12, np.uint16, laterality=laterality, oblique=oblique)
    mass = mammo.synthesize(
        11, 832, 640, 12, np.uint16, laterality=laterality, oblique=oblique, mass=True
    )
    changed = plain != mass
    assert changed.sum() > 500
    rows, cols = np.nonzero(changed)
    assert np.ptp(rows) < 832 * 0.035 * 3.8 * 2 + 2 and np.ptp(cols) < 832 * 0.035 * 3.8 * 2 + 2
    # inside the breast only, and brighter there: the lesion region's mean rises
    assert (plain[changed] > 0).all()
    assert mass[changed].mean() > plain[changed].mean() + 0.05 * 4095
    core = (mass.astype(np.int64) - plain) > 0.25 * (4095 - plain.astype(np.int64))
    assert core.sum() > 100  # a dense core, not only faint spicules


def test_a_mass_is_deterministic_and_leaves_the_rest_alone() -> None:
    first = mammo.synthesize(5, 400, 320, 12, np.uint16, mass=True, calcifications=True)
    again = mammo.synthesize(5, 400, 320, 12, np.uint16, mass=True, calcifications=True)
    np.testing.assert_array_equal(first, again)
    calcs = mammo.synthesize(5, 400, 320, 12, np.uint16, calcifications=True)
    other = mammo.synthesize(6, 400, 320, 12, np.uint16, mass=True, calcifications=True)
    assert not np.array_equal(first, other)
    # the calcifications are where they were without the mass (the mass has its own generator)
    specks = calcs != mammo.synthesize(5, 400, 320, 12, np.uint16)
    untouched = specks & (first == calcs)
    assert untouched.sum() > 0


def _image(pixels_spec: dict[str, Any], study_pixels: dict[str, Any] | None = None) -> np.ndarray:
    study: dict[str, Any] = {"series": [{"views": ["LCC"], "pixels": pixels_spec}]}
    if study_pixels is not None:
        study["pixels"] = study_pixels
    spec = {
        "seed": 3,
        "defaults": {"pixels": {"size": "small"}},
        "patients": [{"studies": [study]}],
    }
    (instance,) = make_plan(parse_spec(spec)).instances
    image = pixels.render(instance)
    assert image is not None
    return np.asarray(image.array)


def test_lesion_option_draws_the_mass_or_the_calcifications() -> None:
    plain = _image({})
    mass = _image({"lesion": "mass"})
    assert not np.array_equal(plain, mass)
    changed = plain != mass
    assert mass[changed].mean() > plain[changed].mean()
    np.testing.assert_array_equal(
        _image({"lesion": "calcifications"}), _image({"calcifications": True})
    )
    np.testing.assert_array_equal(_image({"lesion": "none"}, {"calcifications": True}), plain)
    np.testing.assert_array_equal(_image({}, {"lesion": "mass"}), mass)
