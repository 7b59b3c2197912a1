"""An L1 SAE whose encoder is the transpose of its decoder, registered with sae-lens as "tied".

Only W_dec, b_enc and b_dec are parameters; `W_enc` is the view W_dec.T, so every gradient step moves both
together. The loss is sae-lens's standard one (MSE + l1 * sum_i |f_i| ||W_dec_i||). The saved weights carry the
materialised W_enc, so the inference SAE is sae-lens's standard one under the architecture name "tied".
"""

from dataclasses import dataclass
from typing import Any

from sae_lens.saes.sae import SAEConfig
from sae_lens.saes.standard_sae import StandardSAE, StandardSAEConfig, StandardTrainingSAE, StandardTrainingSAEConfig
from torch import nn
from typing_extensions import override

from saelib.saes.init import sae_lens_decoder_rows

ARCHITECTURE = "tied"


@dataclass
class TiedSAEConfig(StandardSAEConfig):
    """Inference config: a standard SAE whose saved W_enc is the decoder's transpose."""

    @override
    @classmethod
    def architecture(cls) -> str:
        return ARCHITECTURE


class TiedSAE(StandardSAE):
    """Inference SAE: sae-lens's standard encoder/decoder, loaded with W_enc = W_dec.T."""


@dataclass
class TiedTrainingSAEConfig(StandardTrainingSAEConfig):
    """sae-lens's standard L1 SAE config; the architecture name marks the tied weights."""

    @override
    @classmethod
    def architecture(cls) -> str:
        return ARCHITECTURE

    @override
    def get_inference_config_class(self) -> type[SAEConfig]:
        return TiedSAEConfig


class TiedTrainingSAE(StandardTrainingSAE):
    """sae-lens's standard L1 training SAE with W_enc tied to W_dec.T."""

    cfg: TiedTrainingSAEConfig  # type: ignore[assignment]

    @override
    def initialize_weights(self) -> None:
        rows = sae_lens_decoder_rows(self.cfg.d_sae, self.cfg.d_in, init_norm=self.cfg.decoder_init_norm)
        self.W_dec = nn.Parameter(rows.to(dtype=self.dtype, device=self.device))
        self.b_dec = nn.Parameter(rows.new_zeros(self.cfg.d_in).to(dtype=self.dtype, device=self.device))
        self.b_enc = nn.Parameter(rows.new_zeros(self.cfg.d_sae).to(dtype=self.dtype, device=self.device))

    @property
    def W_enc(self):  # type: ignore[override]
        """The encoder: a view of the decoder's transpose."""
        return self.W_dec.T

    @override
    def process_state_dict_for_saving(self, state_dict: dict[str, Any]) -> None:
        state_dict["W_enc"] = self.W_dec.detach().T.clone().contiguous()

    @override
    def process_state_dict_for_loading(self, state_dict: dict[str, Any]) -> None:
        state_dict.pop("W_enc", None)
