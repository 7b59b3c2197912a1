"""Toy data that `sae_lens.synthetic` does not express exactly.

- `orthonormal_initializer`: exactly orthonormal true-feature directions for a sae-lens `FeatureDictionary`
  (its own `orthogonal_initializer` only approximately orthogonalises by gradient descent).
- `composite_pair_activations`: Till's three-feature toy, where f1 and f2 fire alone or together with fixed
  probabilities (an exact joint law for the pair, which a Gaussian-copula correlation cannot set) and f3 is rare;
  `composite_pair_streams` gives one stream of it per run, `composite_cheaper_p3` the analytic phase boundary.
- `riggs_activations`: Riggs's 2-D example, each of A∧¬B, A∧B, ¬A∧B with a given probability.
- `mutually_exclusive_firing_probabilities`: the independent firing probabilities to give sae-lens's
  `HierarchyNode(mutually_exclusive_children=True)` so that each child is THE active child, given its parent,
  with exactly the probability asked for (sae-lens fires children independently and keeps one at random).
- `parent_children_generator`: a parent with mutually exclusive children built from sae-lens's
  `ActivationGenerator` and hierarchy modifier with those corrected probabilities.
- `run_streams`: independent per-run streams of any of these, mapped into activation space, in the
  [runs, batch, d] layout of `saelib.training.stacked`.
"""

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from sae_lens.synthetic import ActivationGenerator, FeatureDictionary, HierarchyNode, hierarchy_modifier
from scipy.optimize import least_squares

from saelib.params import ParameterError, check_positive, check_probability


def orthonormal_initializer(seed: int) -> Callable[[FeatureDictionary], None]:
    """A FeatureDictionary initializer giving exactly orthonormal rows (a random rotation, QR-based)."""

    def initialize(feature_dict: FeatureDictionary) -> None:
        n, d = feature_dict.num_features, feature_dict.hidden_dim
        if n > d:
            raise ParameterError("num_features", f"at most hidden_dim={d} orthonormal directions exist", n)
        generator = torch.Generator().manual_seed(seed)
        q, r = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
        q = q * torch.sign(torch.diagonal(r))  # a uniformly random rotation
        feature_dict.feature_vectors.data = q.T[:n].to(feature_dict.feature_vectors.dtype).contiguous()

    return initialize


def orthonormal_feature_dictionary(num_features: int, hidden_dim: int, seed: int) -> FeatureDictionary:
    """A sae-lens FeatureDictionary (no bias) whose feature directions are exactly orthonormal."""
    return FeatureDictionary(num_features, hidden_dim, bias=False, initializer=orthonormal_initializer(seed))


def _check_disjoint_probabilities(probabilities: dict[str, float]) -> None:
    """Each probability in [0, 1] and their sum at most 1 (they are disjoint events)."""
    for name, value in probabilities.items():
        check_probability(name, value)
    if sum(probabilities.values()) > 1 + 1e-12:
        names = "+".join(probabilities)
        raise ParameterError(names, "disjoint event probabilities must sum to at most 1", sum(probabilities.values()))


