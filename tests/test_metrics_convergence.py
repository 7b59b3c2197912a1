"""The end-of-training change on curves with a known answer."""

import numpy as np
import pandas as pd
import pytest

from saelib.metrics.convergence import end_change, end_changes, worst_change


def test_end_change_recovers_a_known_exponential_decay():
    steps = np.arange(10, 1001, 10)
    rate = -0.05  # 5% per 10% of training
    history = pd.DataFrame({"step": steps, "l0": 20 * (1 + rate) ** (10 * steps / 1000)})
    assert end_change(history, "l0", 0.2) == pytest.approx(rate, rel=1e-9)
    flat = history.assign(l0=7.0)
    assert end_change(flat, "l0", 0.2) == pytest.approx(0.0, abs=1e-12)


def test_a_decaying_curve_ends_flat_and_a_power_law_does_not():
    steps = np.arange(10, 2001, 10)
    decayed = pd.DataFrame({"step": steps, "mse": 1 + 5 * np.exp(-steps / 100)})
    power_law = pd.DataFrame({"step": steps, "mse": steps ** -0.5})
    assert abs(end_change(decayed, "mse", 0.2)) < 1e-3
    assert end_change(power_law, "mse", 0.2) < -0.01


def test_too_few_points_raise():
    history = pd.DataFrame({"step": [10, 20], "l0": [2.0, 1.0]})
    with pytest.raises(ValueError, match="at least 3"):
        end_change(history, "l0", 0.2)


def test_end_changes_judges_many_runs_at_once_as_end_change_judges_each():
    steps = np.arange(10, 1001, 10)
    curves = np.stack([20 * (1 - 0.05) ** (10 * steps / 1000), np.full(len(steps), 3.0)], axis=1)  # [points, runs]
    changes = end_changes(steps, curves, 0.2)
    assert changes.shape == (2,) and changes == pytest.approx([-0.05, 0.0], abs=1e-9)
    assert end_changes(steps, curves[:, 0], 0.2) == pytest.approx(-0.05)


def test_worst_change_is_the_largest_in_size_with_its_name():
    assert worst_change({"a": -0.02, "b": 0.015, "c": 0.0}) == (pytest.approx(0.02), "a")
    with pytest.raises(ValueError, match="no curves"):
        worst_change({})
