"""An SAE trained with a differentiable L0 approximation and a log-frequency floor (post 001, Eoin Farrell),
registered with sae-lens as architecture "l0_approx".

Loss = MSE + λ0 · L0approx + λmin · Σ_f ReLU(log10 s_min − log10 s_f), where, with w = a · ||W_dec_f||
(sae-lens's standard SAE weights its L1 penalty by decoder norms the same way; the post kept decoder rows
at unit norm, where w = a):

- L0approx = batch mean of Σ_f w/(w+ε);
- s_f's per-batch estimate is Σ_b w/(w+ε) / n_b. It cannot resolve frequencies below 1/n_b, so the VALUE
  inside the ReLU is the mean of the per-batch estimates over the last `frequency_window` training steps,
  while the GRADIENT flows through the current batch's estimate:
  s_f = running_f + (batch_f − batch_f.detach()).

`sparsity_penalty="l1"` swaps L0approx for sae-lens's standard L1 penalty (the post's "frequency term with
L1" ablation); `frequency_coefficient=0` gives "L0approx without the frequency term". There is no
pre-encoder bias (apply_b_dec_to_input=False, as in the post); everything else is sae-lens's standard SAE.
`init="reference"` draws the weights as the post's L1 reference does (`saelib.saes.reference_l1`: untied
kaiming-uniform, unit-norm decoder rows, b_enc = 0; the post started from "as similar a setup as I could to the
reference model") instead of sae-lens's tied draw at decoder norm 0.1, and `b_dec_init="geometric_median"` asks
the run cache to start b_dec (here only the decoder's output bias) at the training activations' geometric median.
The tanh arm reuses sae-lens's JumpReLU SAE with its "tanh" sparsity loss (`tanh_arm_config`).
"""

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from sae_lens.saes.jumprelu_sae import JumpReLUTrainingSAEConfig
from sae_lens.saes.sae import SAEConfig, TrainCoefficientConfig, TrainStepInput
from sae_lens.saes.standard_sae import (
    StandardSAE,
    StandardSAEConfig,
    StandardTrainingSAE,
    StandardTrainingSAEConfig,
)
from typing_extensions import override

from saelib.params import check_choice, check_int, check_open_unit, check_positive, check_range
from saelib.saes.reference_l1 import B_DEC_INITS, initialize_reference_weights

ARCHITECTURE = "l0_approx"
SPARSITY_PENALTIES = ("l0_approx", "l1")
INITS = ("sae_lens", "reference")
# s_f is clamped here before log10: a feature silent over the whole window would otherwise give log10(0)
FREQUENCY_FLOOR = 1e-10
RUNNING_STATE = ("frequency_history", "frequency_steps")


@dataclass
class L0ApproxSAEConfig(StandardSAEConfig):
    """Inference config: the standard SAE without a pre-encoder bias."""

    apply_b_dec_to_input: bool = False

    @override
    @classmethod
    def architecture(cls) -> str:
        return ARCHITECTURE


class L0ApproxSAE(StandardSAE):
    """Inference SAE: sae-lens's standard ReLU encoder/decoder (the training-only frequency buffers are dropped)."""

    @override
    def process_state_dict_for_loading(self, state_dict: dict[str, Any]) -> None:
        for name in RUNNING_STATE:
            state_dict.pop(name, None)


@dataclass
class L0ApproxTrainingSAEConfig(StandardTrainingSAEConfig):
    """Training config. λ0 = `l0_coefficient` (λ1 = `l1_coefficient` in the L1 arm), λmin =
    `frequency_coefficient`, s_min = `min_frequency`, ε = `epsilon`, n = `frequency_window` steps."""

    apply_b_dec_to_input: bool = False
    sparsity_penalty: Literal["l0_approx", "l1"] = "l0_approx"
    l0_coefficient: float = 1.0
    l0_warm_up_steps: int = 0
    epsilon: float = 0.2
    frequency_coefficient: float = 0.0
    min_frequency: float = 1e-5
    frequency_window: int = 100
    init: str = "sae_lens"  # "sae_lens" (tied, decoder norm 0.1) or "reference" (the post's L1 reference's draw)
    b_dec_init: str = "zeros"  # or "geometric_median" (set by saelib.runs from the training activations)

    @override
    def __post_init__(self):
        check_choice("sparsity_penalty", self.sparsity_penalty, SPARSITY_PENALTIES)
        check_choice("init", self.init, INITS)
        check_choice("b_dec_init", self.b_dec_init, B_DEC_INITS)
        check_positive("epsilon", self.epsilon)
        check_open_unit("min_frequency", self.min_frequency)
        check_int("frequency_window", self.frequency_window, minimum=1)
        check_range("frequency_coefficient", self.frequency_coefficient, minimum=0.0)
        super().__post_init__()

    @override
    @classmethod
    def architecture(cls) -> str:
        return ARCHITECTURE

    @override
    def get_inference_config_class(self) -> type[SAEConfig]:
        return L0ApproxSAEConfig


def soft_firing(weighted_acts: torch.Tensor, epsilon: float) -> torch.Tensor:
    """a/(a+ε) per element: the post's differentiable stand-in for the step function 1[a > 0]."""
    return weighted_acts / (weighted_acts + epsilon)


def straight_through(value: torch.Tensor, gradient_source: torch.Tensor) -> torch.Tensor:
    """A tensor equal to `value` whose gradient is that of `gradient_source`."""
    return value + (gradient_source - gradient_source.detach())


def frequency_floor_penalty(frequency: torch.Tensor, min_frequency: float) -> torch.Tensor:
    """Σ_f ReLU(log10 s_min − log10 s_f)."""
    return torch.relu(math.log10(min_frequency) - torch.log10(frequency)).sum()


