"""How a GELU layer responds to features spread over many neurons: response curves, a non-homogeneity score,
and how many random features fit before they stop being nearly orthogonal. Exact and vectorised; no training.

From "Some additional SAE thoughts" (Hoagy Cunningham, 2024), section "How can distributed features in an MLP
work?". A feature is a unit vector f in R^n; its response is y(x) = f_out . GELU(x f_in).
"""

import numpy as np
import torch
from scipy.stats import spearmanr
from torch.nn.functional import gelu

from saelib.params import ParameterError, check_int, check_open_unit

DTYPE = torch.float64


def aligned_feature(width: int) -> torch.Tensor:
    """The unit vector on the first neuron, (1, 0, ..., 0)."""
    check_int("width", width, minimum=1)
    feature = torch.zeros(width, dtype=DTYPE)
    feature[0] = 1.0
    return feature


def spread_feature(width: int, n_negative: int = 0) -> torch.Tensor:
    """The evenly spread unit vector, entries ±1/√width, the first `n_negative` of them negative."""
    check_int("width", width, minimum=1)
    check_int("n_negative", n_negative, minimum=0, maximum=width)
    feature = torch.full((width,), width**-0.5, dtype=DTYPE)
    feature[:n_negative] *= -1
    return feature


def random_features(n_features: int, width: int, dims_per_feature: int, nonnegative: bool,
                    generator: torch.Generator) -> torch.Tensor:
    """Unit vectors [n_features, width], each non-zero on `dims_per_feature` random dims.

    Entries are uniform in [0, 1) (nonnegative) or in [-0.5, 0.5) (signed), as in the post's original code.
    """
    check_int("n_features", n_features, minimum=1)
    check_int("width", width, minimum=1)
    check_int("dims_per_feature", dims_per_feature, minimum=1)
    if dims_per_feature > width:
        raise ParameterError("dims_per_feature", f"must be at most the width ({width})", dims_per_feature)
    values = torch.rand(n_features, width, generator=generator, dtype=DTYPE)
    if not nonnegative:
        values -= 0.5
    ranks = torch.rand(n_features, width, generator=generator).argsort(dim=1).argsort(dim=1)
    values = torch.where(ranks < dims_per_feature, values, torch.zeros((), dtype=DTYPE))
    return values / values.norm(dim=1, keepdim=True)


def response_curve(x: torch.Tensor, f_in: torch.Tensor, f_out: torch.Tensor) -> torch.Tensor:
    """y = f_out . GELU(x f_in) for every input level in x (shape [m]); returns [m]."""
    return gelu(torch.outer(x.to(DTYPE), f_in.to(DTYPE))) @ f_out.to(DTYPE)


def response_score(levels: torch.Tensor, f_in: torch.Tensor, f_out: torch.Tensor, scale: float = 1.0,
                   test_fraction: float = 0.2) -> float:
    """Non-homogeneity score of the response f_out . GELU(scale·x f_in) against the input levels x (random order,
    the last `test_fraction` held out)."""
    return nonhomogeneity_score(levels, response_curve(levels * scale, f_in, f_out), test_fraction).item()


def scores_by_scale(levels: torch.Tensor, scales: np.ndarray, feature: torch.Tensor,
                    test_fraction: float = 0.2) -> np.ndarray:
    """The feature's own-response score f . GELU(s·x f) against x at every input scale s: [len(scales)]."""
    batch = levels[None, :] * torch.as_tensor(scales)[:, None]  # [scales, samples]
    y = torch.stack([response_curve(row, feature, feature) for row in batch])
    return nonhomogeneity_score(levels.expand_as(y), y, test_fraction).numpy()


def sqrt_n_rescaling(x: torch.Tensor, width: int) -> tuple[float, float]:
    """For the evenly spread feature of `width` neurons at input √n·x: the largest |response / √n − GELU(x)|, and
    its output scale (max |y|) over GELU's, divided by √n (1 when the output grows exactly by √n)."""
    root = width**0.5
    y_even = response_curve(x * root, spread_feature(width), spread_feature(width))
    y_gelu = response_curve(x, aligned_feature(width), aligned_feature(width))
    return float((y_even / root - y_gelu).abs().max()), float(y_even.abs().max() / y_gelu.abs().max()) / root


