"""Maximum cosine similarity (MCS) between dictionaries, random N(0,1) baselines, the footnote law of post 004
for the MCS of random vectors, and earth mover's distances between MCS samples.

A dictionary here is a [n_features, d] array: one feature direction per row (the rows of sae-lens's W_dec,
the columns of the post's 128-by-J matrix D).
"""

import math

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats
from scipy.optimize import linear_sum_assignment

Dictionary = ArrayLike | torch.Tensor  # [n_features, d]: numpy, torch or nested lists
DEFAULT_CHUNK_BYTES = 256 * 2**20  # cosines are computed one block this size at a time


def check_dictionary(name: str, dictionary: Dictionary) -> torch.Tensor:
    """`dictionary` as a float32 CPU tensor [n, d], or a ValueError naming `name` and what is wrong."""
    tensor = torch.as_tensor(dictionary).detach()
    if tensor.ndim != 2:
        raise ValueError(f"dictionary {name} must be 2-D [n_features, d], got shape {tuple(tensor.shape)}")
    if tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise ValueError(f"dictionary {name} is empty (shape {tuple(tensor.shape)})")
    tensor = tensor.to(device="cpu", dtype=torch.float32)
    bad = ~torch.isfinite(tensor).all(dim=1)
    if bad.any():
        rows = bad.nonzero().flatten()[:5].tolist()
        raise ValueError(f"dictionary {name} has {int(bad.sum())} feature(s) with NaN or inf entries, "
                         f"e.g. {rows}")
    zero = tensor.norm(dim=1) == 0
    if zero.any():
        rows = zero.nonzero().flatten()[:5].tolist()
        raise ValueError(f"dictionary {name} has {int(zero.sum())} all-zero feature(s), e.g. {rows}: "
                         "their cosine similarity is undefined")
    return tensor


def _checked_pair(a: Dictionary, b: Dictionary) -> tuple[torch.Tensor, torch.Tensor]:
    """Both dictionaries validated, with unit-norm rows, or a ValueError if their widths d differ."""
    a, b = check_dictionary("A", a), check_dictionary("B", b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"dictionaries live in different spaces: A has d={a.shape[1]}, B has d={b.shape[1]}")
    return torch.nn.functional.normalize(a, dim=1), torch.nn.functional.normalize(b, dim=1)


