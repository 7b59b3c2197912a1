"""Cosine similarities of learned dictionaries: against true features, between a dictionary's own rows
(k-th nearest neighbour, |cos| between rows), and a random baseline of the same shape."""

from collections.abc import Sequence

import torch
from sae_lens.util import cosine_similarities

from saelib.params import ParameterError
from saelib.saes.orthogonal import decoder_cosine_penalty


def cosine_matrix(learned: torch.Tensor, true_features: torch.Tensor) -> torch.Tensor:
    """Cosines [n_learned, n_true] between rows of `learned` [n_learned, d] and `true_features` [n_true, d]."""
    if learned.shape[-1] != true_features.shape[-1]:
        raise ValueError(f"dimension mismatch: {learned.shape[-1]} vs {true_features.shape[-1]}")
    return cosine_similarities(learned.detach().float(), true_features.detach().float())


def stacked_cosine_matrix(learned: torch.Tensor, true_features: torch.Tensor) -> torch.Tensor:
    """`cosine_matrix` of each run of a stack: learned [runs, n_learned, d] -> [runs, n_learned, n_true]."""
    return torch.stack([cosine_matrix(rows, true_features) for rows in learned])


def abs_cosines(rows: torch.Tensor) -> torch.Tensor:
    """|cos| between every two rows of rows [n, d]: [n, n], ones on the diagonal."""
    return cosine_matrix(rows, rows).abs()


def mean_abs_cos_with_others(rows: torch.Tensor, row: int) -> float:
    """Mean |cos| of one row with every other row."""
    return float(abs_cosines(rows)[row, [i for i in range(len(rows)) if i != row]].mean())


def largest_pair_abs_cos(rows: torch.Tensor) -> float:
    """The largest |cos| between two different rows."""
    return float(abs_cosines(rows).masked_fill(torch.eye(len(rows), dtype=torch.bool), 0).max())


def summed_pair_abs_cos(rows: torch.Tensor) -> float:
    """Sum of |cos| over the pairs i < j of rows: the orthogonality penalty's "abs" form, evaluated."""
    return float(decoder_cosine_penalty(rows.detach().float(), "abs"))


def kth_neighbour_cosines(directions: torch.Tensor, ranks: Sequence[int] = (1, 10, 100)) -> dict[int, torch.Tensor]:
    """For each row, the signed cosine to its k-th most similar OTHER row, for each k in `ranks` ({k: [n]})."""
    n = directions.shape[0]
    for k in ranks:
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n - 1:
            raise ParameterError("ranks", f"each rank must be an integer in [1, {n - 1}] for {n} directions", k)
    cos = cosine_similarities(directions.detach().float())
    cos.fill_diagonal_(-float("inf"))
    top = cos.topk(max(ranks), dim=1).values
    return {k: top[:, k - 1] for k in ranks}


def random_directions_like(directions: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Isotropic random unit directions with the same shape as `directions` (the random baseline)."""
    random = torch.randn(directions.shape, generator=generator)
    return random / random.norm(dim=-1, keepdim=True)


def covariance_directions(activations: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n unit directions drawn from a Gaussian with the (centred) covariance of activations [rows, d]: random
    directions confined to where the data live, a stricter baseline than isotropic ones for anisotropic data."""
    centred = activations.double() - activations.double().mean(0)
    covariance = centred.T @ centred / len(centred)
    factor = torch.linalg.cholesky(covariance + 1e-9 * covariance.trace() * torch.eye(len(covariance)))
    draws = torch.randn(n, len(covariance), generator=generator, dtype=torch.float64) @ factor.T
    return (draws / draws.norm(dim=-1, keepdim=True)).float()