def _heldout_r2(design: torch.Tensor, y: torch.Tensor, n_train: int) -> torch.Tensor:
    """Held-out R² (samples n_train:) of the least-squares fit, with intercept, of y on `design` (fit: the rest)."""
    design = torch.cat([torch.ones_like(design[..., :1]), design], dim=-1)
    train, test = design[..., :n_train, :], design[..., n_train:, :]
    gram = train.transpose(-1, -2) @ train
    coef = torch.linalg.solve(gram, train.transpose(-1, -2) @ y[..., :n_train, None])
    y_test = y[..., n_train:]
    residual = y_test - (test @ coef)[..., 0]
    total = (y_test - y_test.mean(dim=-1, keepdim=True)).pow(2).sum(dim=-1)
    return 1 - residual.pow(2).sum(dim=-1) / total


def nonhomogeneity_score(x: torch.Tensor, y: torch.Tensor, test_fraction: float = 0.2) -> torch.Tensor:
    """R²(quadratic) − R²(linear) of y on x, both fitted on the first samples and scored on the last
    `test_fraction` (held out). Batched over leading dimensions: x, y [..., m] -> [...].

    Samples are assumed to be in random order. About 0 for an affine response, large for a curved one.
    """
    check_open_unit("test_fraction", test_fraction)
    x, y = x.to(DTYPE), y.to(DTYPE)
    m = x.shape[-1]
    n_train = m - int(round(m * test_fraction))
    if n_train < 3 or n_train == m:
        raise ParameterError("test_fraction", f"leaves too few train or test samples of {m}", test_fraction)
    scale = x[..., :n_train].abs().amax(dim=-1, keepdim=True).clamp_min(1e-12)
    u = (x / scale)[..., None]
    return _heldout_r2(torch.cat([u, u**2], dim=-1), y, n_train) - _heldout_r2(u, y, n_train)


def nonhomogeneity_grid(features_by_dims: dict[int, torch.Tensor], n_on: list[int], n_tested: int,
                        n_samples: int, test_fraction: float, generator: torch.Generator) -> np.ndarray:
    """Mean non-homogeneity score of a feature's response [len(features_by_dims), len(n_on)].

    For each dims-per-feature D (features [n_features, width]) and each number of other active features:
    each of the first `n_tested` features is on with a level uniform in ±√D, and `n_on` other features drawn
    per sample are on with levels uniform in ±√D; the output is read along the same feature,
    y = f . GELU(input), and scored against the feature's own level (R²(quadratic) − R²(linear), held out).
    The same random draws are shared across the grid (common random numbers), so cells differ only in D and
    n_on.
    """
    n_features = {f.shape[0] for f in features_by_dims.values()}
    if len(n_features) != 1:
        raise ParameterError("features_by_dims", "every dims-per-feature needs the same number of features")
    n_features = n_features.pop()
    check_int("n_tested", n_tested, minimum=1, maximum=n_features)
    for count in n_on:
        check_int("n_on", count, minimum=0, maximum=n_features - 1)
    tested = torch.arange(n_tested)
    unit_levels = torch.rand(n_tested, n_samples, n_features, generator=generator) * 2 - 1
    order = torch.rand(n_tested, n_samples, n_features, generator=generator)
    order[tested, :, tested] = 2.0  # the tested feature is never one of the others
    rank = order.argsort(dim=-1).argsort(dim=-1).to(torch.int16)
    own_level = unit_levels[tested, :, tested]
    scores = np.zeros((len(features_by_dims), len(n_on)))
    for i, (dims, features) in enumerate(features_by_dims.items()):
        features = features.to(torch.float32)
        levels = unit_levels * dims**0.5
        for j, count in enumerate(n_on):
            active = rank < count
            active[tested, :, tested] = True
            inputs = torch.where(active, levels, torch.zeros(())) @ features
            outputs = torch.einsum("ksw,kw->ks", gelu(inputs), features[:n_tested])
            scores[i, j] = nonhomogeneity_score(own_level, outputs, test_fraction).mean().item()
    return scores


def log_int_grid(low: float, high: float, n: int) -> list[int]:
    """`n` log-spaced values from `low` to `high`, rounded to integers, duplicates dropped, increasing."""
    return sorted(set(np.round(np.logspace(np.log10(low), np.log10(high), n)).astype(int).tolist()))


