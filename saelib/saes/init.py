"""Weight initialisation helpers, in one place: every hand-built SAE (tied, stacked, the fast trainer's, the toys'
redraw of dead latents) draws its weights here."""

import math

import torch


def sae_lens_decoder_rows(n: int, d_in: int, generator: torch.Generator | None = None,
                          init_norm: float | None = 0.1) -> torch.Tensor:
    """`n` decoder rows [n, d_in] as sae-lens's TrainingSAE draws them: kaiming-uniform, each row rescaled to
    `init_norm` (sae-lens's `decoder_init_norm`; None keeps the raw kaiming rows)."""
    bound = math.sqrt(6 / d_in)  # nn.init.kaiming_uniform_ on a [n, d_in] tensor: fan_in = d_in, gain √2
    rows = torch.rand(n, d_in, generator=generator) * 2 * bound - bound
    if init_norm is None:
        return rows
    return rows / rows.norm(dim=-1, keepdim=True) * init_norm

