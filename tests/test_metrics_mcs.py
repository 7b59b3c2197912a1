"""Each MCS metric against a brute-force or scipy computation; the footnote law against sampled random MCS."""

import itertools

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from saelib.metrics.mcs import (
    HIGH_MCS,
    LOW_MCS_CAUSES,
    check_dictionary,
    emd_matrix,
    fixed_bandwidth_kde,
    kde_modes,
    ks_critical,
    low_mcs_causes,
    max_cosine_similarity,
    mcs_emd,
    mean_emd_to,
    n_matched_null,
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


def brute_force_kde(samples: np.ndarray, grid: np.ndarray, bandwidth: float) -> np.ndarray:
    """A fixed-bandwidth Gaussian KDE written out: the mean of N(grid; sample, bandwidth^2) over the samples."""
    z = (grid[:, None] - samples[None, :]) / bandwidth
    return np.exp(-0.5 * z**2).mean(axis=1) / (bandwidth * np.sqrt(2 * np.pi))


def test_fixed_bandwidth_kde_is_scipy_with_the_bandwidth_fixed_in_data_units():
    rng = np.random.default_rng(3)
    grid = np.linspace(-1, 1, 401)
    for scale in (0.01, 0.3):  # the bandwidth must not follow the samples' spread
        samples = rng.normal(0.2, scale, 500)
        np.testing.assert_allclose(fixed_bandwidth_kde(samples, grid, 0.04), brute_force_kde(samples, grid, 0.04),
                                   rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="not all equal"):
        fixed_bandwidth_kde(np.ones(5), grid, 0.04)


def test_kde_modes_finds_the_two_modes_and_drops_small_peaks():
    rng = np.random.default_rng(3)
    samples = np.concatenate([rng.normal(0.3, 0.05, 700), rng.normal(0.95, 0.03, 300)])
    modes = kde_modes(samples, bandwidth=0.04, min_relative_height=0.05)
    assert len(modes) == 2
    np.testing.assert_allclose(modes, [0.3, 0.95], atol=0.03)
    assert len(kde_modes(samples[:700], bandwidth=0.04, min_relative_height=0.05)) == 1
    assert len(kde_modes(np.concatenate([samples[:700], samples[-5:]]), 0.04, min_relative_height=0.5)) == 1


def law_samples(n: int, d: int, m: int, seed: int, cutoff: float = 1.0) -> np.ndarray:
    """n draws from the footnote law conditioned on MCS < cutoff, by inverting its CDF on a fine grid."""
    grid = np.linspace(-0.2, cutoff, 20001)
    cdf = random_mcs_cdf(grid, d, m) / random_mcs_cdf(cutoff, d, m)
    return np.interp(np.random.default_rng(seed).uniform(size=n), cdf, grid)


def test_truncated_ks_accepts_the_conditioned_law_and_rejects_another_m():
    d, m = 128, 8192
    below = law_samples(3000, d, m, seed=0, cutoff=0.33)  # cuts the law at about its median
    assert random_mcs_ks(below, d, m, cutoff=0.33) < ks_critical(3000, 0.01)
    assert random_mcs_ks(below, d, m) > ks_critical(3000, 0.01)  # the untruncated law does not fit
    assert random_mcs_ks(np.concatenate([below, [0.9, 0.95]]), d, m, cutoff=0.33) == pytest.approx(
        random_mcs_ks(below, d, m, cutoff=0.33))  # values above the cutoff are left out
    assert random_mcs_ks(below, d, 4 * m, cutoff=0.33) > ks_critical(3000, 0.01)


def test_ks_critical_is_the_exceedance_level_of_uniform_samples():
    rng = np.random.default_rng(4)
    n, alpha = 40, 0.05
    statistics = np.array([stats.kstest(rng.uniform(size=n), "uniform").statistic for _ in range(4000)])
    assert (statistics > ks_critical(n, alpha)).mean() == pytest.approx(alpha, abs=0.012)
    assert ks_critical(1000, 0.01) == pytest.approx(1.63 / np.sqrt(1000), rel=0.02)  # the asymptotic value


def test_n_matched_null_covers_a_random_sample_of_that_size_and_shrinks_with_n():
    d, m = 128, 8192
    baselines = [law_samples(1024, d, m, seed=s) for s in range(4)]
    null_small = n_matched_null(30, baselines, n_draws=400, seed=0)
    null_large = n_matched_null(600, baselines, n_draws=400, seed=0)
    assert np.median(null_small) > 2 * np.median(null_large)  # EMD noise falls roughly as 1/sqrt(n)
    np.testing.assert_array_equal(null_small, n_matched_null(30, baselines, n_draws=400, seed=0))
    fresh = [mean_emd_to(law_samples(30, d, m, seed=100 + k), baselines) for k in range(200)]
    # a truly random sample of 30 lands inside the null: same median within sampling error
    assert np.median(fresh) == pytest.approx(np.median(null_small), rel=0.25)
    with pytest.raises(ValueError, match="cannot draw"):
        n_matched_null(2000, baselines, n_draws=1, seed=0)


def test_mean_emd_to_is_the_mean_of_the_pairwise_emds():
    rng = np.random.default_rng(5)
    sample, baselines = rng.uniform(size=50), [rng.uniform(size=80), rng.normal(size=60)]
    assert mean_emd_to(sample, baselines) == pytest.approx(np.mean([mcs_emd(sample, b) for b in baselines]))


def test_low_mcs_causes_takes_the_first_cause_that_applies():
    mcs = np.array([0.9, 0.3, 0.3, 0.3, 0.3, 0.3])
    firing = np.array([0.0, 0.0, 0.1, 0.1, 0.1, 0.1])  # a dead high-MCS feature stays "high MCS"
    cosine = np.array([1.0, 1.0, 0.95, 0.2, 0.2, 0.2])
    other = np.array([0.1, 0.9, 0.9, 0.2, 0.7, 0.5])
    labels = low_mcs_causes(mcs, firing, cosine, other, cutoff=0.5, moved_cosine=0.9)
    assert list(labels) == [HIGH_MCS, LOW_MCS_CAUSES[0], LOW_MCS_CAUSES[1], LOW_MCS_CAUSES[2], LOW_MCS_CAUSES[3],
                            LOW_MCS_CAUSES[3]]
    with pytest.raises(ValueError, match="one value per feature"):
        low_mcs_causes(mcs, firing[:2], cosine, other, cutoff=0.5, moved_cosine=0.9)


def test_decoder_directions_and_row_cosines_against_brute_force():
    from saelib.metrics.mcs import decoder_directions, row_cosines

    sae = torch.nn.Module()
    sae.W_dec = torch.nn.Parameter(torch.tensor([[3.0, 4.0], [0.0, 2.0]]))
    np.testing.assert_array_equal(decoder_directions(sae), [[3.0, 4.0], [0.0, 2.0]])
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(7, 5)), rng.normal(size=(7, 5))
    np.testing.assert_allclose(row_cosines(a, b), np.diag(brute_force_cosines(a, b)))
    np.testing.assert_allclose(row_cosines(a, 2 * a), 1)
    with pytest.raises(ValueError, match="one shape"):
        row_cosines(a, b[:3])