def composite_pair_activations(batch_size: int, p_f1_only: float, p_f2_only: float, p_both: float,
                               p_f3: float | torch.Tensor, magnitudes: Sequence[float] = (1.0, 1.0, 1.0),
                               generator: torch.Generator | None = None) -> torch.Tensor:
    """Feature activations [*p_f3.shape, batch, 3] of Till's toy: the pair (f1, f2) is exactly one of
    none / f1 only / f2 only / both with the given probabilities (both: fixed proportions magnitudes[0]:[1]),
    and f3 fires independently with p_f3 (a tensor of p_f3 gives one independent stream per entry)."""
    _check_disjoint_probabilities({"p_f1_only": p_f1_only, "p_f2_only": p_f2_only, "p_both": p_both})
    p3 = torch.as_tensor(p_f3, dtype=torch.float32)
    if p3.numel() == 0 or bool(((p3 < 0) | (p3 > 1) | p3.isnan()).any()):
        raise ParameterError("p_f3", "every f3 firing probability must lie in [0, 1]", p_f3)
    for i, m in enumerate(magnitudes):
        check_positive(f"magnitudes[{i}]", m)
    shape = (*p3.shape, batch_size)
    u = torch.rand(shape, generator=generator)
    # [0, p1): f1 only; [p1, p1 + pb): both; [p1 + pb, p1 + pb + p2): f2 only
    f1 = u < p_f1_only + p_both
    f2 = (u >= p_f1_only) & (u < p_f1_only + p_both + p_f2_only)
    f3 = torch.rand(shape, generator=generator) < p3.unsqueeze(-1)
    firing = torch.stack([f1, f2, f3], dim=-1).float()
    return firing * torch.tensor(magnitudes, dtype=torch.float32)


def composite_pair_streams(p_only: float, p_both: float, directions: torch.Tensor, p_f3: Sequence[float] | np.ndarray,
                           seed: int) -> Callable[[int], torch.Tensor]:
    """sample(batch) -> [runs, batch, d]: one independent stream of Till's toy per run (f1, f2 each alone with
    p_only, together with p_both; f3 with p_f3[run]), mapped onto the feature directions [3, d], seeded by `seed`."""
    generator, rates = torch.Generator().manual_seed(seed), torch.tensor(p_f3, dtype=torch.float32)
    return lambda batch: composite_pair_activations(batch, p_only, p_only, p_both, rates,
                                                    generator=generator) @ directions


def composite_cheaper_p3(l1: float | np.ndarray, p_both: float) -> float | np.ndarray:
    """Till's toy with unit magnitudes, unit decoders and L1 weight l1 (< 2): the f3 firing probability below which
    the composite solution {f1, f2, f1+f2} has a lower expected loss than the atomic {f1, f2, f3}. A latent reading
    magnitude m costs (m - z)² + l1·z at its best z = m - l1/2, so l1·m - l1²/4: the composite saves
    p_both·((2 - √2)·l1 - l1²/4) on f1+f2 and loses p3·(1 - l1/2)² by dropping f3."""
    return p_both * ((2 - math.sqrt(2)) * l1 - l1**2 / 4) / (1 - l1 / 2) ** 2


