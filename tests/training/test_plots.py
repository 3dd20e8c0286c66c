"""Loss-curve axes: a loss that cannot be negative gets no axis below zero."""

from __future__ import annotations

import numpy as np

from installation.training.plots import axis_range, loss_curve_image


def test_a_non_negative_loss_axis_starts_at_zero_at_the_lowest() -> None:
    lo, hi = axis_range(np.array([0.01, 0.02, 0.5, 0.03, 0.0]))
    assert lo == 0.0 and hi > 0.5 * 0.99


def test_a_loss_that_went_negative_keeps_its_negative_axis() -> None:
    lo, hi = axis_range(np.array([-1.0, -0.5, 0.2, 0.4]))
    assert lo < -1.0 * 0.99 and hi > 0.4


def test_the_curve_image_draws_with_a_flat_loss() -> None:
    img = loss_curve_image({"mse": [0.0, 0.0, 0.0]}, [1, 2, 3], "flat")
    assert img.size == (900, 420)
