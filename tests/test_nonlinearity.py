import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch.nn.functional import gelu  # noqa: E402

from saelib.figures.nonlinearity import plot_response_curves, plot_sign_balance, plot_sqrt_n_law, plot_tradeoff  # noqa: E402
from saelib.nonlinearity import (
    aligned_feature,
    first_crossing,
    largest_count_satisfying,
    log_int_grid,
    max_active_features,
    max_orthogonal_features,
    mmcs_by_count,
    nonhomogeneity_grid,
    nonhomogeneity_score,
    random_features,
    rank_correlation,
    response_curve,
    response_score,
    scores_by_scale,
    sign_balance_ordered,
    spread_feature,
    sqrt_n_rescaling,
)
from saelib.params import ParameterError  # noqa: E402

X = torch.linspace(-5, 5, 1001, dtype=torch.float64)
SQRT_N_TOLERANCE = 1e-9  # the even-spread identity f.GELU(√n x f) = √n GELU(x) is exact up to rounding


def test_aligned_response_is_gelu():
    f = aligned_feature(100)
    torch.testing.assert_close(response_curve(X, f, f), gelu(X), rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [4, 100, 1600])
def test_spread_response_at_sqrt_n_scale_matches_aligned(n):
    f = spread_feature(n)
    spread = response_curve(X * n**0.5, f, f)
    aligned = response_curve(X, aligned_feature(n), aligned_feature(n))
    assert torch.allclose(spread / n**0.5, aligned, rtol=0, atol=SQRT_N_TOLERANCE)


def test_spread_response_at_unit_scale_is_nearly_linear():
    # each neuron sees x/10 in [-0.5, 0.5]: GELU's quadratic term is small there
    f = spread_feature(100)
    y = response_curve(X, f, f)
    expected = 100 * 0.1 * gelu(X / 10)
    torch.testing.assert_close(y, expected, rtol=1e-12, atol=1e-12)


def test_balanced_signs_give_an_exactly_linear_response():
    # GELU(x) - GELU(-x) = x, so 50 positive and 50 negative entries cancel the curvature exactly
    f = spread_feature(100, n_negative=50)
    torch.testing.assert_close(response_curve(X * 10, f, f), 5 * X, rtol=0, atol=1e-10)


def test_spread_feature_is_unit_norm_with_the_requested_signs():
    f = spread_feature(100, n_negative=25)
    assert torch.isclose(f.norm(), torch.tensor(1.0, dtype=f.dtype))
    assert (f < 0).sum() == 25


def _uniform(n, seed=0):
    return torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1


def test_score_is_zero_for_a_linear_map_and_large_for_a_quadratic():
    x = _uniform(2000)
    noise = 0.01 * _uniform(2000, seed=1)
    assert abs(nonhomogeneity_score(x, 3 * x + 1 + noise).item()) < 1e-3
    # y = x²: linear R² ≈ 0 on a symmetric range, quadratic R² = 1
    assert nonhomogeneity_score(x, x**2).item() > 0.95


def test_score_is_batched_over_leading_dimensions():
    x = torch.stack([_uniform(500), _uniform(500, seed=2)])
    y = torch.stack([2 * x[0], x[1] ** 2])
    scores = nonhomogeneity_score(x, y)
    assert scores.shape == (2,)
    assert scores[0].abs() < 1e-9 and scores[1] > 0.9


def test_score_fits_on_train_and_scores_on_the_held_out_tail():
    # the last 20% follow a different curve: a train-only fit must be scored on it (so it loses R²)
    x = _uniform(1000)
    y = x.clone()
    y[800:] = x[800:] ** 2
    assert nonhomogeneity_score(x, y, test_fraction=0.2).item() < 0.5


def test_random_features_are_unit_norm_with_the_requested_support_and_sign():
    g = torch.Generator().manual_seed(0)
    f = random_features(50, 20, 5, nonnegative=True, generator=g)
    torch.testing.assert_close(f.norm(dim=1), torch.ones(50, dtype=f.dtype))
    assert ((f != 0).sum(dim=1) == 5).all() and (f >= 0).all()
    signed = random_features(200, 20, 20, nonnegative=False, generator=g)
    assert (signed < 0).any() and (signed > 0).any()


def test_dims_per_feature_above_width_is_a_parameter_error():
    with pytest.raises(ParameterError, match="dims_per_feature"):
        random_features(10, 20, 21, nonnegative=True, generator=torch.Generator())


def test_zero_width_is_a_parameter_error():
    with pytest.raises(ParameterError, match="width"):
        spread_feature(0)


def test_mmcs_by_count_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    features = random_features(40, 10, 4, nonnegative=False, generator=g)
    mmcs = mmcs_by_count(features, chunk_size=7)
    cos = (features @ features.T).numpy()
    for n in (2, 5, 17, 40):
        block = cos[:n, :n].copy()
        np.fill_diagonal(block, -np.inf)
        assert mmcs[n - 1].item() == pytest.approx(block.max(axis=1).mean(), abs=1e-6)
    assert torch.isnan(mmcs[0])


def test_nonhomogeneity_grid_falls_with_more_active_features():
    g = torch.Generator().manual_seed(0)
    features = {dims: random_features(30, 30, dims, nonnegative=True, generator=g) for dims in (3, 30)}
    grid = nonhomogeneity_grid(features, [0, 29], n_tested=4, n_samples=800, test_fraction=0.2, generator=g)
    assert grid.shape == (2, 2)
    assert (grid[:, 0] > 0.1).all()  # alone, the feature sees GELU's knee
    assert grid[1, 1] < grid[1, 0] / 3  # with every other fully spread feature on, it turns homogeneous


