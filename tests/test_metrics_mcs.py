"""Each MCS metric against a brute-force or scipy computation; the footnote law against sampled random MCS."""

import itertools

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from saelib.metrics.mcs import (
    check_dictionary,
    emd_matrix,
    fixed_bandwidth_kde,
    kde_modes,
    max_cosine_similarity,
    mcs_emd,
    one_to_one_cosine,
    random_cosine_cdf,
    random_cosine_logpdf,
    random_dictionary,
    random_mcs_cdf,
    random_mcs_ks,
    random_mcs_pdf,
)


def brute_force_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosines by a Python double loop over the rows, in float64."""
    return np.array([[float(x @ y / np.linalg.norm(x) / np.linalg.norm(y)) for y in b] for x in a])


def test_max_cosine_similarity_matches_brute_force_whatever_the_chunk_size():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(37, 9)) * rng.uniform(0.1, 5, size=(37, 1)), rng.normal(size=(53, 9))
    brute = brute_force_cosines(a, b)
    for chunk_bytes in (1, 4 * 53 * 5, 10**9):  # one row per block, five rows, everything at once
        values, index = max_cosine_similarity(a, b, chunk_bytes=chunk_bytes)
        np.testing.assert_allclose(values, brute.max(axis=1), atol=1e-5)
        np.testing.assert_array_equal(index, brute.argmax(axis=1))


def test_max_cosine_similarity_is_one_for_a_scaled_copy_and_accepts_torch():
    a = torch.randn(20, 6)
    values, index = max_cosine_similarity(a, torch.cat([3 * a, torch.randn(5, 6)]))
    np.testing.assert_allclose(values, 1, atol=1e-5)
    np.testing.assert_array_equal(index, np.arange(20))


def test_one_to_one_matching_is_the_best_injective_assignment():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 5)), rng.normal(size=(6, 5))
    brute = brute_force_cosines(a, b)
    best = max(itertools.permutations(range(6), 4), key=lambda p: sum(brute[i, j] for i, j in enumerate(p)))
    values, partner = one_to_one_cosine(a, b)
    assert tuple(partner) == best
    np.testing.assert_allclose(values, brute[np.arange(4), list(best)], atol=1e-5)
    with pytest.raises(ValueError, match="no larger than B"):
        one_to_one_cosine(b, a)


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        (np.ones((3, 4)), np.ones((3, 5)), "different spaces"),
        (np.ones((0, 4)), np.ones((3, 4)), "A is empty"),
        (np.ones((3, 4)), np.ones((3, 0)), "B is empty"),
        (np.array([[1.0, np.nan], [1, 2]]), np.ones((2, 2)), "NaN or inf"),
        (np.ones((2, 2)), np.array([[0.0, 0.0], [1, 2]]), "all-zero"),
        (np.ones(4), np.ones((2, 4)), "2-D"),
    ],
)
def test_bad_dictionaries_raise_clear_errors(a, b, message):
    with pytest.raises(ValueError, match=message):
        max_cosine_similarity(a, b)


def test_check_dictionary_returns_float32_cpu():
    assert check_dictionary("A", np.eye(3, dtype=np.float64)).dtype == torch.float32


def test_random_dictionary_is_standard_normal_and_seeded():
    d = random_dictionary(2000, 50, seed=3)
    assert d.shape == (2000, 50)
    assert torch.equal(d, random_dictionary(2000, 50, seed=3))
    assert not torch.equal(d, random_dictionary(2000, 50, seed=4))
    assert stats.kstest(d.flatten().numpy(), "norm").pvalue > 1e-3


@pytest.mark.parametrize("d", [3, 10, 128])
def test_one_draw_cosine_law_matches_the_footnote_construction(d):
    rng = np.random.default_rng(d)
    z, y = rng.normal(size=200_000), rng.chisquare(d - 1, size=200_000)
    cosine = z / np.sqrt(z**2 + y)  # the footnote's z / sqrt(z^2 + y)
    assert stats.kstest(cosine, lambda x: random_cosine_cdf(x, d)).statistic < 0.005
    area, _ = integrate.quad(lambda x: np.exp(random_cosine_logpdf(x, d)), -1, 1)
    assert area == pytest.approx(1, abs=1e-6)


@pytest.mark.parametrize(("d", "m"), [(8, 1), (32, 50), (128, 8192), (768, 24576)])
def test_mcs_law_integrates_to_one_and_its_cdf_is_its_integral(d, m):
    area, _ = integrate.quad(random_mcs_pdf, -1, 1, args=(d, m), points=[0.0, np.sqrt(2 * np.log(m + 1) / d)],
                             limit=200)
    assert area == pytest.approx(1, abs=1e-5)
    x = 0.8 * np.sqrt(2 * np.log(m + 1) / d)
    partial, _ = integrate.quad(random_mcs_pdf, -1, x, args=(d, m), limit=200)
    assert partial == pytest.approx(float(random_mcs_cdf(x, d, m)), abs=1e-5)


def test_mcs_law_matches_sampled_random_mcs():
    d, n, m = 32, 2000, 4096
    values, _ = max_cosine_similarity(random_dictionary(n, d, seed=0), random_dictionary(m, d, seed=1))
    ks = random_mcs_ks(values, d, m)
    assert ks < 1.63 / np.sqrt(n)  # the 1% critical value of the one-sample KS test
    # and a law with the wrong M is rejected
    assert random_mcs_ks(values, d, 4 * m) > 3 / np.sqrt(n)


def test_emd_matches_sorted_difference_for_equal_sizes():
    rng = np.random.default_rng(2)
    u, v = rng.uniform(size=300), rng.normal(size=300)
    assert mcs_emd(u, v) == pytest.approx(np.abs(np.sort(u) - np.sort(v)).mean())
    matrix = emd_matrix({"u": u, "v": v, "w": u + 0.25})
    np.testing.assert_allclose(matrix, matrix.T)
    np.testing.assert_allclose(np.diag(matrix), 0)
    assert matrix[0, 2] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="non-empty"):
        mcs_emd([], u)


def test_fixed_bandwidth_kde_matches_scipy_and_finds_two_modes():
    rng = np.random.default_rng(3)
    samples = np.concatenate([rng.normal(0.3, 0.05, 700), rng.normal(0.95, 0.03, 300)])
    grid = np.linspace(-1, 1, 401)
    scipy_kde = stats.gaussian_kde(samples, bw_method=0.04 / samples.std(ddof=1))
    ours = fixed_bandwidth_kde(samples, grid, 0.04)
    np.testing.assert_allclose(ours, scipy_kde(grid), rtol=1e-6, atol=1e-9)
    modes = kde_modes(samples, bandwidth=0.04, min_relative_height=0.05)
    assert len(modes) == 2
    np.testing.assert_allclose(modes, [0.3, 0.95], atol=0.03)
    assert len(kde_modes(samples[:700], bandwidth=0.04, min_relative_height=0.05)) == 1
