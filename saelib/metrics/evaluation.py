"""How well an SAE reconstructs a set of activations and how often its latents fire: the one implementation of
firing rates, L0, MSE, explained variance (sae-lens's own streaming calculator) and dead share that every
notebook, trainer and cached run uses."""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from sae_lens import SAE
from sae_lens.evals import ExplainedVarianceCalculator


def activation_chunks(activations: np.ndarray | torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    """Consecutive row blocks of `activations` as float32 tensors."""
    for start in range(0, len(activations), batch_size):
        yield torch.as_tensor(np.asarray(activations[start:start + batch_size], dtype=np.float32))


@torch.no_grad()
def explained_variance(inputs: torch.Tensor, reconstructions: torch.Tensor) -> float:
    """1 − mean squared error / total variance, both summed over dimensions (sae-lens's calculator)."""
    calculator = ExplainedVarianceCalculator()
    calculator.add_batch(reconstructions.detach(), inputs.detach())
    return calculator.compute()


@torch.no_grad()
def firing_rates(sae: SAE, activations: np.ndarray | torch.Tensor, batch_size: int = 8192) -> np.ndarray:
    """Fraction of rows of `activations` on which each latent of `sae` is > 0."""
    counts = torch.zeros(sae.cfg.d_sae, dtype=torch.float64)
    for chunk in activation_chunks(activations, batch_size):
        counts += (sae.encode(chunk.to(sae.device)) > 0).sum(0).cpu().double()
    return (counts / len(activations)).numpy()


@dataclass(frozen=True)
class SAEEvaluation:
    """Sparsity and reconstruction of an SAE over a set of activations."""

    firing_rates: np.ndarray  # fraction of rows on which each latent is > 0
    l0: float  # mean number of latents > 0 per row
    mse: float  # mean over rows of the summed squared reconstruction error
    explained_variance: float  # 1 - mse / (mean over rows of the summed squared deviation from the mean row)

    @property
    def dead_share(self) -> float:
        """Share of latents that never fired on these rows."""
        return float((self.firing_rates == 0).mean())

    def summary(self) -> dict[str, float]:
        """The scalar metrics, for tables and the run cache."""
        return {"l0": self.l0, "mse": self.mse, "explained_variance": self.explained_variance,
                "dead_share": self.dead_share}


@torch.no_grad()
def evaluate_sae(sae: SAE, activations: np.ndarray | torch.Tensor, batch_size: int = 8192) -> SAEEvaluation:
    """Firing rates, L0, MSE and explained variance of `sae` on `activations`, in one streaming pass."""
    n, counts = len(activations), torch.zeros(sae.cfg.d_sae, dtype=torch.float64)
    calculator = ExplainedVarianceCalculator()
    for chunk in activation_chunks(activations, batch_size):
        chunk = chunk.to(sae.device)
        codes = sae.encode(chunk)
        counts += (codes > 0).sum(0).cpu().double()
        calculator.add_batch(sae.decode(codes), chunk)
    rates = (counts / n).numpy()
    return SAEEvaluation(rates, float(rates.sum()), calculator.sum_squared_residual / n, calculator.compute())


def never_firing_share(sae: SAE, activations: np.ndarray | torch.Tensor, batch_size: int = 8192) -> float:
    """Share of the latents of `sae` that fire on none of the rows of `activations`."""
    return float((firing_rates(sae, activations, batch_size) == 0).mean())
