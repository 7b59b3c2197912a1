"""Many tiny independent L1 SAEs trained at once as one tensor program (a leading "runs" dimension on every tensor).

Each run is sae-lens's standard training SAE with its decoder bias fixed at 0: the same initialisation (kaiming-
uniform decoder rows of norm 0.1, W_enc = W_dec.T, b_enc = 0), the same loss (MSE summed over dimensions +
l1 * sum_i f_i ||W_dec_i||, both averaged over the batch), Adam(0.9, 0.999), plus optional decoder-cosine
penalties (`saelib.saes.orthogonal.decoder_cosine_penalty`) with a per-run weight. Unlike sae-lens's trainer
there is no gradient-norm clipping: a norm shared across the stack would couple the runs. Runs are independent:
the summed loss gives each run's parameters exactly its own gradient, and Adam acts element-wise.
"""

from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from saelib.saes.init import sae_lens_decoder_rows
from saelib.saes.orthogonal import decoder_cosine_penalty


def stacked_init(n_runs: int, d_in: int, d_sae: int, generator: torch.Generator,
                 init_norm: float = 0.1) -> dict[str, torch.Tensor]:
    """sae-lens-initialised W_enc [runs, d_in, d_sae], W_dec [runs, d_sae, d_in], b_enc [runs, 1, d_sae]."""
    W_dec = sae_lens_decoder_rows(n_runs * d_sae, d_in, generator, init_norm).view(n_runs, d_sae, d_in)
    return {"W_enc": W_dec.transpose(1, 2).clone().requires_grad_(), "W_dec": W_dec.clone().requires_grad_(),
            "b_enc": torch.zeros(n_runs, 1, d_sae, requires_grad=True)}


def stacked_encode(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Latent activations [runs, batch, d_sae] of inputs x [runs, batch, d_in], each run through its own SAE."""
    return torch.relu(x @ params["W_enc"] + params["b_enc"])


def stacked_loss(params: dict[str, torch.Tensor], x: torch.Tensor, l1: torch.Tensor,
                 ortho: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-run loss [runs]: MSE + l1 [runs] * W_dec-norm-weighted L1 + sum over `ortho` of weight [runs] * penalty."""
    f = stacked_encode(params, x)
    mse = (f @ params["W_dec"] - x).pow(2).sum(-1).mean(-1)
    sparsity = (f * params["W_dec"].norm(dim=-1).unsqueeze(1)).sum(-1).mean(-1)
    loss = mse + l1 * sparsity
    for penalty, weight in ortho.items():
        loss = loss + weight * decoder_cosine_penalty(params["W_dec"], penalty)
    return loss


@torch.no_grad()
def redraw_dead_stacked(params: dict[str, torch.Tensor], probe: torch.Tensor, generator: torch.Generator,
                        tries: int = 50) -> None:
    """Redraw (decoder row and encoder column) every latent of every run silent on probe [runs, n, d_in]."""
    n_runs, d_sae, d_in = params["W_dec"].shape
    for _ in range(tries):
        dead = (stacked_encode(params, probe) > 0).float().mean(1) == 0  # [runs, d_sae]
        if not dead.any():
            return
        fresh = stacked_init(n_runs, d_in, d_sae, generator)["W_dec"]
        params["W_dec"].data = torch.where(dead.unsqueeze(-1), fresh, params["W_dec"].data)
        params["W_enc"].data = torch.where(dead.unsqueeze(1), fresh.transpose(1, 2), params["W_enc"].data)


def train_stacked(sample: Callable[[int], torch.Tensor], n_runs: int, d_in: int, d_sae: int, l1: torch.Tensor,
                  ortho: dict[str, torch.Tensor], steps: int, batch_size: int, lr: float,
                  generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Train `n_runs` independent SAEs on `sample(batch_size)` -> [runs, batch, d_in]; return their parameters."""
    params = stacked_init(n_runs, d_in, d_sae, generator)
    redraw_dead_stacked(params, sample(4096), generator)  # start every latent alive, as `train_toy` does
    optimizer = torch.optim.Adam(params.values(), lr=lr, betas=(0.9, 0.999))
    for _ in tqdm(range(steps), desc="stacked SAEs"):
        loss = stacked_loss(params, sample(batch_size), l1, ortho)
        optimizer.zero_grad()
        loss.sum().backward()
        optimizer.step()
    return {name: value.detach() for name, value in params.items()}
