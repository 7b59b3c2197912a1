"""The L1 reference of post 001 (Eoin Farrell): Joseph Bloom's GPT-2 small residual-stream SAEs, registered with
sae-lens as architecture "reference_l1".

Their recipe (the released model card, jbloom/GPT2-Small-SAEs, and its code, mats_sae_training's
`SparseAutoencoder`): an untied initialisation, W_enc drawn by `kaiming_uniform_` on its [d_in, d_sae] tensor and
W_dec by `kaiming_uniform_` on [d_sae, d_in] with every row then scaled to unit norm, b_enc = 0; unit-norm decoder
rows throughout training (the gradient's radial part removed); a plain L1 penalty on the codes; and a "tied decoder
bias initialised at the geometric median" of the training activations, subtracted from the input before encoding
(the pre-encoder bias). The decoder and the penalty are saelib's `unit_norm` SAE (this class subclasses it, so the
fast trainer trains it); the initialisation is this module's, and `b_dec_init="geometric_median"` asks the run
cache (`saelib.runs`), which holds the training activations, to set b_dec at their geometric median
(`geometric_median`, Weiszfeld's algorithm) before the first step. Not here: ghost gradients (the reference used
them against dead latents) and the reference's MSE normalised by the input norm (saelib sums the squared error
over dimensions, as sae-lens does).
"""

from dataclasses import dataclass

import torch
from sae_lens.saes.sae import SAEConfig
from sae_lens.saes.standard_sae import StandardTrainingSAE
from typing_extensions import override

from saelib.params import check_choice
from saelib.saes.unit_norm import UnitNormSAE, UnitNormSAEConfig, UnitNormTrainingSAE, UnitNormTrainingSAEConfig

ARCHITECTURE = "reference_l1"
B_DEC_INITS = ("zeros", "geometric_median")


@dataclass
class ReferenceL1SAEConfig(UnitNormSAEConfig):
    """Inference config (the unit-norm SAE's fields)."""

    @override
    @classmethod
    def architecture(cls) -> str:
        return ARCHITECTURE


class ReferenceL1SAE(UnitNormSAE):
    """Inference SAE: the standard encoder/decoder with the unit-norm rows it was saved with."""


@dataclass
class ReferenceL1TrainingSAEConfig(UnitNormTrainingSAEConfig):
    """Training config: `l1_coefficient` on the plain L1 norm of the codes; `b_dec_init` "geometric_median" (the
    reference) or "zeros". The unit-norm SAE's `init` option is not read: the initialisation is the reference's."""

    b_dec_init: str = "geometric_median"

    def __post_init__(self):
        super().__post_init__()
        check_choice("b_dec_init", self.b_dec_init, B_DEC_INITS)

    @override
    @classmethod
    def architecture(cls) -> str:
        return ARCHITECTURE

    @override
    def get_inference_config_class(self) -> type[SAEConfig]:
        return ReferenceL1SAEConfig


def kaiming_uniform(rows: int, columns: int) -> torch.Tensor:
    """`nn.init.kaiming_uniform_` on a [rows, columns] tensor (fan_in = columns, gain √2): uniform on ±√(6/columns)."""
    return torch.nn.init.kaiming_uniform_(torch.empty(rows, columns))


def reference_weights(d_in: int, d_sae: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(W_enc [d_in, d_sae], W_dec [d_sae, d_in]) as the reference draws them: untied kaiming-uniform, decoder rows
    at unit norm."""
    W_enc = kaiming_uniform(d_in, d_sae)
    W_dec = kaiming_uniform(d_sae, d_in)
    return W_enc, W_dec / W_dec.norm(dim=1, keepdim=True)


@torch.no_grad()
def initialize_reference_weights(sae: StandardTrainingSAE) -> None:
    """Overwrite W_enc, W_dec and b_enc of `sae` with the reference's untied draw (b_enc = 0); b_dec is left alone."""
    W_enc, W_dec = reference_weights(sae.cfg.d_in, sae.cfg.d_sae)
    sae.W_enc.copy_(W_enc)
    sae.W_dec.copy_(W_dec)
    sae.b_enc.zero_()


@torch.no_grad()
def geometric_median(points: torch.Tensor, max_iter: int = 100, tol: float = 1e-6) -> torch.Tensor:
    """The point minimising the summed Euclidean distance to the rows of `points` [n, d], by Weiszfeld's algorithm
    from the mean (float64; a step that lands on a data point keeps it, distances clamped at 1e-12)."""
    x = points.double()
    median = x.mean(0)
    for _ in range(max_iter):
        weights = 1 / torch.linalg.vector_norm(x - median, dim=1).clamp(min=1e-12)
        updated = (weights[:, None] * x).sum(0) / weights.sum()
        moved = torch.linalg.vector_norm(updated - median).item()
        median = updated
        if moved <= tol * max(1.0, torch.linalg.vector_norm(median).item()):
            break
    return median.to(points.dtype)


class ReferenceL1TrainingSAE(UnitNormTrainingSAE):
    """The unit-norm L1 SAE with the reference's untied initialisation (b_dec at zero until the run cache sets it)."""

    cfg: ReferenceL1TrainingSAEConfig  # type: ignore[assignment]

    @override
    def initialize_weights(self) -> None:
        StandardTrainingSAE.initialize_weights(self)
        initialize_reference_weights(self)
        if not self.cfg.decoder_bias:
            self.b_dec.requires_grad_(False)
