"""An L1 SAE whose encoder is the transpose of its decoder, registered with sae-lens as "tied".

Only W_dec, b_enc and b_dec are parameters; `W_enc` is the view W_dec.T, so every gradient step moves both
together. The loss is sae-lens's standard one (MSE + l1 * sum_i |f_i| ||W_dec_i||). At inference it is a
standard SAE (the inference state dict materialises W_enc).
"""

from dataclasses import dataclass
from typing import Any

import torch
from sae_lens import register_sae_training_class
from sae_lens.registry import SAE_TRAINING_CLASS_REGISTRY
from sae_lens.saes.sae import SAEConfig
from sae_lens.saes.standard_sae import StandardSAEConfig, StandardTrainingSAE, StandardTrainingSAEConfig
from torch import nn

ARCHITECTURE = "tied"


@dataclass
class TiedTrainingSAEConfig(StandardTrainingSAEConfig):
    """sae-lens's standard L1 SAE config; the architecture name marks the tied weights."""

    @classmethod
    def architecture(cls) -> str:
        return ARCHITECTURE

    def get_inference_config_class(self) -> type[SAEConfig]:
        """At inference a tied SAE is a standard SAE with W_enc = W_dec.T."""
        return StandardSAEConfig


class TiedTrainingSAE(StandardTrainingSAE):
    """sae-lens's standard L1 training SAE with W_enc tied to W_dec.T."""

    cfg: TiedTrainingSAEConfig  # type: ignore[assignment]

    def initialize_weights(self) -> None:
        # sae-lens's initialisation (kaiming-uniform rows scaled to decoder_init_norm), without a separate W_enc
        w_dec = torch.empty(self.cfg.d_sae, self.cfg.d_in, dtype=self.dtype, device=self.device)
        nn.init.kaiming_uniform_(w_dec)
        if self.cfg.decoder_init_norm is not None:
            w_dec = w_dec / w_dec.norm(dim=-1, keepdim=True) * self.cfg.decoder_init_norm
        self.W_dec = nn.Parameter(w_dec)
        self.b_dec = nn.Parameter(torch.zeros(self.cfg.d_in, dtype=self.dtype, device=self.device))
        self.b_enc = nn.Parameter(torch.zeros(self.cfg.d_sae, dtype=self.dtype, device=self.device))

    @property
    def W_enc(self) -> torch.Tensor:  # type: ignore[override]
        """The encoder: a view of the decoder's transpose."""
        return self.W_dec.T

    def process_state_dict_for_saving_inference(self, state_dict: dict[str, Any]) -> None:
        state_dict["W_enc"] = self.W_dec.detach().T.clone().contiguous()


if ARCHITECTURE not in SAE_TRAINING_CLASS_REGISTRY:
    register_sae_training_class(ARCHITECTURE, TiedTrainingSAE, TiedTrainingSAEConfig)