def test_low_part_and_mode_summary():
    from saelib.metrics.mcs import low_part, mode_summary

    np.testing.assert_array_equal(low_part(np.array([0.9, 0.2, 0.4, 0.7]), 0.5), [0.2, 0.4])
    np.testing.assert_array_equal(low_part(np.array([0.9, 0.6, 0.7]), 0.5), [0.6])  # none below: the lowest alone
    rng = np.random.default_rng(3)
    samples = np.concatenate([rng.normal(0.3, 0.05, 700), rng.normal(0.95, 0.03, 300)])
    summary = mode_summary(samples, 0.5, bandwidth=0.04, min_relative_height=0.05)
    np.testing.assert_array_equal(summary["modes"], kde_modes(samples, 0.04, 0.05))
    assert summary["n_modes"] == 2 and summary["lowest_mode_at"] < 0.5 < summary["highest_mode_at"]
    assert summary["share_low"] == pytest.approx((samples < 0.5).mean())


def test_random_mcs_is_the_mcs_of_two_seeded_random_dictionaries():
    from saelib.metrics.mcs import random_mcs

    expected = max_cosine_similarity(random_dictionary(30, 8, 5), random_dictionary(90, 8, 6))[0]
    np.testing.assert_array_equal(random_mcs(30, 90, 8, seed=5), expected)


def test_low_part_emd_matches_its_definition():
    from saelib.metrics.mcs import low_part_emd

    d, m = 128, 8192
    baselines = [law_samples(600, d, m, seed=s) for s in range(3)]
    learned, alt = law_samples(400, d, m, seed=10), law_samples(600, d, 2 * m, seed=11)
    row = low_part_emd(learned, baselines, alt, cutoff=0.33, n_null=50, seed=7)
    lows = [b[b < 0.33] for b in baselines]
    low, alt_low = learned[learned < 0.33], alt[alt < 0.33]
    null = n_matched_null(min(len(low), *map(len, lows)), lows, 50, seed=7)
    np.testing.assert_array_equal(row["null"], null)
    assert row["n_low"] == len(low)
    assert row["ratio"] == pytest.approx(mean_emd_to(low, lows) / np.median(null))
    assert row["alt ratio"] == pytest.approx(mcs_emd(low, alt_low) / mean_emd_to(low, lows))
    rand_rand = np.mean([mcs_emd(lows[0], lows[1]), mcs_emd(lows[0], lows[2]), mcs_emd(lows[1], lows[2])])
    assert row["random-vs-alt ratio"] == pytest.approx(mean_emd_to(alt_low, lows) / rand_rand)
    assert row["null share above 2x"] == pytest.approx((null > 2 * np.median(null)).mean())


def test_high_low_counts_counts_each_side_of_the_cutoff():
    from saelib.metrics.mcs import high_low_counts

    counts = high_low_counts({4: np.array([0.9, 0.2, 0.5, 0.1]), 8: np.array([0.6] * 2 + [0.3] * 6)}, 0.5)
    assert counts.index.name == "size"
    assert counts["high-MCS"].tolist() == [2, 2] and counts["low-MCS"].tolist() == [2, 6]
    assert counts["share high"].tolist() == [0.5, 0.25]
