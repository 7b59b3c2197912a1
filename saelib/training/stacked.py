"""Many tiny independent SAEs trained at once as one tensor program (a leading "runs" dimension on every tensor).

Each run is one of the L1 SAEs that sae-lens's trainer trains (`saelib.training.train_sae`), written out for a
stack of runs: sae-lens's standard training SAE, its tied variant (`saelib.saes.tied`: W_enc = W_decᵀ), the
fixed-prefix Matryoshka variant (`saelib.saes.matryoshka_fixed`), each optionally with the decoder-cosine
penalty of `saelib.saes.orthogonal`. Per run, with x_in = x − b_dec and f = ReLU(x_in W_enc + b_enc),

    loss = Σ_{m in inner widths + [d_sae]} mean_b ‖f_{<m} W_dec,{<m} + b_dec − x‖²  +  l1 · mean_b Σ_i f_i ‖W_dec,i‖
           + Σ_forms weight · decoder_cosine_penalty(W_dec, form, pairs)

with sae-lens's initialisation (kaiming-uniform decoder rows of norm 0.1, W_enc = W_decᵀ, b_enc = 0, b_dec = 0)
and sae-lens's trainer: Adam(0.9, 0.999) at a constant learning rate, each run's gradient norm clipped at 1.0
(per run, so runs stay independent: the summed loss gives each run's parameters its own gradient, and Adam and
the clipping act per run). b_dec is either frozen at 0 (a toy with no offset) or trained (sae-lens's default).
The test suite checks loss and gradients against the registered sae-lens classes and a few training steps against
sae-lens's own SAETrainer.

Two additions for the toys: latents that are dead at the start (silent on a probe batch) are redrawn from the
same initialisation, because with non-negative toy data a latent pointing away from every sample never learns;
and, optionally, latents silent since the previous check are redrawn at given steps ("resampling", with their Adam
state reset), one of the two remedies for dead latents the 000 comments discuss.

Two ways to set up a stack: `train_penalty_conditions` trains one copy of the base runs per (penalty form, weight)
condition, and `train_on_generator` trains on pooled draws of a toy generator that uses torch's global generator
(sae-lens's `ActivationGenerator`), seeding it.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from saelib.metrics.convergence import end_changes
from saelib.params import ParameterError, check_choice, check_int, check_positive
from saelib.saes.init import sae_lens_decoder_rows
from saelib.saes.orthogonal import PENALTIES, SCOPES, active_pairs, decoder_cosine_penalty
from saelib.toy_data import run_streams

PARAMETERS = ("W_enc", "W_dec", "b_enc", "b_dec")
CLIP_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_'s epsilon


@dataclass(frozen=True)
class StackSpec:
    """What every run of one stack shares; the per-run L1 and penalty weights are tensors passed alongside."""

    d_in: int
    d_sae: int
    steps: int
    batch_size: int
    lr: float
    tied: bool = False  # W_enc is W_decᵀ (saelib.saes.tied)
    inner_widths: tuple[int, ...] = ()  # Matryoshka: inner prefixes whose reconstruction losses are added
    train_b_dec: bool = False  # False: b_dec frozen at 0; True: sae-lens's trained b_dec, subtracted from the input
    ortho_scope: str = "all"  # decoder-cosine penalty on "all" pairs or on "active" ones (saelib.saes.orthogonal)
    resample_at: tuple[int, ...] = ()  # steps at which latents silent since the previous check are redrawn
    clip_grad_norm: float | None = 1.0  # sae-lens's trainer: each run's gradient norm clipped at 1.0
    probe_size: int = 4096  # samples on which a latent must fire at the start (and after a redraw)
    curve_points: int = 50  # times the objective is recorded on held-out samples (the convergence measure's curve)
    init_norm: float = 0.1  # sae-lens's decoder_init_norm

    def __post_init__(self):
        for name in ("d_in", "d_sae", "steps", "batch_size", "probe_size", "curve_points"):
            check_int(name, getattr(self, name), minimum=1)
        check_positive("lr", self.lr)
        check_positive("init_norm", self.init_norm)
        check_choice("ortho_scope", self.ortho_scope, SCOPES)
        widths = list(self.inner_widths)
        if any(not 1 <= w < self.d_sae for w in widths) or widths != sorted(set(widths)):
            raise ParameterError("inner_widths", f"must increase strictly and lie in [1, d_sae={self.d_sae})", widths)
        if any(not 1 <= s <= self.steps for s in self.resample_at):
            raise ParameterError("resample_at", f"steps must lie in [1, steps={self.steps}]", self.resample_at)
        if self.clip_grad_norm is not None:
            check_positive("clip_grad_norm", self.clip_grad_norm)


@dataclass
class StackedSAEs:
    """Trained parameters of a stack ([runs, ...] each) and how often each run's latents were redrawn."""

    params: dict[str, torch.Tensor]
    tied: bool
    resampled: torch.Tensor = field(default_factory=lambda: torch.zeros(0))  # [runs] latents redrawn in training
    curve_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [points] steps the curve was taken at
    curve: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [points, runs] held-out objective

    def end_changes(self, fraction: float) -> np.ndarray:
        """Each run's change of its held-out objective per 10% of training over the last `fraction` ([runs])."""
        return end_changes(self.curve_steps, self.curve, fraction)

    @property
    def W_dec(self) -> torch.Tensor:
        """Decoder rows [runs, d_sae, d_in]."""
        return self.params["W_dec"]

    @property
    def W_enc(self) -> torch.Tensor:
        """Encoder [runs, d_in, d_sae] (the decoder's transpose when tied)."""
        return encoder(self.params, self.tied)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latents [runs, batch, d_sae] of inputs x [runs, batch, d_in], each run through its own SAE."""
        return stacked_encode(self.params, x, self.tied)

    @torch.no_grad()
    def firing_rates(self, x: torch.Tensor) -> torch.Tensor:
        """Share of the samples of x [runs, batch, d_in] on which each latent fires: [runs, d_sae]."""
        return (self.encode(x) > 0).float().mean(1)

    @torch.no_grad()
    def explained_variance(self, x: torch.Tensor) -> torch.Tensor:
        """Per run: 1 − summed squared error / summed squared deviation from the run's mean sample ([runs])."""
        error = (self.encode(x) @ self.W_dec + self.params["b_dec"] - x).pow(2).sum((1, 2))
        return 1 - error / (x - x.mean(1, keepdim=True)).pow(2).sum((1, 2))


