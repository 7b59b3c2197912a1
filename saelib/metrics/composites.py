"""The composite detector: is a learned direction one true feature, a non-negative mix of several, or neither?
Also what a whole SAE learned (`signature`, `signatures` for a stack of runs, `signature_text` in words, how many
latents of each kind: `kind_counts`), which latent carries given atoms (`latents_with_atoms`) and whether a wider
SAE's latents split a narrower one's (`refinements`).

A direction d is fitted by non-negative least squares as d ≈ sum_j w_j F_j (w >= 0, F the true feature
directions). With d normalised, the residual r = ||d - F^T w|| is the sine of the angle between d and the cone
of non-negative feature mixtures. The direction is
- "unexplained" if r > max_residual,
- else an "atom" if one feature carries it, or a "composite" of the features whose share of the fitted
  weight (w_j ||F_j|| / sum) is at least min_share.
"""

from collections.abc import Sequence
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


Signature = tuple[tuple[str, tuple[int, ...]], ...]


def signature(directions: torch.Tensor, true_features: torch.Tensor, live: torch.Tensor | np.ndarray,
              max_residual: float = 0.3, min_share: float = 0.15) -> Signature:
    """What an SAE learned, order-free: the sorted (kind, sorted atoms) of each live row of `directions`."""
    parts = decompose_all(directions, true_features, max_residual, min_share)
    return tuple(sorted((p.kind, tuple(sorted(p.atoms))) for p, alive in zip(parts, live, strict=True) if alive))


def signatures(decoders: torch.Tensor, true_features: torch.Tensor, live: torch.Tensor,
               max_residual: float = 0.3, min_share: float = 0.15) -> list[Signature]:
    """`signature` of each run of a stack: decoders [runs, d_sae, d], live [runs, d_sae] (bool)."""
    return [signature(rows, true_features, alive, max_residual, min_share)
            for rows, alive in zip(decoders, live, strict=True)]


def kind_counts(directions: torch.Tensor, true_features: torch.Tensor, live: torch.Tensor | np.ndarray,
                max_residual: float = 0.3, min_share: float = 0.15) -> dict[str, int]:
    """How many rows of `directions` are live, and how many live rows are of each kind: {"live": n, **KINDS}."""
    kinds = [p.kind for p, alive in zip(decompose_all(directions, true_features, max_residual, min_share), live,
                                        strict=True) if alive]
    return {"live": len(kinds), **{kind: kinds.count(kind) for kind in KINDS}}


def signature_text(found: Signature) -> str:
    """A signature in words, features counted from 1: "f1, f2, f1+f2" ("?" for an unexplained latent)."""
    return ", ".join("+".join(f"f{a + 1}" for a in atoms) or "?" for _, atoms in found) or "nothing"


def latents_with_atoms(directions: torch.Tensor, true_features: torch.Tensor,
                       wanted: Sequence[tuple[int, ...]]) -> list[int]:
    """For each atom set in `wanted` (sorted tuples), the first row of `directions` whose decomposition has
    exactly those atoms; raises ValueError if one has none."""
    atoms = [tuple(sorted(p.atoms)) for p in decompose_all(directions, true_features)]
    missing = [w for w in wanted if w not in atoms]
    if missing:
        raise ValueError(f"no row decomposes into the atoms {missing}")
    return [atoms.index(w) for w in wanted]


def refinements(wide_fires: torch.Tensor, narrow_fires: torch.Tensor, containment: float = 0.9,
                max_ratio: float = 0.8) -> torch.Tensor:
    """For each latent of a wider SAE (firing pattern wide_fires [samples, k_wide], bool), whether it refines a
    latent of a narrower SAE (narrow_fires [samples, k_narrow]) on the same samples: at least `containment` of
    its firing samples are that latent's, and it fires on at most `max_ratio` as many samples (a more specific
    split of it, as Till's 'the in topology' refines 'the in mathematical prose'). Silent latents refine nothing."""
    check_open_unit("containment", containment)
    check_open_unit("max_ratio", max_ratio)
    wide, narrow = wide_fires.double(), narrow_fires.double()
    overlap = wide.T @ narrow  # [k_wide, k_narrow]: samples on which both fire
    wide_count, narrow_count = wide.sum(0).unsqueeze(1), narrow.sum(0).unsqueeze(0)
    inside = overlap >= containment * wide_count
    smaller = wide_count <= max_ratio * narrow_count
    return (inside & smaller).any(1) & (wide_count.squeeze(1) > 0)
