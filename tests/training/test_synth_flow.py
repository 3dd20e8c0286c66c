"""The procedural fluid dataset: reproducible, varied, every family drawn."""

from __future__ import annotations

import numpy as np
import pytest

from installation.training import synth
from installation.training.synth_flow import FAMILIES, render_fluid


def test_each_image_is_a_pure_function_of_seed_and_index():
    a, b = render_fluid(3, 5, 64), render_fluid(3, 5, 64)
    assert a.dtype == np.uint8 and a.shape == (64, 64, 3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, render_fluid(3, 6, 64))
    assert not np.array_equal(a, render_fluid(4, 5, 64))


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_has_structure_and_colour(family):
    images = np.stack([render_fluid(0, i, 64, family) for i in range(6)]).astype(np.float32)
    assert images.std(axis=(1, 2)).mean() > 8  # not flat fields
    assert np.abs(images[..., 0] - images[..., 2]).mean() > 3  # not grey
    assert np.abs(images[0] - images[1]).mean() > 10  # images differ from each other


def test_fluid_is_a_registered_synthetic_kind_and_mixes_the_families():
    assert {"fluid", "marble", "ink", "nebula"} <= set(synth.KINDS)
    img = synth.render("fluid", 0, 0, 32)
    assert img.shape == (32, 32, 3)
