"""A Matryoshka L1 SAE with fixed nested prefixes, registered with sae-lens as "matryoshka_fixed".

Chanin's simplified Matryoshka (003 comments): no prefix sampling, no latent permutation, no log of the losses.
With prefixes m_1 < ... < m_K = d_sae the loss is

    sum_k  MSE(x, b_dec + sum_{i < m_k} f_i W_dec_i)  +  l1 * sum_i |f_i| ||W_dec_i||

(one L1 term over all latents). sae-lens's own Matryoshka is BatchTopK-based, which Chanin avoided in this toy
("it's not obvious what K to pick"), hence this L1 variant. At inference it is sae-lens's standard SAE under the
architecture name "matryoshka_fixed".
"""

from dataclasses import dataclass, field
from itertools import pairwise

import torch
from sae_lens.saes.sae import SAEConfig, TrainStepInput, TrainStepOutput
from sae_lens.saes.standard_sae import StandardSAE, StandardSAEConfig, StandardTrainingSAE, StandardTrainingSAEConfig
from typing_extensions import override

from saelib.params import ParameterError

ARCHITECTURE = "matryoshka_fixed"


@dataclass
class MatryoshkaFixedSAEConfig(StandardSAEConfig):
    """Inference config: at inference the nested losses are gone and the SAE is sae-lens's standard one."""

    @override
    @classmethod
    def architecture(cls) -> str:
        return ARCHITECTURE


class MatryoshkaFixedSAE(StandardSAE):
    """Inference SAE: sae-lens's standard encoder/decoder."""


@dataclass
class MatryoshkaFixedTrainingSAEConfig(StandardTrainingSAEConfig):
    """sae-lens's standard L1 SAE config plus the nested prefix widths (strictly increasing, last = d_sae)."""

    matryoshka_widths: list[int] = field(default_factory=list)

    @override
    def __post_init__(self):
        widths = list(self.matryoshka_widths)
        if not widths or any(isinstance(w, bool) or not isinstance(w, int) for w in widths):
            raise ParameterError("matryoshka_widths", "must be a non-empty list of integers", widths)
        if widths[0] < 1 or any(b <= a for a, b in pairwise(widths)):
            raise ParameterError("matryoshka_widths", "must be positive and strictly increasing", widths)
        if widths[-1] != self.d_sae:
            raise ParameterError("matryoshka_widths", f"the last prefix must be d_sae={self.d_sae}", widths)
        super().__post_init__()

    @override
    @classmethod
    def architecture(cls) -> str:
        return ARCHITECTURE

    @override
    def get_inference_config_class(self) -> type[SAEConfig]:
        return MatryoshkaFixedSAEConfig


def prefix_reconstructions(feature_acts: torch.Tensor, W_dec: torch.Tensor, b_dec: torch.Tensor,
                           widths: list[int]) -> list[torch.Tensor]:
    """b_dec + the contribution of latents [0, m) for each prefix width m."""
    return [feature_acts[..., :m] @ W_dec[:m] + b_dec for m in widths]


class MatryoshkaFixedTrainingSAE(StandardTrainingSAE):
    """sae-lens's standard L1 training SAE plus one reconstruction loss per inner prefix."""

    cfg: MatryoshkaFixedTrainingSAEConfig  # type: ignore[assignment]

    @override
    def training_forward_pass(self, step_input: TrainStepInput) -> TrainStepOutput:
        output = super().training_forward_pass(step_input)  # full-width MSE + L1
        inner = self.cfg.matryoshka_widths[:-1]
        recons = prefix_reconstructions(output.feature_acts, self.W_dec, self.b_dec, inner)
        for width, recon in zip(inner, recons, strict=True):
            loss = self.mse_loss_fn(recon, step_input.sae_in).sum(dim=-1).mean()
            output.losses[f"inner_mse_loss_{width}"] = loss
            output.loss = output.loss + loss
        return output