def stacked_init(n_runs: int, d_in: int, d_sae: int, generator: torch.Generator,
                 init_norm: float = 0.1) -> dict[str, torch.Tensor]:
    """sae-lens-initialised W_enc [runs, d_in, d_sae], W_dec [runs, d_sae, d_in], b_enc [runs, 1, d_sae] and
    b_dec [runs, 1, d_in] (zeros)."""
    W_dec = sae_lens_decoder_rows(n_runs * d_sae, d_in, generator, init_norm).view(n_runs, d_sae, d_in)
    return {"W_enc": W_dec.transpose(1, 2).clone().requires_grad_(), "W_dec": W_dec.clone().requires_grad_(),
            "b_enc": torch.zeros(n_runs, 1, d_sae, requires_grad=True),
            "b_dec": torch.zeros(n_runs, 1, d_in, requires_grad=True)}


def encoder(params: Mapping[str, torch.Tensor], tied: bool) -> torch.Tensor:
    """The encoder weights [runs, d_in, d_sae]: W_enc, or W_decᵀ when tied."""
    return params["W_dec"].transpose(1, 2) if tied else params["W_enc"]


def stacked_encode(params: Mapping[str, torch.Tensor], x: torch.Tensor, tied: bool = False) -> torch.Tensor:
    """Latents [runs, batch, d_sae] of x [runs, batch, d_in]: ReLU((x − b_dec) W_enc + b_enc), per run (computed
    with the batch last, as `loss_and_gradients` explains, and returned as a transposed view)."""
    centred_t = (x - params["b_dec"]).transpose(1, 2)
    return torch.relu(torch.baddbmm(params["b_enc"].transpose(1, 2), encoder(params, tied).transpose(1, 2),
                                    centred_t)).transpose(1, 2)