def test_largest_count_satisfying():
    counts = np.array([1, 2, 4, 8])
    assert largest_count_satisfying(counts, [True, False, True, False]) == 4
    assert largest_count_satisfying(counts, [False] * 4, floor=1) == 1


def test_max_active_features_follows_the_post_code_convention():
    n_on = [0, 1, 2, 5, 10]
    assert max_active_features(n_on, [0.3, 0.2, 0.12, 0.1, 0.05], threshold=0.1) == 2  # 0.1 itself does not pass
    assert max_active_features(n_on, [0.3, 0.05, 0.2, 0.0, 0.0], threshold=0.1) == 2  # the largest passing count
    assert max_active_features(n_on, [0.05] * 5, threshold=0.1) == 10  # none passes: the code reports the last


def test_first_crossing_interpolates_in_log_scale():
    scales = np.array([1.0, 10.0, 100.0])
    assert first_crossing(scales, [0.0, 0.5, 1.0], 0.75) == pytest.approx(10 ** 1.5)
    assert first_crossing(scales, [0.0, 1.0, 1.0], 0.5) == pytest.approx(10 ** 0.5)
    assert np.isnan(first_crossing(scales, [0.0, 0.1, 0.2], 0.5))
    assert np.isnan(first_crossing(scales, [0.9, 1.0, 1.0], 0.5))


def test_rank_correlation_matches_scipy_and_is_zero_without_variation():
    from scipy.stats import spearmanr

    a, b = [1, 2, 3, 4, 5], [5, 3, 4, 1, 2]
    assert rank_correlation(a, b) == pytest.approx(spearmanr(a, b).statistic)
    assert rank_correlation(a, [7] * 5) == 0.0


def test_response_score_is_the_score_of_the_scaled_response():
    x = _uniform(1000) * 5
    f = aligned_feature(100)
    assert response_score(x, f, f) == pytest.approx(nonhomogeneity_score(x, gelu(x)).item(), abs=1e-12)
    balanced = spread_feature(100, n_negative=50)  # exactly linear at every scale
    assert abs(response_score(x, balanced, balanced, scale=10.0)) < 1e-9


def test_scores_by_scale_matches_one_score_per_scale():
    x, scales = _uniform(500) * 5, np.array([0.1, 1.0, 10.0, 100.0])
    f = spread_feature(16)
    expected = [response_score(x, f, f, scale=s) for s in scales]
    assert scores_by_scale(x, scales, f) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("n", [4, 100])
def test_sqrt_n_rescaling_is_exact_for_the_even_feature(n):
    error, scale_ratio = sqrt_n_rescaling(X, n)
    assert error < SQRT_N_TOLERANCE and scale_ratio == pytest.approx(1.0, abs=1e-12)


def test_log_int_grid_rounds_and_drops_duplicates():
    assert log_int_grid(1, 100, 3) == [1, 10, 100]
    assert log_int_grid(1, 3, 10) == [1, 2, 3]


def test_max_orthogonal_features_reads_the_mmcs_curve():
    found = max_orthogonal_features(10, 4, 60, 2, False, 0.5, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)  # the same draws, by brute force
    mmcs = np.mean([mmcs_by_count(random_features(60, 10, 4, False, g)).numpy() for _ in range(2)], axis=0)
    assert found == max([1] + [n for n in range(2, 61) if mmcs[n - 1] <= 0.5])
    censored = max_orthogonal_features(10, 4, 60, 1, False, 1.0, torch.Generator().manual_seed(3))
    assert censored == 60  # a cosine never exceeds 1


def test_sign_balance_ordered():
    falling_and_rising = {0: 1.0, 10: 0.6, 25: 0.3, 50: 0.0, 75: 0.3, 100: 1.0}
    assert sign_balance_ordered(falling_and_rising, 100)
    assert not sign_balance_ordered({**falling_and_rising, 25: 0.7}, 100)  # not falling towards 50
    assert not sign_balance_ordered({**falling_and_rising, 10: 1.2}, 100)  # above the unbalanced score


def test_notebook_figures_draw_every_curve():
    x = torch.linspace(-5, 5, 21, dtype=torch.float64)
    features = {"aligned": aligned_feature(4), "spread": spread_feature(4)}
    curves = {(a, b): response_curve(x, features[a], features[b]) for a in features for b in features}
    scores = {**dict.fromkeys(curves, 0.5), ("spread", "spread", "×√n"): 0.5}
    fig = plot_response_curves(x, curves, features["spread"], scores, 4)
    assert len(fig.axes) == 6 and len(fig.axes[5].lines) == 2
    law = {(n, kind): np.linspace(0, 1, 3) for n in (4, 16) for kind in ("even", "random non-negative")}
    assert len(plot_sqrt_n_law(np.array([1.0, 2.0, 4.0]), law, [4, 16], 0.5, 5.0).axes[0].lines) == 4 + 1
    signed = {k: spread_feature(4, k) for k in (0, 2, 4)}
    fig = plot_sign_balance(x, signed, dict.fromkeys(signed, 0.1), 4)
    assert len(fig.axes[0].lines) == 3
    fig = plot_tradeoff([2, 4], [0, 1, 3], np.array([[0.3, 0.2, 0.05], [0.2, 0.05, 0.0]]), [1, 0],
                        {"signed": [5, 9], "non-negative": [4, 2]}, 0.1, 0.3, 4)
    assert fig.axes[0].get_legend() is not None and len(fig.axes[0].get_legend().get_texts()) == 3
    plt.close("all")
