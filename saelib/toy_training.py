"""Training helpers for toy SAEs on pre-sampled activation pools: minibatches, sae-lens-style initial decoder rows,
starting every latent alive, one run through sae-lens's trainer, and firing rates.
"""

import math
from collections.abc import Iterator

import torch
from sae_lens.saes.sae import TrainingSAE

from saelib.training import TrainedSAE, train_sae


def pool_batches(pool: torch.Tensor, batch_size: int, seed: int) -> Iterator[torch.Tensor]:
    """Endless minibatches drawn with replacement from a fixed pool of rows, reproducible from `seed`."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        yield pool[torch.randint(len(pool), (batch_size,), generator=generator)]


def sae_lens_init_rows(n: int, d_in: int, generator: torch.Generator, init_norm: float = 0.1) -> torch.Tensor:
    """`n` decoder rows drawn as sae-lens's TrainingSAE does (kaiming-uniform, rescaled to norm `init_norm`)."""
    bound = math.sqrt(6 / d_in)
    rows = torch.rand(n, d_in, generator=generator) * 2 * bound - bound
    return rows / rows.norm(dim=-1, keepdim=True) * init_norm


@torch.no_grad()
def redraw_dead_latents(sae: TrainingSAE, probe: torch.Tensor, seed: int, tries: int = 50) -> None:
    """Redraw the W_dec row (and, if untied, W_enc column) of every latent silent on `probe`, until none is."""
    generator = torch.Generator().manual_seed(seed)
    tied = not isinstance(sae.W_enc, torch.nn.Parameter)
    for _ in range(tries):
        dead = (sae.encode(probe) > 0).float().mean(0) == 0
        if not dead.any():
            return
        rows = sae_lens_init_rows(sae.cfg.d_sae, sae.cfg.d_in, generator, sae.cfg.decoder_init_norm)
        sae.W_dec.data[dead] = rows[dead]
        if not tied:
            sae.W_enc.data[:, dead] = rows[dead].T


def train_toy(sae: TrainingSAE, pool: torch.Tensor, seed: int, steps: int, batch_size: int, lr: float,
              device: torch.device | str | None = None) -> TrainedSAE:
    """Train a toy SAE on `pool` with sae-lens's trainer: decoder bias frozen at 0, every latent alive at the start."""
    torch.manual_seed(seed)
    sae.b_dec.requires_grad_(False)
    redraw_dead_latents(sae, pool[:4096], seed)
    return train_sae(sae, pool_batches(pool, batch_size, seed), n_samples=steps * batch_size, batch_size=batch_size,
                     lr=lr, device=device, record_every=max(1, steps // 4))


@torch.no_grad()
def firing_rates(sae: TrainingSAE, x: torch.Tensor) -> torch.Tensor:
    """Fraction of the rows of `x` on which each latent is positive."""
    return (sae.encode(x) > 0).float().mean(0)