@torch.no_grad()
def loss_and_gradients(params: Mapping[str, torch.Tensor], x_t: torch.Tensor, l1: torch.Tensor,
                       ortho: Mapping[str, torch.Tensor], spec: StackSpec,
                       ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """(loss per run [runs], whether each latent fired in the batch [runs, d_sae], gradients by parameter name) of
    the module docstring's loss on inputs given TRANSPOSED, x_t [runs, d_in, batch]: batched products of tiny
    matrices run ~10x faster on a CPU with the batch last. The gradient is written out by hand (fewer passes over
    the activations than autograd makes); the tests check it against autograd on the sae-lens classes."""
    batch = x_t.shape[2]
    W_dec, b_dec_t = params["W_dec"], params["b_dec"].transpose(1, 2)  # [r, k, d], [r, d, 1]
    W_enc_t = W_dec if spec.tied else params["W_enc"].transpose(1, 2)  # [r, k, d]
    centred = x_t - b_dec_t  # [r, d, b]
    f = torch.baddbmm(params["b_enc"].transpose(1, 2), W_enc_t, centred).clamp_(min=0)  # [r, k, b]
    norms, totals = W_dec.norm(dim=-1), f.sum(-1)  # [r, k]: decoder norms, summed activations
    loss = l1 * (norms * totals).sum(-1) / batch
    scale = (l1 / batch).view(-1, 1, 1)
    grad_W_dec = scale * (totals / norms).unsqueeze(-1) * W_dec  # the L1 term's gradients
    grad_f = scale * norms.unsqueeze(-1)  # [r, k, 1], broadcast over the batch
    grad_b_dec = torch.zeros_like(b_dec_t)
    for width in (spec.d_sae, *spec.inner_widths):  # each prefix's reconstruction, the full width first
        error = torch.baddbmm(b_dec_t, W_dec[:, :width].transpose(1, 2), f[:, :width]).sub_(x_t)  # [r, d, b]
        loss = loss + torch.linalg.vector_norm(error, dim=(1, 2)).square() / batch
        error.mul_(2 / batch)  # now the gradient of the loss w.r.t. this reconstruction
        if width == spec.d_sae:
            grad_f = torch.baddbmm(grad_f, W_dec, error)
        else:
            grad_f[:, :width].baddbmm_(W_dec[:, :width], error)
        grad_W_dec[:, :width] += torch.bmm(f[:, :width], error.transpose(1, 2))
        grad_b_dec += error.sum(-1, keepdim=True)
    grad_pre = torch.ops.aten.threshold_backward(grad_f, f, 0.0)  # ReLU: the gradient where f > 0
    grad_W_enc_t = torch.bmm(grad_pre, centred.transpose(1, 2))  # [r, k, d]
    grad_b_dec -= torch.bmm(W_enc_t.transpose(1, 2), grad_pre.sum(-1, keepdim=True))
    fired = totals > 0
    if ortho:
        scope = fired if spec.ortho_scope == "active" else None
        penalty, grad_penalty = ortho_penalty_and_gradient(W_dec, ortho, scope)
        loss, grad_W_dec = loss + penalty, grad_W_dec + grad_penalty
    grads = {"W_dec": grad_W_dec + grad_W_enc_t if spec.tied else grad_W_dec, "b_dec": grad_b_dec.transpose(1, 2),
             "b_enc": grad_pre.sum(-1).unsqueeze(1), "W_enc": grad_W_enc_t.transpose(1, 2)}
    return loss, fired, grads


def ortho_penalty_and_gradient(W_dec: torch.Tensor, ortho: Mapping[str, torch.Tensor],
                               fired: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(Σ_forms weight [runs] · decoder_cosine_penalty per run, its gradient w.r.t. W_dec) by autograd on the small
    decoder alone; `fired` [runs, d_sae] restricts the penalty to active pairs (None: every pair)."""
    with torch.enable_grad():
        W = W_dec.detach().requires_grad_()
        pairs = None if fired is None else active_pairs(fired)
        penalty = sum(weight * decoder_cosine_penalty(W, form, pairs) for form, weight in ortho.items())
        penalty.sum().backward()
    return penalty.detach(), W.grad


@torch.no_grad()
def redraw(params: dict[str, torch.Tensor], latents: torch.Tensor, generator: torch.Generator,
           init_norm: float = 0.1) -> None:
    """Redraw the latents marked in `latents` [runs, d_sae] from sae-lens's initialisation (decoder row, encoder
    column = its transpose, b_enc = 0)."""
    n_runs, d_sae, d_in = params["W_dec"].shape
    fresh = sae_lens_decoder_rows(n_runs * d_sae, d_in, generator, init_norm).view(n_runs, d_sae, d_in)
    params["W_dec"].data = torch.where(latents.unsqueeze(-1), fresh, params["W_dec"].data)
    params["W_enc"].data = torch.where(latents.unsqueeze(1), fresh.transpose(1, 2), params["W_enc"].data)
    params["b_enc"].data = torch.where(latents.unsqueeze(1), 0.0, params["b_enc"].data)


@torch.no_grad()
def redraw_dead(params: dict[str, torch.Tensor], probe: torch.Tensor, generator: torch.Generator, tied: bool,
                latents: torch.Tensor | None = None, tries: int = 50, init_norm: float = 0.1) -> torch.Tensor:
    """Redraw `latents` [runs, d_sae] (default: those silent on probe [runs, n, d_in]), then again any of them
    still silent on the probe, up to `tries` draws; return which latents were redrawn."""
    todo = ~fires_on(params, probe, tied) if latents is None else latents.clone()
    redrawn = todo.clone()
    for _ in range(tries):
        runs = todo.any(1).nonzero().squeeze(1)
        if not len(runs):
            break
        redraw(params, todo, generator, init_norm)
        todo[runs] &= ~fires_on({name: value[runs] for name, value in params.items()}, probe[runs], tied)
    return redrawn


@torch.no_grad()
def fires_on(params: Mapping[str, torch.Tensor], probe: torch.Tensor, tied: bool) -> torch.Tensor:
    """Whether each latent fires on at least one sample of probe [runs, n, d_in]: [runs, d_sae] (bool)."""
    return (stacked_encode(params, probe, tied) > 0).any(1)


@torch.no_grad()
def clip_per_run_(params: Mapping[str, torch.Tensor], max_norm: float) -> None:
    """Scale each run's gradients (over all its parameters) to global norm at most `max_norm`, in place, as
    torch.nn.utils.clip_grad_norm_ does for one SAE."""
    grads = [p.grad for p in params.values() if p.grad is not None]
    norm = torch.stack([g.pow(2).flatten(1).sum(1) for g in grads]).sum(0).sqrt()
    scale = (max_norm / (norm + CLIP_EPS)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))


@torch.no_grad()
def reset_adam_state_(optimizer: torch.optim.Adam, params: Mapping[str, torch.Tensor], latents: torch.Tensor) -> None:
    """Zero Adam's moment estimates of the latents marked in `latents` [runs, d_sae] (after a redraw)."""
    masks = {"W_dec": latents.unsqueeze(-1), "W_enc": latents.unsqueeze(1), "b_enc": latents.unsqueeze(1)}
    for name, mask in masks.items():
        state = optimizer.state.get(params[name], {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in state:
                state[key].masked_fill_(mask, 0.0)


def check_inputs(probe: torch.Tensor, spec: StackSpec, l1: torch.Tensor, ortho: Mapping[str, torch.Tensor],
                 copies: int) -> None:
    """The sampler gives [runs, n, d_in]; one L1 weight per run; one weight per run for each known penalty form."""
    if probe.dim() != 3 or probe.shape[2] != spec.d_in:
        raise ParameterError("sample", f"must return [runs, batch, d_in={spec.d_in}]", tuple(probe.shape))
    n_runs = copies * probe.shape[0]
    if l1.shape != (n_runs,):
        raise ParameterError("l1", f"need one L1 coefficient per run ({copies} x {probe.shape[0]})", tuple(l1.shape))
    for penalty, weight in ortho.items():
        check_choice("ortho", penalty, PENALTIES)
        if weight.shape != (n_runs,):
            raise ParameterError("ortho", f"need one {penalty} weight per run ({n_runs})", tuple(weight.shape))


def replicate(x: torch.Tensor, copies: int) -> torch.Tensor:
    """[copies · n, ...]: `copies` copies of x [n, ...] one after another (copy c of item i at c · n + i)."""
    return x.unsqueeze(0).expand(copies, *x.shape).reshape(copies * x.shape[0], *x.shape[1:])


def train_stacked(sample: Callable[[int], torch.Tensor], spec: StackSpec, l1: torch.Tensor,
                  generator: torch.Generator, ortho: Mapping[str, torch.Tensor] | None = None,
                  copies: int = 1) -> StackedSAEs:
    """Train len(l1) independent SAEs of `spec`: `copies` copies of n base runs, where `sample(batch_size)` ->
    [n, batch, d_in] gives one stream per base run. Copy c of base run i (run c · n + i) starts from the same
    initialisation and sees the same batches as every other copy of run i, so conditions that differ only in
    their L1 or penalty weights are compared pairwise. `generator` draws the initialisation and every redraw."""
    ortho = dict(ortho or {})
    check_int("copies", copies, minimum=1)
    probe = sample(spec.probe_size)
    check_inputs(probe, spec, l1, ortho, copies)
    base = stacked_init(len(probe), spec.d_in, spec.d_sae, generator, spec.init_norm)
    redraw_dead(base, probe, generator, spec.tied, init_norm=spec.init_norm)
    params = {name: replicate(value.detach(), copies).requires_grad_() for name, value in base.items()}
    params["b_dec"].requires_grad_(spec.train_b_dec)
    params["W_enc"].requires_grad_(not spec.tied)
    n_runs = len(l1)
    optimizer = torch.optim.Adam([p for p in params.values() if p.requires_grad], lr=spec.lr, betas=(0.9, 0.999))
    fired = torch.zeros(n_runs, spec.d_sae, dtype=torch.bool)
    resampled = torch.zeros(n_runs)
    # the probe is drawn before training and never trained on: the objective on it is a held-out curve
    held_out = replicate(probe.transpose(1, 2), copies).contiguous()
    every = max(1, spec.steps // spec.curve_points)
    curve_steps, curve = [], []
    for step in tqdm(range(1, spec.steps + 1), desc="stacked SAEs"):
        x_t = replicate(sample(spec.batch_size).transpose(1, 2), copies).contiguous()  # [runs, d_in, batch]
        _, fired_now, grads = loss_and_gradients(params, x_t, l1, ortho, spec)
        for name, parameter in params.items():
            parameter.grad = grads[name] if parameter.requires_grad else None
        if spec.clip_grad_norm is not None:
            clip_per_run_(params, spec.clip_grad_norm)
        optimizer.step()
        fired |= fired_now
        if step in spec.resample_at:
            dead = ~fired
            redraw_dead(params, replicate(sample(spec.probe_size), copies), generator, spec.tied, latents=dead,
                        init_norm=spec.init_norm)
            reset_adam_state_(optimizer, params, dead)
            resampled += dead.sum(1)
            fired.zero_()
        if step % every == 0 or step == spec.steps:
            curve_steps.append(step)
            curve.append(loss_and_gradients(params, held_out, l1, ortho, spec)[0].numpy())
    return StackedSAEs({name: value.detach() for name, value in params.items()}, spec.tied, resampled,
                       np.array(curve_steps), np.stack(curve))


def train_penalty_conditions(sample: Callable[[int], torch.Tensor], spec: StackSpec, l1: torch.Tensor,
                             conditions: Sequence[tuple[str, float]], generator: torch.Generator) -> StackedSAEs:
    """`train_stacked` with one copy of the n base runs (L1 weights l1 [n]) per (penalty form, weight) condition: copy
    c (runs c · n to c · n + n - 1) trains under condition c, and every copy starts from the same initialisation and
    sees the same batches. The form "none" trains without a decoder-cosine penalty."""
    n = len(l1)
    ortho = {form: torch.tensor([w if f == form else 0.0 for f, w in conditions for _ in range(n)])
             for form in sorted({f for f, _ in conditions} - {"none"})}
    return train_stacked(sample, spec, l1.repeat(len(conditions)), generator, ortho, copies=len(conditions))

def train_on_generator(sample_codes: Callable[[int], torch.Tensor], directions: torch.Tensor, spec: StackSpec,
                       l1: torch.Tensor, seed: int, pool_size: int) -> StackedSAEs:
    """`train_stacked` for len(l1) runs on a toy generator's codes (`sample_codes(n)` -> [n, n_features], e.g. a
    sae-lens `ActivationGenerator.sample`) mapped onto `directions`: one pool of `pool_size` rows, each run drawing
    its own batches from it (`saelib.toy_data.run_streams`). sae-lens's generators draw from torch's global
    generator, so `seed` seeds that before the pool is drawn, as well as the batches and the initialisation."""
    torch.manual_seed(seed)
    sample = run_streams(sample_codes, len(l1), directions, pool_size, torch.Generator().manual_seed(seed))
    return train_stacked(sample, spec, l1, torch.Generator().manual_seed(seed))


def named_end_changes(stacks: Mapping[str, StackedSAEs], fraction: float) -> dict[str, float]:
    """Every run's change of its held-out objective per 10% of training over the last `fraction`, named
    "<stack name>, run <i>" (what `saelib.ledger.flatness` judges)."""
    return {f"{name}, run {run}": float(change) for name, stack in stacks.items()
            for run, change in enumerate(stack.end_changes(fraction))}