class L0ApproxTrainingSAE(StandardTrainingSAE):
    """Standard ReLU SAE trained with L0approx (or L1) and the running-average frequency floor penalty."""

    cfg: L0ApproxTrainingSAEConfig  # type: ignore[assignment]

    def __init__(self, cfg: L0ApproxTrainingSAEConfig, use_error_term: bool = False):
        super().__init__(cfg, use_error_term)
        # the last `frequency_window` per-batch frequency estimates (a ring buffer) and how many were written
        history = torch.zeros(cfg.frequency_window, cfg.d_sae, dtype=self.dtype, device=self.device)
        self.register_buffer("frequency_history", history)
        self.register_buffer("frequency_steps", torch.zeros((), dtype=torch.long, device=self.device))

    @override
    def initialize_weights(self) -> None:
        super().initialize_weights()
        if self.cfg.init == "reference":
            initialize_reference_weights(self)

    @override
    def get_coefficients(self) -> dict[str, float | TrainCoefficientConfig]:
        sparsity = (
            {"l1": TrainCoefficientConfig(self.cfg.l1_coefficient, self.cfg.l1_warm_up_steps)}
            if self.cfg.sparsity_penalty == "l1"
            else {"l0": TrainCoefficientConfig(self.cfg.l0_coefficient, self.cfg.l0_warm_up_steps)}
        )
        return {**sparsity, "frequency": self.cfg.frequency_coefficient}

    @torch.no_grad()
    def record_batch_frequency(self, batch_frequency: torch.Tensor) -> None:
        """Write one per-batch frequency estimate into the ring buffer."""
        slot = int(self.frequency_steps.item()) % self.cfg.frequency_window
        self.frequency_history[slot] = batch_frequency.detach()
        self.frequency_steps += 1

    def running_frequency(self) -> torch.Tensor:
        """Mean of the recorded per-batch estimates over the last min(steps, window) steps."""
        filled = min(int(self.frequency_steps.item()), self.cfg.frequency_window)
        if filled == 0:
            raise RuntimeError("no batch frequency recorded yet")
        return self.frequency_history[:filled].mean(0)

    def frequency_estimate(self, batch_frequency: torch.Tensor) -> torch.Tensor:
        """s_f: the running average's value with the current batch estimate's gradient (records the batch)."""
        if self.training:
            self.record_batch_frequency(batch_frequency)
        running = self.running_frequency() if int(self.frequency_steps.item()) else batch_frequency.detach()
        return straight_through(running.clamp(min=FREQUENCY_FLOOR), batch_frequency)

    @override
    def calculate_aux_loss(self, step_input: TrainStepInput, feature_acts: torch.Tensor,
                           hidden_pre: torch.Tensor, sae_out: torch.Tensor) -> dict[str, torch.Tensor]:
        weighted_acts = feature_acts * self.W_dec.norm(dim=1)
        batch_frequency = soft_firing(weighted_acts, self.cfg.epsilon).mean(0)
        if self.cfg.sparsity_penalty == "l1":
            losses = super().calculate_aux_loss(step_input, feature_acts, hidden_pre, sae_out)
        else:
            # L0approx = mean_b Σ_f w/(w+ε) = Σ_f of the per-batch frequency estimate
            losses = {"l0_approx_loss": step_input.coefficients["l0"] * batch_frequency.sum()}
        frequency = self.frequency_estimate(batch_frequency)
        losses["frequency_loss"] = step_input.coefficients["frequency"] * frequency_floor_penalty(
            frequency, self.cfg.min_frequency)
        return losses

    @override
    def process_state_dict_for_saving_inference(self, state_dict: dict[str, Any]) -> None:
        super().process_state_dict_for_saving_inference(state_dict)
        for name in RUNNING_STATE:
            state_dict.pop(name, None)


def post_recipe_config(d_in: int, d_sae: int, l0_coefficient: float, frequency_coefficient: float,
                       min_frequency: float, frequency_window: int, epsilon: float = 0.2,
                       l1_coefficient: float | None = None) -> L0ApproxTrainingSAEConfig:
    """The post's L0approx recipe: the L1 reference's initialisation, b_dec started at the geometric median, no
    pre-encoder bias; `l1_coefficient` swaps L0approx for plain L1 (the post's "frequency term with L1")."""
    penalty: dict[str, Any] = (dict(sparsity_penalty="l1", l1_coefficient=l1_coefficient) if l1_coefficient
                               else dict(l0_coefficient=l0_coefficient))
    return L0ApproxTrainingSAEConfig(d_in=d_in, d_sae=d_sae, epsilon=epsilon, min_frequency=min_frequency,
                                     frequency_coefficient=frequency_coefficient, frequency_window=frequency_window,
                                     init="reference", b_dec_init="geometric_median", **penalty)


def tanh_arm_config(d_in: int, d_sae: int, l0_coefficient: float,
                    **overrides: Any) -> JumpReLUTrainingSAEConfig:
    """sae-lens's JumpReLU SAE with its "tanh" sparsity loss Σ_f tanh(c · a_f · ||W_dec_f||), without a
    pre-encoder bias: the tanh approximation of L0 reused as it exists in sae-lens."""
    settings: dict[str, Any] = dict(d_in=d_in, d_sae=d_sae, l0_coefficient=l0_coefficient,
                                    jumprelu_sparsity_loss_mode="tanh", apply_b_dec_to_input=False)
    settings.update(overrides)
    return JumpReLUTrainingSAEConfig(**settings)

