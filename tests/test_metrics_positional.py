import numpy as np
import pandas as pd
import pytest

from saelib.metrics.positional import position_profile


def test_a_purely_positional_latent_has_eta_squared_one():
    positions = np.tile(np.arange(4), 5)
    by_position, eta = position_profile(positions * 2.0, positions)
    pd.testing.assert_series_equal(by_position, pd.Series([0.0, 2.0, 4.0, 6.0]), check_names=False)
    assert eta == pytest.approx(1.0)


def test_eta_squared_matches_the_between_over_total_variance():
    rng = np.random.default_rng(0)
    positions = np.tile(np.arange(8), 50)
    acts = rng.normal(size=positions.size) + 0.5 * positions
    means = np.array([acts[positions == p].mean() for p in range(8)])
    between = sum((positions == p).sum() * (means[p] - acts.mean()) ** 2 for p in range(8))
    _, eta = position_profile(acts, positions)
    assert eta == pytest.approx(between / ((acts - acts.mean()) ** 2).sum())
    assert position_profile(np.ones(16), positions[:16])[1] == 0.0  # a constant latent: nothing to explain