def max_cosine_similarity(a: Dictionary, b: Dictionary, chunk_bytes: int = DEFAULT_CHUNK_BYTES
                          ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """For every feature of A: its largest cosine similarity with a feature of B, and which feature of B.

    Cosines are computed for blocks of A's rows, each block at most `chunk_bytes` of float32, so peak memory
    is the two normalised dictionaries plus one block, whatever the sizes.
    """
    a, b = _checked_pair(a, b)
    rows_per_chunk = max(1, chunk_bytes // (4 * b.shape[0]))
    values = torch.empty(a.shape[0], dtype=torch.float32)
    indices = torch.empty(a.shape[0], dtype=torch.int64)
    block = torch.empty(min(rows_per_chunk, a.shape[0]), b.shape[0], dtype=torch.float32)
    b_t = b.T.contiguous()
    for start in range(0, a.shape[0], rows_per_chunk):
        stop = min(start + rows_per_chunk, a.shape[0])
        cosines = torch.matmul(a[start:stop], b_t, out=block[: stop - start])
        torch.max(cosines, dim=1, out=(values[start:stop], indices[start:stop]))
    return values.numpy(), indices.numpy()


def one_to_one_cosine(a: Dictionary, b: Dictionary) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Cosine of every feature of A with its partner in the one-to-one matching of A into B (needs n_A <= n_B)
    that maximises the summed cosine (Hungarian algorithm, scipy), and the partner's index in B."""
    a, b = _checked_pair(a, b)
    cosines = (a @ b.T).numpy()  # the full matrix: the assignment needs all of it
    if cosines.shape[0] > cosines.shape[1]:
        raise ValueError("one-to-one matching needs A no larger than B; "
                         f"got {cosines.shape[0]} > {cosines.shape[1]}")
    rows, cols = linear_sum_assignment(cosines, maximize=True)
    partner = np.empty(cosines.shape[0], dtype=np.int64)
    partner[rows] = cols
    return cosines[np.arange(cosines.shape[0]), partner], partner


def random_dictionary(n_features: int, d: int, seed: int) -> torch.Tensor:
    """A [n_features, d] dictionary with i.i.d. N(0, 1) entries (the post's random baseline)."""
    if n_features < 1 or d < 1:
        raise ValueError(f"a random dictionary needs n_features >= 1 and d >= 1, got {n_features} x {d}")
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n_features, d, generator=generator)


def random_cosine_cdf(x: ArrayLike, d: int) -> NDArray[np.float64]:
    """CDF of the cosine between two independent isotropic random vectors in d >= 2 dimensions.

    The post's footnote writes the cosine as z / sqrt(z^2 + y) with z ~ N(0,1), y ~ chi^2(d-1); equivalently
    (1 + cosine) / 2 ~ Beta((d-1)/2, (d-1)/2).
    """
    half = (d - 1) / 2
    return special.betainc(half, half, (1 + np.clip(np.asarray(x, dtype=np.float64), -1, 1)) / 2)


def random_cosine_logpdf(x: ArrayLike, d: int) -> NDArray[np.float64]:
    """Log density of that one-draw cosine: (1 - x^2)^((d-3)/2) / B((d-1)/2, 1/2) on (-1, 1)."""
    x = np.asarray(x, dtype=np.float64)
    inside = np.abs(x) < 1
    log_norm = special.betaln((d - 1) / 2, 0.5)
    with np.errstate(divide="ignore"):
        return np.where(inside, (d - 3) / 2 * np.log1p(-np.where(inside, x, 0) ** 2) - log_norm, -np.inf)


def random_mcs_pdf(x: ArrayLike, d: int, n_reference: int) -> NDArray[np.float64]:
    """Density of the max of `n_reference` independent one-draw cosines in d dimensions: M·pdf·cdf^(M−1)."""
    check_law_parameters(d, n_reference)
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_cdf = np.log(random_cosine_cdf(x, d))
        log_density = math.log(n_reference) + random_cosine_logpdf(x, d) + (n_reference - 1) * log_cdf
    return np.exp(log_density)


def random_mcs_cdf(x: ArrayLike, d: int, n_reference: int) -> NDArray[np.float64]:
    """CDF of that max: cdf^M."""
    check_law_parameters(d, n_reference)
    return random_cosine_cdf(x, d) ** n_reference


def check_law_parameters(d: int, n_reference: int) -> None:
    """The footnote law needs d >= 2 dimensions and a dictionary of n_reference >= 1 features."""
    if d < 2 or n_reference < 1:
        raise ValueError(f"the random-MCS law needs d >= 2 and n_reference >= 1, got d={d}, M={n_reference}")


def random_mcs_ks(samples: ArrayLike, d: int, n_reference: int, cutoff: float | None = None) -> float:
    """Kolmogorov–Smirnov statistic between MCS samples and the footnote law (sup |ECDF − law CDF|); with a
    `cutoff`, the samples below it against the law conditioned on MCS < cutoff."""
    samples = np.asarray(samples, dtype=np.float64)
    if cutoff is not None:
        samples = samples[samples < cutoff]
    if samples.size == 0:
        raise ValueError("no MCS samples to compare with the law")
    norm = 1.0 if cutoff is None else float(random_mcs_cdf(cutoff, d, n_reference))
    return float(stats.kstest(samples, lambda x: np.minimum(random_mcs_cdf(x, d, n_reference) / norm, 1)).statistic)


def ks_critical(n: int, alpha: float) -> float:
    """The one-sample KS statistic that n samples from the hypothesised law exceed with probability alpha."""
    if n < 1 or not 0 < alpha < 1:
        raise ValueError(f"ks_critical needs n >= 1 and 0 < alpha < 1, got n={n}, alpha={alpha}")
    return float(stats.kstwo.isf(alpha, n))


def mcs_emd(u: ArrayLike, v: ArrayLike) -> float:
    """Earth mover's (1-Wasserstein) distance between two samples of MCS values (scipy)."""
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    if u.size == 0 or v.size == 0:
        raise ValueError(f"EMD needs two non-empty samples, got sizes {u.size} and {v.size}")
    return float(stats.wasserstein_distance(u, v))


def emd_matrix(samples: dict[str, ArrayLike]) -> NDArray[np.float64]:
    """Symmetric matrix of pairwise EMDs between named samples, in the dict's order."""
    names = list(samples)
    matrix = np.zeros((len(names), len(names)))
    for i, first in enumerate(names):
        for j in range(i + 1, len(names)):
            matrix[i, j] = matrix[j, i] = mcs_emd(samples[first], samples[names[j]])
    return matrix


def fixed_bandwidth_kde(samples: ArrayLike, grid: ArrayLike, bandwidth: float) -> NDArray[np.float64]:
    """Gaussian kernel density of `samples` on `grid` with a fixed bandwidth in the samples' units (scipy's
    `gaussian_kde`, whose bandwidth is a factor times the samples' standard deviation, given that factor)."""
    samples, grid = np.asarray(samples, dtype=np.float64), np.asarray(grid, dtype=np.float64)
    if samples.size < 2 or bandwidth <= 0:
        raise ValueError(f"a KDE needs >= 2 samples and a positive bandwidth, got {samples.size} and {bandwidth}")
    spread = samples.std(ddof=1)
    if spread == 0:
        raise ValueError("a KDE needs samples that are not all equal")
    return stats.gaussian_kde(samples, bw_method=bandwidth / spread)(grid)


def kde_modes(samples: ArrayLike, bandwidth: float, min_relative_height: float,
              grid: ArrayLike | None = None) -> NDArray[np.float64]:
    """Locations of the local maxima of the fixed-bandwidth KDE at least `min_relative_height` × its highest
    peak (default grid: 1001 points on [-1, 1])."""
    grid = np.linspace(-1, 1, 1001) if grid is None else np.asarray(grid, dtype=np.float64)
    density = fixed_bandwidth_kde(samples, grid, bandwidth)
    padded = np.concatenate([[-np.inf], density, [-np.inf]])
    is_peak = (padded[1:-1] > padded[:-2]) & (padded[1:-1] >= padded[2:])
    return grid[is_peak & (density >= min_relative_height * density.max())]


def n_matched_null(n: int, baselines: list[ArrayLike], n_draws: int, seed: int) -> NDArray[np.float64]:
    """EMDs a random sample of size n would have to a random baseline: each draw takes n values (without
    replacement) of one baseline and measures their EMD to the whole of another, both picked at random."""
    if len(baselines) < 2 or n < 1 or n_draws < 1:
        raise ValueError(f"the null needs >= 2 baselines, n >= 1 and n_draws >= 1; got {len(baselines)} "
                         f"baselines, n={n}, n_draws={n_draws}")
    pools = [np.asarray(b, dtype=np.float64) for b in baselines]
    if n > min(len(p) for p in pools):
        raise ValueError(f"cannot draw {n} values from a baseline of {min(len(p) for p in pools)}")
    rng = np.random.default_rng(seed)
    draws = np.empty(n_draws)
    for k in range(n_draws):
        source, target = rng.choice(len(pools), size=2, replace=False)
        draws[k] = mcs_emd(rng.choice(pools[source], size=n, replace=False), pools[target])
    return draws


def mean_emd_to(sample: ArrayLike, baselines: list[ArrayLike]) -> float:
    """Mean EMD between one sample and each baseline."""
    return float(np.mean([mcs_emd(sample, baseline) for baseline in baselines]))


HIGH_MCS = "high MCS"
LOW_MCS_CAUSES = ("dead", "live, still random", "live, learned, not found by another seed",
                  "live, learned, found by another seed")


def low_mcs_causes(mcs: ArrayLike, firing_rates: ArrayLike, cosine_to_init: ArrayLike, other_seed_mcs: ArrayLike,
                   cutoff: float, moved_cosine: float) -> NDArray[np.str_]:
    """A label per feature: HIGH_MCS at or above `cutoff`; below it, the first of LOW_MCS_CAUSES that applies:
    never fires; fires but its decoder direction kept cosine >= `moved_cosine` with its initial one; fires, moved,
    and another seed's dictionary of the same size has it (MCS >= cutoff) or not."""
    mcs, firing = np.asarray(mcs), np.asarray(firing_rates)
    cosine, other = np.asarray(cosine_to_init), np.asarray(other_seed_mcs)
    if not mcs.shape == firing.shape == cosine.shape == other.shape:
        raise ValueError(f"one value per feature needed; got shapes {mcs.shape}, {firing.shape}, {cosine.shape}, "
                         f"{other.shape}")
    found = np.where(other >= cutoff, LOW_MCS_CAUSES[3], LOW_MCS_CAUSES[2])
    live = np.where(cosine >= moved_cosine, LOW_MCS_CAUSES[1], found)
    low = np.where(firing == 0, LOW_MCS_CAUSES[0], live)
    return np.where(mcs >= cutoff, HIGH_MCS, low)


def decoder_directions(sae: torch.nn.Module) -> NDArray[np.float32]:
    """An SAE's dictionary: its W_dec rows (one feature direction per row) as a numpy array."""
    return sae.W_dec.detach().cpu().numpy()


def row_cosines(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Cosine of every row of A with the same row of B (say, each decoder direction with its initial one)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"row cosines need two arrays of one shape, got {a.shape} and {b.shape}")
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def low_part(values: ArrayLike, cutoff: float) -> NDArray[np.float64]:
    """The MCS values below `cutoff`, or the lowest value alone if none is (a sample that then fails any
    precondition on its size)."""
    values = np.asarray(values)
    return values[values < cutoff] if (values < cutoff).any() else np.sort(values)[:1]


def mode_summary(values: ArrayLike, cutoff: float, bandwidth: float, min_relative_height: float) -> dict:
    """The KDE modes of an MCS sample (`kde_modes` on its default grid), their number, the lowest and highest,
    and the sample's share below `cutoff`."""
    values = np.asarray(values)
    modes = kde_modes(values, bandwidth, min_relative_height)
    return {"n_modes": len(modes), "lowest_mode_at": modes.min(), "highest_mode_at": modes.max(),
            "share_low": float((values < cutoff).mean()), "modes": modes}


def random_mcs(n_features: int, n_reference: int, d: int, seed: int) -> NDArray[np.float32]:
    """MCS of an N(0, 1) dictionary of `n_features` (seeded `seed`) against one of `n_reference` (`seed + 1`)."""
    query, reference = random_dictionary(n_features, d, seed), random_dictionary(n_reference, d, seed + 1)
    return max_cosine_similarity(query, reference)[0]


def low_part_emd(learned: ArrayLike, baselines: list[ArrayLike], alt: ArrayLike, cutoff: float, n_null: int,
                 seed: int) -> dict:
    """Below `cutoff`: the mean EMD of a learned MCS sample to random baselines, against the n-matched null (n =
    the smallest of the low parts), and its EMD to an other-parameters baseline `alt`. Returns n_low, the learned
    EMD, the null's median, ratio (learned / null median), the null's shares above 2× its median and at or above
    the learned EMD, alt ratio (EMD to alt / learned EMD), random-vs-alt ratio (the baselines' mean EMD to alt /
    their mean EMD to each other) and the null draws."""
    learned, alt = np.asarray(learned), np.asarray(alt)
    low = low_part(learned, cutoff)
    lows = [np.asarray(b)[np.asarray(b) < cutoff] for b in baselines]
    alt_low = alt[alt < cutoff]
    null = n_matched_null(min(len(low), *(len(b) for b in lows)), lows, n_null, seed=seed)
    learned_emd, median = mean_emd_to(low, lows), np.median(null)
    rand_rand = np.mean([mcs_emd(a, b) for i, a in enumerate(lows) for b in lows[i + 1:]])
    return {"n_low": int((learned < cutoff).sum()), "learned EMD": learned_emd, "null median": median,
            "ratio": learned_emd / median, "null share above 2x": float((null > 2 * median).mean()),
            "null share >= learned": float((null >= learned_emd).mean()),
            "alt ratio": mcs_emd(low, alt_low) / learned_emd,
            "random-vs-alt ratio": mean_emd_to(alt_low, lows) / rand_rand, "null": null}


def high_low_counts(mcs_by_size: dict[int, ArrayLike], cutoff: float) -> pd.DataFrame:
    """Per dictionary size: how many features have MCS at or above `cutoff` (high-MCS), how many below, and the
    high-MCS share of the size."""
    sizes = list(mcs_by_size)
    high = [int((np.asarray(mcs_by_size[s]) >= cutoff).sum()) for s in sizes]
    low = [int((np.asarray(mcs_by_size[s]) < cutoff).sum()) for s in sizes]
    counts = pd.DataFrame({"high-MCS": high, "low-MCS": low}, index=pd.Index(sizes, name="size"))
    return counts.assign(**{"share high": counts["high-MCS"] / counts.index})
