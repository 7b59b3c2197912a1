"""An MLP-only residual network on pairs of one-hot inputs, with a logit lens and per-layer gradient norms.

The model of "Some additional SAE thoughts" (Hoagy Cunningham, 2024), section "The problem of multilayer
features": two one-hot vectors (vocabulary V each, so a 2V-d input) are projected by a learned linear map to
the residual width d, pass through L residual MLP blocks (pre-LayerNorm, GELU, hidden width d_mlp) and are
unembedded to the targets. The logit lens reads the residual stream after every layer through the final
LayerNorm and the unembedding.
"""

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.func import functional_call, grad, vmap
from tqdm.auto import tqdm

from saelib.params import check_int, check_positive


class MLPBlock(nn.Module):
    """One residual block: x + W_out GELU(W_in LayerNorm(x))."""

    def __init__(self, d_model: int, d_mlp: int):
        super().__init__()
        self.ln = nn.LayerNorm(d_model)
        self.w_in = nn.Linear(d_model, d_mlp)
        self.w_out = nn.Linear(d_mlp, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The residual stream after this block."""
        return x + self.w_out(nn.functional.gelu(self.w_in(self.ln(x))))


class ResidualMLP(nn.Module):
    """Two one-hot inputs -> projection to d -> L residual MLP blocks -> final LayerNorm -> unembedding."""

    def __init__(self, vocab_size: int, d_model: int, n_layers: int, n_targets: int,
                 d_mlp: int | None = None):
        super().__init__()
        d_mlp = d_model if d_mlp is None else d_mlp
        check_int("vocab_size", vocab_size, minimum=2)
        check_int("d_model", d_model, minimum=1)
        check_int("n_layers", n_layers, minimum=1)
        check_int("n_targets", n_targets, minimum=2)
        check_int("d_mlp", d_mlp, minimum=1)
        self.vocab_size = vocab_size
        self.embed = nn.Linear(2 * vocab_size, d_model)
        self.blocks = nn.ModuleList(MLPBlock(d_model, d_mlp) for _ in range(n_layers))
        self.ln_final = nn.LayerNorm(d_model)
        self.unembed = nn.Linear(d_model, n_targets)

    @property
    def n_layers(self) -> int:
        """Number of residual MLP blocks."""
        return len(self.blocks)

    def embed_pairs(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The learned projection of the 2V-d two-hot input [one_hot(a), one_hot(b)], by column lookup."""
        weight = self.embed.weight
        return weight[:, a].T + weight[:, self.vocab_size + b].T + self.embed.bias

    def residual_stream(self, a: torch.Tensor, b: torch.Tensor) -> list[torch.Tensor]:
        """The residual stream after the embedding and after each block: L + 1 tensors [n, d]."""
        streams = [self.embed_pairs(a, b)]
        for block in self.blocks:
            streams.append(block(streams[-1]))
        return streams

    def readout(self, resid: torch.Tensor) -> torch.Tensor:
        """Logits of a residual-stream state: unembed(LayerNorm(resid))."""
        return self.unembed(self.ln_final(resid))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Logits [n, n_targets] for the pairs (a, b)."""
        return self.readout(self.residual_stream(a, b)[-1])


def random_pair_dataset(n_pairs: int, vocab_size: int, n_targets: int, seed: int
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`n_pairs` distinct pairs (a, b) drawn uniformly from V x V, each with an independent random target."""
    check_int("vocab_size", vocab_size, minimum=2)
    check_int("n_targets", n_targets, minimum=2)
    check_int("n_pairs", n_pairs, minimum=1, maximum=vocab_size**2)
    rng = np.random.default_rng(seed)
    flat = rng.choice(vocab_size**2, size=n_pairs, replace=False)
    targets = rng.integers(0, n_targets, size=n_pairs)
    return (torch.as_tensor(flat // vocab_size), torch.as_tensor(flat % vocab_size), torch.as_tensor(targets))


def train_residual_mlp(model: ResidualMLP, a: torch.Tensor, b: torch.Tensor, targets: torch.Tensor,
                       n_steps: int, batch_size: int, lr: float, seed: int, record_every: int = 50) -> pd.DataFrame:
    """Train with Adam on cross-entropy over shuffled minibatches, cosine-decayed lr; return the loss history."""
    check_int("n_steps", n_steps, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    check_positive("lr", lr)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_steps)
    n = len(targets)
    order, cursor, rows = torch.randperm(n, generator=generator), 0, []
    model.train()
    for step in tqdm(range(n_steps), desc=f"training on {n} pairs"):
        if cursor + batch_size > n:
            order, cursor = torch.randperm(n, generator=generator), 0
        idx = order[cursor:cursor + batch_size]
        cursor += batch_size
        loss = nn.functional.cross_entropy(model(a[idx], b[idx]), targets[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % record_every == 0 or step == n_steps - 1:
            rows.append({"step": step + 1, "loss": loss.item()})
    model.eval()
    return pd.DataFrame(rows)


@torch.no_grad()
def logit_lens(model: ResidualMLP, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Logits read out after the embedding and after each block: [L + 1, n, n_targets]."""
    return torch.stack([model.readout(resid) for resid in model.residual_stream(a, b)])


def logit_lens_loss(model: ResidualMLP, a: torch.Tensor, b: torch.Tensor,
                    targets: torch.Tensor) -> torch.Tensor:
    """Per-datapoint cross-entropy of the logit-lens readout after each layer: [L + 1, n]."""
    logits = logit_lens(model, a, b)
    log_probs = torch.log_softmax(logits, dim=-1)
    return -log_probs.gather(-1, targets.expand(logits.shape[0], -1).unsqueeze(-1)).squeeze(-1)


def block_weight_names(model: ResidualMLP) -> list[list[str]]:
    """Per block, the names of its weight matrices (W_in and W_out; biases and LayerNorm gains excluded)."""
    return [[f"blocks.{i}.w_in.weight", f"blocks.{i}.w_out.weight"] for i in range(model.n_layers)]


def correct_logit_grad_norms(model: ResidualMLP, a: torch.Tensor, b: torch.Tensor, targets: torch.Tensor,
                             chunk_size: int = 256) -> torch.Tensor:
    """Per datapoint and block, the norm of d(logit of the correct target)/d(block weights): [n, L].

    The gradient is of the correct output's logit (not the loss), per datapoint, with respect to the block's
    W_in and W_out together (Frobenius norm of the pair).
    """
    names = [name for block in block_weight_names(model) for name in block]
    all_params = dict(model.named_parameters())
    weights = {name: all_params[name].detach() for name in names}
    frozen = {name: p.detach() for name, p in all_params.items() if name not in weights}

    def correct_logit(w: dict[str, torch.Tensor], ai: torch.Tensor, bi: torch.Tensor, ti: torch.Tensor):
        logits = functional_call(model, {**frozen, **w}, (ai.unsqueeze(0), bi.unsqueeze(0)))
        return logits[0].gather(0, ti.unsqueeze(0))[0]

    per_sample_grad = vmap(grad(correct_logit), in_dims=(None, 0, 0, 0), chunk_size=chunk_size)
    per_sample = per_sample_grad(weights, a, b, targets)
    squared = torch.stack([sum(per_sample[name].pow(2).flatten(1).sum(1) for name in block)
                           for block in block_weight_names(model)], dim=1)
    return squared.sqrt()
