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



def pytorch_linear_init(in_features: int, out_features: int, generator: torch.Generator | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight [out, in], bias [out]) as PyTorch's `nn.Linear(in, out)` draws them: kaiming-uniform with a = √5 and
    a bias, both uniform on ±1/√in (the untied encoder of post 004's code, HoagyC/sparse_coding run.py L353)."""
    weight = torch.empty(out_features, in_features)
    torch.nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    bound = 1 / math.sqrt(in_features)
    bias = torch.empty(out_features).uniform_(-bound, bound, generator=generator)
    return weight, bias


def orthogonal_unit_decoder(n: int, d_in: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """`n` decoder rows [n, d_in] as post 004's code draws them: `nn.init.orthogonal_` on the [d_in, n] decoder
    weight (HoagyC/sparse_coding run.py L350), then every dictionary element scaled to unit norm, as its forward
    pass does before the first decoding (L361)."""
    weight = torch.nn.init.orthogonal_(torch.empty(d_in, n), generator=generator)
    return (weight / weight.norm(dim=0, keepdim=True)).T.contiguous()
