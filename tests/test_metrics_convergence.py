"""The flattening test on curves with a known answer."""

import numpy as np
import pytest

from saelib.metrics.convergence import final_relative_change, has_flattened


def test_relative_change_of_a_known_curve():
    values = np.array([9.0, 9, 7, 7, 6, 6, 4, 4, 3, 3])  # last 20%: 3; the 20% before: 4
    assert final_relative_change(values, 0.2) == pytest.approx((4 - 3) / 3)
    assert final_relative_change(values[::-1], 0.2) == pytest.approx((7 - 9) / 9)  # a rising curve is negative


def test_a_decaying_curve_flattens_and_a_power_law_does_not():
    steps = np.arange(1, 201)
    assert has_flattened(1 + 5 * np.exp(-steps / 10), tolerance=0.01)
    assert not has_flattened(steps ** -0.5, tolerance=0.05)
    noisy = 2 + np.random.default_rng(0).normal(0, 0.05, 200)
    assert has_flattened(noisy, tolerance=0.02)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="too few"):
        final_relative_change([1.0, 2.0], 0.2)
    with pytest.raises(ValueError, match="fraction"):
        final_relative_change(np.ones(10), 0.8)
    with pytest.raises(ValueError, match="undefined"):
        final_relative_change(np.r_[np.ones(8), 0, 0], 0.2)