def riggs_activations(batch_size: int, p_a_only: float, p_both: float, p_b_only: float,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Activations [batch, 2] of Riggs's example in the basis (A, B): A only, both, B only with the given
    probabilities, else nothing; every active feature has magnitude 1."""
    _check_disjoint_probabilities({"p_a_only": p_a_only, "p_both": p_both, "p_b_only": p_b_only})
    u = torch.rand(batch_size, generator=generator)
    a = u < p_a_only + p_both
    b = (u >= p_a_only) & (u < p_a_only + p_both + p_b_only)
    return torch.stack([a, b], dim=-1).float()


def _win_probabilities(q: np.ndarray) -> np.ndarray:
    """P(child i fires and is kept) when children fire independently with q and one firing child is kept
    uniformly at random: q_i * E[1 / (1 + number of other children firing)]."""
    wins = np.empty_like(q)
    for i in range(len(q)):
        others = np.delete(q, i)
        count = np.zeros(len(others) + 1)  # Poisson-binomial law of how many others fire
        count[0] = 1.0
        for p in others:
            count[1:] = count[1:] * (1 - p) + count[:-1] * p
            count[0] *= 1 - p
        wins[i] = q[i] * np.sum(count / np.arange(1, len(others) + 2))
    return wins


def mutually_exclusive_firing_probabilities(conditional: Sequence[float]) -> list[float]:
    """Independent firing probabilities q for sae-lens's mutually exclusive children such that, given the
    parent, child i is the one active child with probability conditional[i] (exactly, up to 1e-10)."""
    target = np.asarray(conditional, dtype=float)
    if target.ndim != 1 or len(target) < 2:
        raise ParameterError("conditional", "need at least two children", list(conditional))
    for i, c in enumerate(target):
        check_probability(f"conditional[{i}]", float(c))
    # reachable: sum of wins = P(at least one fires) < 1 for q < 1; keep a margin for a well-posed solve
    if target.sum() >= 1 - 1e-6:
        raise ParameterError("conditional", "children's probabilities given the parent must sum to < 1",
                             list(conditional))
    solution = least_squares(lambda q: _win_probabilities(q) - target, x0=np.clip(target, 1e-3, 0.999),
                             bounds=(0.0, 1.0), xtol=1e-15, ftol=1e-15, gtol=1e-15)
    if np.max(np.abs(_win_probabilities(solution.x) - target)) > 1e-10:
        raise ParameterError("conditional", "no independent firing probabilities reproduce these", list(conditional))
    return [float(q) for q in solution.x]


def parent_children_generator(parent_p: float, child_conditional_p: Sequence[float],
                              parent_magnitude: float = 1.0, child_magnitudes: Sequence[float] | None = None,
                              ) -> ActivationGenerator:
    """sae-lens ActivationGenerator over [parent, child_1, ..., child_k]: the parent fires with parent_p; given
    the parent, exactly one child i fires with child_conditional_p[i] (none with the rest; a single child fires
    with its probability); children never fire without the parent. Magnitudes are constant."""
    check_probability("parent_p", parent_p)
    check_positive("parent_magnitude", parent_magnitude)
    k = len(child_conditional_p)
    child_magnitudes = [1.0] * k if child_magnitudes is None else list(child_magnitudes)
    if len(child_magnitudes) != k:
        raise ParameterError("child_magnitudes", f"need one magnitude per child ({k})", child_magnitudes)
    for i, m in enumerate(child_magnitudes):
        check_positive(f"child_magnitudes[{i}]", m)
    if k == 1:  # a single child: it fires with its conditional probability whenever the parent does
        check_probability("child_conditional_p[0]", child_conditional_p[0])
        q = [float(child_conditional_p[0])]
    else:
        q = mutually_exclusive_firing_probabilities(child_conditional_p)
    tree = HierarchyNode(0, children=[HierarchyNode(i + 1) for i in range(k)], mutually_exclusive_children=k > 1)
    return ActivationGenerator(
        num_features=k + 1,
        firing_probabilities=torch.tensor([parent_p, *q]),
        mean_firing_magnitudes=torch.tensor([parent_magnitude, *child_magnitudes]),
        modify_activations=hierarchy_modifier(tree),
    )


def run_streams(sample_codes: Callable[[int], torch.Tensor], n_runs: int, directions: torch.Tensor,
                pool_size: int | None = None, generator: torch.Generator | None = None,
                ) -> Callable[[int], torch.Tensor]:
    """sample(batch) -> activations [n_runs, batch, d]: for each run its own draws of feature activations
    (`sample_codes(n)` -> [n, n_features]) times the true-feature directions [n_features, d]. With `pool_size`,
    `sample_codes` is called once for a pool of that many rows and each run draws its batches from the pool with
    replacement (`generator`): much faster for sae-lens's generators, and for toys with a handful of distinct
    firing patterns a large pool differs from fresh draws only by its sampling noise in the patterns' rates."""
    check_positive("n_runs", n_runs)
    if pool_size is not None:
        check_positive("pool_size", pool_size)
        pool = sample_codes(pool_size) @ directions  # [pool_size, d]: mapped once

    def sample(batch_size: int) -> torch.Tensor:
        if pool_size is not None:
            return pool[torch.randint(pool_size, (n_runs, batch_size), generator=generator)]
        return sample_codes(n_runs * batch_size).view(n_runs, batch_size, -1) @ directions

    return sample
