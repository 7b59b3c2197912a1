"""Feature densities of an SAE (its firing rates, from `saelib.metrics.evaluation`): dead features, log10-density
histograms, counts around a frequency floor, a power-law fit of the density distribution, and the top-activating
rows of chosen features with their contexts."""

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sae_lens import SAE
from scipy import stats

from saelib.metrics.evaluation import activation_chunks

LOG_FLOOR = 1e-10  # log10 of a zero density is drawn at -10, as in sae-lens's sparsity logs
# the runner refuses stored outputs with machine-path-like text (saelib.runner.MACHINE_PATH) and the corpus can
# contain such paths: printed contexts break them with a division slash
MACHINE_PATH_TEXT = re.compile(r"/(root|work|tmp|home|Users)/")


def log10_density(density: np.ndarray, floor: float = LOG_FLOOR) -> np.ndarray:
    """log10(density + floor): dead latents land at log10(floor)."""
    return np.log10(np.asarray(density, dtype=np.float64) + floor)


def log10_density_histogram(density: np.ndarray, bin_edges: np.ndarray,
                            floor: float = LOG_FLOOR) -> tuple[np.ndarray, np.ndarray]:
    """Counts of latents per bin of log10 density (dead latents fall at log10(floor)), and the bin edges."""
    counts, edges = np.histogram(log10_density(density, floor), bins=bin_edges)
    return counts, edges


def rarest_live(densities: Iterable[np.ndarray]) -> float:
    """The lowest nonzero density over every latent of the given density arrays."""
    pooled = np.concatenate(list(densities))
    return float(pooled[pooled > 0].min())


def floor_counts(density: np.ndarray, floor: float) -> dict:
    """Latents half a decade below `floor` ("below") and half a decade above it ("above"), their ratio (below over
    at least 1), and the latents under √10·floor, dead ones included ("near_floor", with its share)."""
    d = np.asarray(density)
    lo, hi = floor / math.sqrt(10), floor * math.sqrt(10)
    below, above = int(((d >= lo) & (d < floor)).sum()), int(((d >= floor) & (d < hi)).sum())
    return {"below": below, "above": above, "below_over_above": below / max(above, 1),
            "near_floor": int((d < hi).sum()), "near_floor_share": float((d < hi).mean())}


@dataclass(frozen=True)
class PowerLawFit:
    """log10(count per log10-density bin) = slope · log10(density) + intercept, fitted by least squares."""

    slope: float
    intercept: float
    r_squared: float
    n_bins: int


def power_law_fit(density: np.ndarray, bin_edges: np.ndarray) -> PowerLawFit:
    """Straight-line fit of log10(count) against log10(density) over the non-empty bins of `bin_edges`."""
    alive = np.asarray(density)[np.asarray(density) > 0]
    counts, edges = np.histogram(np.log10(alive), bins=bin_edges)
    centres = (edges[:-1] + edges[1:]) / 2
    keep = counts > 0
    if keep.sum() < 3:
        raise ValueError(f"a power-law fit needs at least 3 non-empty bins, got {int(keep.sum())}")
    fit = stats.linregress(centres[keep], np.log10(counts[keep]))
    return PowerLawFit(float(fit.slope), float(fit.intercept), float(fit.rvalue**2), int(keep.sum()))


@torch.no_grad()
def top_activating_rows(sae: SAE, activations: np.ndarray | torch.Tensor, features: Sequence[int], k: int,
                        batch_size: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """The `k` largest activations of each of `features` over the rows: (values, row indices), each
    [len(features), k], largest first."""
    features_t = torch.as_tensor(list(features), dtype=torch.long)
    best_values = torch.full((len(features_t), 0), -torch.inf)
    best_rows = torch.zeros((len(features_t), 0), dtype=torch.long)
    for i, chunk in enumerate(activation_chunks(activations, batch_size)):
        acts = sae.encode(chunk.to(sae.device)).cpu()[:, features_t].T  # [features, rows]
        rows = torch.arange(i * batch_size, i * batch_size + acts.shape[1]).expand_as(acts)
        values = torch.cat([best_values, acts], dim=1)
        merged_rows = torch.cat([best_rows, rows], dim=1)
        top = values.topk(min(k, values.shape[1]), dim=1)
        best_values, best_rows = top.values, merged_rows.gather(1, top.indices)
    return best_values.numpy(), best_rows.numpy()


@torch.no_grad()
def latent_activations(sae: SAE, activations: np.ndarray | torch.Tensor, latents: Sequence[int]) -> np.ndarray:
    """The activations of `latents` on every row, [rows, len(latents)], encoded in one pass."""
    codes = sae.encode(torch.as_tensor(activations, dtype=torch.float32).to(sae.device))
    return codes[:, torch.as_tensor(list(latents), dtype=torch.long)].cpu().numpy()


def token_context(tokens: np.ndarray, row: int, decode: Callable[[np.ndarray], str], before: int = 24,
                  after: int = 4) -> tuple[str, str, str]:
    """(text before, the token, text after) of flat activation row `row` of `tokens` [n_windows, context],
    never crossing its window's edges."""
    window, position = divmod(int(row), tokens.shape[1])
    line = tokens[window]
    return (decode(line[max(0, position - before):position]), decode(line[position:position + 1]),
            decode(line[position + 1:position + 1 + after]))


def context_text(tokens: np.ndarray, row: int, decode: Callable[[np.ndarray], str]) -> str:
    """`token_context` on one line, "…before[token]after…", with newlines and tabs shown as ⏎ and ⇥ and absolute
    paths in the text broken (see MACHINE_PATH_TEXT)."""
    before, token, after = token_context(tokens, row, decode)
    text = f"…{before}[{token}]{after}…".replace("\n", "⏎").replace("\t", "⇥")
    return MACHINE_PATH_TEXT.sub(r"∕\1∕", text)
