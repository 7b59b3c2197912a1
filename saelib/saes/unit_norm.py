"""An L1 SAE whose decoder rows stay at unit norm, registered with sae-lens as architecture "unit_norm".

sae-lens's "standard" SAE lets decoder norms float and weights the L1 penalty by them; the dictionaries of
post 004 (Cunningham et al.'s sparse_coding code) instead divide each decoder row by its norm in the forward
pass and put a plain L1 penalty on the codes. Here every training forward pass first rescales the stored
W_dec rows to unit norm and then decodes with W_dec / ||W_dec||: the stored rows are unit norm at every step,
and the gradient reaching W_dec has its radial part projected out. Saved weights are normalised as well, so
the inference SAE (identical to the standard one) reads unit-norm rows.

Two training-config options select post 004's own recipe (HoagyC/sparse_coding at commit 42c6231, 2023-06-16, the
code of the replication the post builds on; its `AutoEncoder`, run.py L345-364):

- `init="sparse_coding"`: the decoder drawn by `nn.init.orthogonal_` and scaled to unit-norm elements (L350, L361),
  the encoder an untied `nn.Linear` with PyTorch's default initialisation and its random bias (L353);
  `init="sae_lens"` (default): sae-lens's tied initialisation, W_enc = W_decᵀ at norm 0.1 and b_enc = 0.
- `decoder_bias=False`: no decoder bias at all (the post's decoder is `nn.Linear(..., bias=False)`, L348, and its
  input is not centred): b_dec stays at zero and is frozen, which needs `apply_b_dec_to_input=False`.
"""

from dataclasses import dataclass
from typing import Any

import torch
from sae_lens.saes.sae import SAEConfig, TrainStepInput, TrainStepOutput
from sae_lens.saes.standard_sae import (
    StandardSAE,
    StandardSAEConfig,
    StandardTrainingSAE,
    StandardTrainingSAEConfig,
)
from typing_extensions import override

from saelib.params import ParameterError, check_choice
from saelib.saes.init import orthogonal_unit_decoder, pytorch_linear_init

ARCHITECTURE = "unit_norm"
INITS = ("sae_lens", "sparse_coding")


@dataclass
class UnitNormSAEConfig(StandardSAEConfig):
    """Inference config of a unit-norm-decoder SAE (same fields as the standard SAE)."""

    @override
    @classmethod
    def architecture(cls) -> str:
        return ARCHITECTURE


class UnitNormSAE(StandardSAE):
    """Inference SAE: the standard encoder/decoder, loaded with the unit-norm rows it was saved with."""


@dataclass
class UnitNormTrainingSAEConfig(StandardTrainingSAEConfig):
    """Training config: `l1_coefficient` multiplies the plain L1 norm of the codes (decoder norms are 1); `init`
    and `decoder_bias` as in the module docstring."""

    init: str = "sae_lens"  # "sae_lens" (tied, norm 0.1) or "sparse_coding" (post 004's code)
    decoder_bias: bool = True  # False: no b_dec (frozen at zero), as in post 004's code

    def __post_init__(self):
        super().__post_init__()
        check_choice("init", self.init, INITS)
        if not self.decoder_bias and self.apply_b_dec_to_input:
            raise ParameterError("apply_b_dec_to_input", "an SAE without a decoder bias (decoder_bias=False) "
                                 "cannot centre its input on it; set apply_b_dec_to_input=False", True)

    @override
    @classmethod
    def architecture(cls) -> str:
        return ARCHITECTURE

    @override
    def get_inference_config_class(self) -> type[SAEConfig]:
        return UnitNormSAEConfig


def unit_rows(weight: torch.Tensor) -> torch.Tensor:
    """`weight` with every row divided by its L2 norm (norms clamped at 1e-8, as in sparse_coding)."""
    return weight / weight.norm(dim=-1, keepdim=True).clamp(min=1e-8)


class UnitNormTrainingSAE(StandardTrainingSAE):
    """Standard ReLU SAE trained with unit-norm decoder rows and a plain L1 penalty on the codes."""

    @override
    def initialize_weights(self) -> None:
        super().initialize_weights()
        if self.cfg.init == "sparse_coding":
            weight, bias = pytorch_linear_init(self.cfg.d_in, self.cfg.d_sae)
            with torch.no_grad():
                self.W_dec.copy_(orthogonal_unit_decoder(self.cfg.d_sae, self.cfg.d_in))
                self.W_enc.copy_(weight.T)
                self.b_enc.copy_(bias)
        self.normalize_decoder()
        if not self.cfg.decoder_bias:
            self.b_dec.requires_grad_(False)

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        """Rescale the stored W_dec rows to unit norm in place."""
        self.W_dec.data.copy_(unit_rows(self.W_dec.data))

    @override
    def decode(self, feature_acts: torch.Tensor) -> torch.Tensor:
        sae_out_pre = feature_acts @ unit_rows(self.W_dec) + self.b_dec
        sae_out_pre = self.hook_sae_recons(sae_out_pre)
        sae_out_pre = self.run_time_activation_norm_fn_out(sae_out_pre)
        return self.reshape_fn_out(sae_out_pre, self.d_head)

    @override
    def training_forward_pass(self, step_input: TrainStepInput) -> TrainStepOutput:
        self.normalize_decoder()  # undo the radial drift of the previous optimizer step
        return super().training_forward_pass(step_input)

    @override
    def calculate_aux_loss(self, step_input: TrainStepInput, feature_acts: torch.Tensor,
                           hidden_pre: torch.Tensor, sae_out: torch.Tensor) -> dict[str, torch.Tensor]:
        sparsity = feature_acts.norm(p=self.cfg.lp_norm, dim=-1)
        return {"l1_loss": (step_input.coefficients["l1"] * sparsity).mean()}

    @override
    def process_state_dict_for_saving(self, state_dict: dict[str, Any]) -> None:
        super().process_state_dict_for_saving(state_dict)
        state_dict["W_dec"] = unit_rows(state_dict["W_dec"]).contiguous()

