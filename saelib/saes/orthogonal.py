"""An L1 SAE with Till's orthogonality penalty on decoder directions, registered with sae-lens as "orthogonal".

loss = MSE + l1 * sum_i |f_i| ||W_dec_i||  (sae-lens's standard SAE)  +  ortho_coefficient * sum_{i<j} g(cos_ij)

where cos_ij is the cosine between decoder rows i and j (the decoder, not the encoder: Till, following Nanda,
expects the decoder to carry the feature directions). g is the post's plain |cos| ("abs"), or a form that is
lenient on small and harsh on high cosines ("log_barrier": -log(1 - cos^2), ~cos^2 near 0 and unbounded as
|cos| -> 1); the post's own harsher curve is an image that did not survive, so this one is our choice.

Which pairs: "all" (the post: every pair), or "active": only pairs of latents that both fired in the batch (the
000 comments: Riggs asks whether the cosine penalty should cover only the features that activate, so that it does
not trade off against L1 and MSE where it needs not; a latent that is dead then feels no penalty at all). Till's
amendment, that an inactive latent must still be pushed when it is the nearest neighbour of an active one, differs
from "all" only for pairs of two silent latents, so it is not a third option here.
"""

from dataclasses import dataclass

import torch
from sae_lens.saes.sae import SAEConfig, TrainStepInput
from sae_lens.saes.standard_sae import StandardSAE, StandardSAEConfig, StandardTrainingSAE, StandardTrainingSAEConfig
from typing_extensions import override

from saelib.params import check_choice, check_range

ARCHITECTURE = "orthogonal"
PENALTIES = ("abs", "log_barrier")
SCOPES = ("all", "active")
_MAX_COS_SQUARED = 1 - 1e-6  # keeps -log(1 - cos^2) finite for (numerically) parallel directions


def pair_cosines(W_dec: torch.Tensor) -> torch.Tensor:
    """Cosines between every pair i < j of rows of W_dec [..., n, d], flattened to [..., n(n-1)/2]."""
    unit = W_dec / W_dec.norm(dim=-1, keepdim=True).clamp(min=1e-8)
    cos = unit @ unit.transpose(-1, -2)
    i, j = torch.triu_indices(W_dec.shape[-2], W_dec.shape[-2], offset=1, device=W_dec.device)
    return cos[..., i, j]


def active_pairs(fired: torch.Tensor) -> torch.Tensor:
    """For latents that fired or not [..., n] (bool), whether both latents of each pair i < j fired, flattened like
    `pair_cosines` to [..., n(n-1)/2]."""
    i, j = torch.triu_indices(fired.shape[-1], fired.shape[-1], offset=1, device=fired.device)
    return fired[..., i] & fired[..., j]


def decoder_cosine_penalty(W_dec: torch.Tensor, penalty: str, pairs: torch.Tensor | None = None) -> torch.Tensor:
    """Sum over pairs of decoder rows of g(cos): g = |cos| ("abs") or -log(1 - cos^2) ("log_barrier"); leading
    dimensions of W_dec [..., n, d] are kept (one penalty per stacked SAE). `pairs` (bool, shaped like
    `pair_cosines`' output) keeps only those pairs; None keeps every pair."""
    check_choice("penalty", penalty, PENALTIES)
    cos = pair_cosines(W_dec)
    if penalty == "abs":
        terms = cos.abs()
    else:
        terms = -torch.log1p(-cos.pow(2).clamp(max=_MAX_COS_SQUARED))
    if pairs is not None:
        terms = terms * pairs.to(terms.dtype)
    return terms.sum(-1)


@dataclass
class OrthogonalSAEConfig(StandardSAEConfig):
    """Inference config: at inference the penalty is gone and the SAE is sae-lens's standard one."""

    @override
    @classmethod
    def architecture(cls) -> str:
        return ARCHITECTURE


class OrthogonalSAE(StandardSAE):
    """Inference SAE: sae-lens's standard encoder/decoder."""


@dataclass
class OrthogonalTrainingSAEConfig(StandardTrainingSAEConfig):
    """sae-lens's standard L1 SAE config plus the decoder-cosine penalty's weight, form and pairs."""

    ortho_coefficient: float = 0.0
    ortho_penalty: str = "abs"
    ortho_scope: str = "all"

    @override
    def __post_init__(self):
        check_choice("ortho_penalty", self.ortho_penalty, PENALTIES)
        check_choice("ortho_scope", self.ortho_scope, SCOPES)
        check_range("ortho_coefficient", self.ortho_coefficient, minimum=0.0)
        super().__post_init__()

    @override
    @classmethod
    def architecture(cls) -> str:
        return ARCHITECTURE

    @override
    def get_inference_config_class(self) -> type[SAEConfig]:
        return OrthogonalSAEConfig


class OrthogonalTrainingSAE(StandardTrainingSAE):
    """sae-lens's standard L1 training SAE with `decoder_cosine_penalty` added as the loss term "ortho_loss"."""

    cfg: OrthogonalTrainingSAEConfig  # type: ignore[assignment]

    @override
    def calculate_aux_loss(self, step_input: TrainStepInput, feature_acts: torch.Tensor, hidden_pre: torch.Tensor,
                           sae_out: torch.Tensor) -> dict[str, torch.Tensor]:
        losses = super().calculate_aux_loss(step_input, feature_acts, hidden_pre, sae_out)
        pairs = active_pairs((feature_acts > 0).any(0)) if self.cfg.ortho_scope == "active" else None
        penalty = decoder_cosine_penalty(self.W_dec, self.cfg.ortho_penalty, pairs)
        losses["ortho_loss"] = self.cfg.ortho_coefficient * penalty
        return losses