def mmcs_by_count(features: torch.Tensor, chunk_size: int = 1024) -> torch.Tensor:
    """Mean max cosine similarity of the first N features, for every N = 1..n (entry N-1; NaN for N = 1).

    Exact: for feature i, its max cosine with the first N features is the running max of row i of the
    cosine matrix (diagonal excluded); MMCS(N) averages that over i < N.
    """
    n = features.shape[0]
    unit = (features / features.norm(dim=1, keepdim=True)).to(torch.float32)
    totals = torch.zeros(n, dtype=DTYPE)
    for start in range(0, n, chunk_size):
        rows = torch.arange(start, min(start + chunk_size, n))
        cos = unit[rows] @ unit.T
        cos[torch.arange(len(rows)), rows] = -torch.inf
        # feature i counts towards MMCS(N = col + 1) once i <= col: keep the upper triangle from column `start`
        # (the only -inf left in it is feature 0's entry for N = 1, whose MMCS is NaN anyway)
        totals += cos.cummax(dim=1).values.triu_(start).sum(dim=0)
    mmcs = totals / torch.arange(1, n + 1, dtype=DTYPE)
    mmcs[0] = torch.nan
    return mmcs


def largest_count_satisfying(counts: np.ndarray, satisfied: np.ndarray, floor: float = 0.0) -> float:
    """The largest count whose condition holds (as in the post's original code), or `floor` if none does."""
    counts, satisfied = np.asarray(counts, dtype=float), np.asarray(satisfied, dtype=bool)
    return float(counts[satisfied].max()) if satisfied.any() else float(floor)


def max_orthogonal_features(width: int, dims_per_feature: int, max_features: int, n_trials: int,
                            nonnegative: bool, threshold: float, generator: torch.Generator) -> float:
    """The largest N <= `max_features` whose MMCS (averaged over `n_trials` draws of random features, see
    `random_features`) is at most `threshold`; a single feature always fits. `max_features` itself when none
    exceeds it (censored)."""
    mmcs = np.mean([mmcs_by_count(random_features(max_features, width, dims_per_feature, nonnegative,
                                                  generator)).numpy() for _ in range(n_trials)], axis=0)
    fits = np.concatenate([[True], mmcs[1:] <= threshold])
    return largest_count_satisfying(np.arange(1, max_features + 1), fits)


def max_active_features(n_on: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    """The largest number of other active features whose mean score still exceeds `threshold` (strictly, as the
    post's code); when none does, the largest number tried, which is what the post's code reports then (its
    search starts from the last column and keeps it when no column passes)."""
    n_on = np.asarray(n_on, dtype=float)
    return largest_count_satisfying(n_on, np.asarray(scores) > threshold, floor=float(n_on.max()))


def first_crossing(scales: np.ndarray, values: np.ndarray, level: float) -> float:
    """The scale at which `values` (one per scale, scales increasing) first reach `level`, interpolated linearly
    in log(scale); NaN if they never do or already do at the first scale."""
    scales, values = np.asarray(scales, dtype=float), np.asarray(values, dtype=float)
    above = np.flatnonzero(values >= level)
    if above.size == 0 or above[0] == 0:
        return float("nan")
    i = above[0]
    t = (level - values[i - 1]) / (values[i] - values[i - 1])
    return float(np.exp(np.log(scales[i - 1]) + t * (np.log(scales[i]) - np.log(scales[i - 1]))))


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ of a and b; 0 when either is constant (no trend at all)."""
    if np.ptp(np.asarray(a, dtype=float)) == 0 or np.ptp(np.asarray(b, dtype=float)) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def sign_balance_ordered(scores: dict[int, float], width: int) -> bool:
    """Whether the scores by number of negative entries (keys, in the order given; 0 and width // 2 among them)
    attenuate in between: every count strictly between 0 and width // 2 (or between width // 2 and width) scores
    strictly between the balanced score and the unbalanced one, falling towards width // 2 from either side."""
    half = width // 2
    s0, s_bal = scores[0], scores[half]
    left = [k for k in scores if 0 < k < half]
    right = [k for k in scores if half < k < width]
    between_ends = all(s_bal < scores[k] < max(s0, scores.get(width, s0)) for k in left + right)
    monotone = (all(np.diff([scores[k] for k in [0] + left + [half]]) < 0)
                and all(np.diff([scores[k] for k in [half] + right]) > 0))
    return between_ends and monotone
