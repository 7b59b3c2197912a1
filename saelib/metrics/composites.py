"""The composite detector: is a learned direction one true feature, a non-negative mix of several, or neither?

A direction d is fitted by non-negative least squares as d ≈ sum_j w_j F_j (w >= 0, F the true feature
directions). With d normalised, the residual r = ||d - F^T w|| is the sine of the angle between d and the cone
of non-negative feature mixtures. The direction is
- "unexplained" if r > max_residual,
- else an "atom" if one feature carries it, or a "composite" of the features whose share of the fitted
  weight (w_j ||F_j|| / sum) is at least min_share.
"""

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import nnls

from saelib.params import check_open_unit

KINDS = ("atom", "composite", "unexplained")


@dataclass(frozen=True)
class Decomposition:
    """One learned direction as a non-negative mix of true features."""

    kind: str  # one of KINDS
    atoms: tuple[int, ...]  # features with at least min_share of the fit, largest share first
    shares: tuple[float, ...]  # their shares of the fitted weight, same order
    residual: float  # sine of the angle to the cone of non-negative mixtures


def decompose(direction: torch.Tensor | np.ndarray, true_features: torch.Tensor | np.ndarray,
              max_residual: float = 0.3, min_share: float = 0.15) -> Decomposition:
    """Classify one direction [d] against true features [n, d] (see module doc)."""
    check_open_unit("max_residual", max_residual)
    check_open_unit("min_share", min_share)
    d = np.asarray(torch.as_tensor(direction).detach().double().cpu())
    F = np.asarray(torch.as_tensor(true_features).detach().double().cpu())
    norm = np.linalg.norm(d)
    if norm == 0:
        return Decomposition("unexplained", (), (), 1.0)
    weights, residual = nnls(F.T, d / norm)
    contribution = weights * np.linalg.norm(F, axis=1)
    if residual > max_residual or contribution.sum() == 0:
        return Decomposition("unexplained", (), (), float(residual))
    share = contribution / contribution.sum()
    order = [int(j) for j in np.argsort(-share) if share[j] >= min_share]
    kind = "atom" if len(order) == 1 else "composite"
    return Decomposition(kind, tuple(order), tuple(float(share[j]) for j in order), float(residual))


def decompose_all(directions: torch.Tensor, true_features: torch.Tensor, max_residual: float = 0.3,
                  min_share: float = 0.15) -> list[Decomposition]:
    """`decompose` for every row of `directions` [n_learned, d]."""
    return [decompose(row, true_features, max_residual, min_share) for row in directions]
