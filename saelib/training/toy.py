"""Training helpers for toy SAEs on pre-sampled activation pools: minibatches, starting every latent alive, and
one run through sae-lens's trainer.
"""

from collections.abc import Iterator

import torch
from sae_lens.saes.sae import TrainingSAE

from saelib.saes.init import sae_lens_decoder_rows
from saelib.training.sae_lens_trainer import TrainedSAE, train_sae


def pool_batches(pool: torch.Tensor, batch_size: int, seed: int) -> Iterator[torch.Tensor]:
    """Endless minibatches drawn with replacement from a fixed pool of rows, reproducible from `seed`."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        yield pool[torch.randint(len(pool), (batch_size,), generator=generator)]


@torch.no_grad()
def redraw_dead_latents(sae: TrainingSAE, probe: torch.Tensor, seed: int, tries: int = 50) -> None:
    """Redraw the W_dec row (and, if untied, W_enc column) of every latent silent on `probe`, until none is."""
    generator = torch.Generator().manual_seed(seed)
    tied = not isinstance(sae.W_enc, torch.nn.Parameter)
    for _ in range(tries):
        dead = (sae.encode(probe) > 0).float().mean(0) == 0
        if not dead.any():
            return
        rows = sae_lens_decoder_rows(sae.cfg.d_sae, sae.cfg.d_in, generator, sae.cfg.decoder_init_norm)
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

