"""A fast trainer for the notebooks' SAE shapes: several sae-lens TrainingSAEs trained in lockstep on one batch
stream, each with its own loss, gradient and Adam state, without autograd.

Why it is fast. Profiled (torch.profiler) at d = 128 -> 8192, batch 256 on 2 CPU cores, sae-lens's autograd
step spends ~60% in its five matrix products (encode, decode, and the decoder-weight, latent and encoder-weight
gradients); most of the rest is elementwise work on [batch, latents] tensors that are allocated afresh every
step (8 MB each, page-faulted on first touch: the ReLU's backward alone took ~4 ms there, ~0.3 ms in a reused
buffer), plus Adam one tensor at a time. Here

- the gradient is written out by hand: the five products are `baddbmm`/`bmm` calls into buffers allocated once,
  with the biases and the L1 gradient's per-latent constant passed as the products' bias argument, and the sums
  over the batch (bias gradients, the L1 term's decoder-norm gradient) done as products with a row of ones;
- the ReLU runs in place and its backward (`threshold_backward`) masks the latent gradient in place: besides the
  products a step makes two passes over [batch, latents] (l0_approx makes a few more for its soft firing);
- SAEs of one architecture and size are stacked along a leading dimension, so one batched product serves all of
  them (notebook 04's runs of one shape share their batches), and Adam is torch's fused kernel, one call per
  step for every SAE.

Why it is the same training as sae-lens's: each SAE follows its own `training_forward_pass` (the test suite
checks one step's loss terms and gradients against autograd on it, and a few steps against sae-lens's
forward pass + `backward` + `torch.optim.Adam`). Per SAE, with x_in = x - b_dec when
`apply_b_dec_to_input` (else x), f = ReLU(x_in W_enc + b_enc), x_hat = f W + b_dec and B the batch size:

- MSE = mean_b sum_d (x_hat - x)^2, so dL/dx_hat = 2 (x_hat - x) / B;
- "standard": W = W_dec, L1 = l1 mean_b sum_j f_bj ||W_dec_j||, whose gradient is l1 ||W_dec_j|| / B on
  every firing f_bj and l1 (sum_b f_bj) / B * W_dec_j / ||W_dec_j|| on decoder row j;
- "unit_norm" (and its subclasses): the stored rows are rescaled to unit norm at the start of the step,
  W = W_dec / ||W_dec|| (norms clamped at 1e-8), and the decoder gradient is the gradient through that
  division: (g - W_j <W_j, g>) / ||W_dec_j||; L1 = l1 mean_b sum_j f_bj;
- "l0_approx": with w = f ||W_dec_j||, the per-batch frequency s_j = mean_b w/(w + eps) enters the L0 term
  (or the standard L1 term in its "l1" arm) and, through the running-average straight-through estimate kept in
  the SAE's own ring buffer, the frequency term; their gradients reach f and ||W_dec_j|| through
  d s_j / d w = eps / (B (w + eps)^2).

The centring's gradient is -(sum_b dL/dpre_b) W_enc^T on b_dec; frozen parameters (requires_grad False) get no
gradient and no Adam state. Stacking does not couple runs, not even in the last bit: the products act per SAE,
Adam is handed each SAE's own slices as separate tensors (so its vectorised kernel treats every element as it
would if that SAE were trained alone), and gradient-norm clipping, when asked for, clips each SAE's own global
norm as `torch.nn.utils.clip_grad_norm_` would on its parameters alone.

Unlike sae-lens's trainer there is no gradient clipping unless asked for (sae-lens always clips at 1.0), no
coefficient warm-up (only warm_up_steps = 0 is accepted), no activation normalisation and no end-of-training
firing statistics in the SAE's metadata; the trained weights and buffers are written back into each SAE, which
saves with `save_model` in sae-lens's format. Everything stays float32, and no torch.compile is used. Any other
architecture (jumprelu, tied, matryoshka, orthogonal, or a subclass that changes a method that computes the step)
raises a ValueError naming it; train those with sae-lens's trainer.
"""

import math
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
import torch
from sae_lens.saes.sae import TrainCoefficientConfig, TrainingSAE
from sae_lens.saes.standard_sae import StandardTrainingSAE
from tqdm.auto import tqdm

from saelib.metrics.evaluation import explained_variance
from saelib.saes.l0_approx import FREQUENCY_FLOOR, L0ApproxTrainingSAE
from saelib.saes.unit_norm import UnitNormTrainingSAE

PARAMETERS = ("W_enc", "b_enc", "W_dec", "b_dec")
# most specific first: an SAE is trained as the first of these it is an instance of
KNOWN_CLASSES = (UnitNormTrainingSAE, L0ApproxTrainingSAE, StandardTrainingSAE)
# the methods that define a training step: a subclass that overrides any of them is not the known architecture
STEP_METHODS = ("training_forward_pass", "encode_with_hidden_pre", "encode", "decode", "calculate_aux_loss",
                "process_sae_in", "get_coefficients", "get_activation_fn", "normalize_decoder",
                "frequency_estimate", "running_frequency", "record_batch_frequency")
UNIT_NORM_CLAMP = 1e-8  # saelib.saes.unit_norm.unit_rows's clamp on row norms
CLIP_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_'s epsilon


def unsupported(sae: TrainingSAE, reason: str) -> ValueError:
    """The error for an SAE this trainer cannot train, naming its architecture."""
    return ValueError(f"the fast trainer cannot train architecture {sae.cfg.architecture()!r} "
                      f"({type(sae).__name__}): {reason}; train it with trainer='sae_lens'")


def known_class(sae: TrainingSAE) -> type:
    """The architecture class whose training step `sae` runs unchanged, or a ValueError naming its architecture."""
    base = next((cls for cls in KNOWN_CLASSES if isinstance(sae, cls)), None)
    if base is None:
        raise unsupported(sae, "only standard, unit_norm (and its subclasses) and l0_approx are supported")
    changed = [name for name in STEP_METHODS if getattr(type(sae), name, None) is not getattr(base, name, None)]
    if changed:
        raise unsupported(sae, f"it overrides {', '.join(changed)} of {base.__name__}")
    if sorted(name for name, _ in sae.named_parameters()) != sorted(PARAMETERS):
        raise unsupported(sae, f"its parameters are not {', '.join(PARAMETERS)}")
    cfg = sae.cfg
    if cfg.normalize_activations != "none" or cfg.reshape_activations != "none":
        raise unsupported(sae, "activation normalisation and hook_z reshaping are not supported")
    if cfg.lp_norm != 1.0:
        raise unsupported(sae, f"lp_norm={cfg.lp_norm}; only the L1 norm (lp_norm=1) is supported")
    if sae.dtype != torch.float32:
        raise unsupported(sae, f"dtype {sae.dtype}; only float32 is supported")
    return base


def coefficient_values(sae: TrainingSAE) -> dict[str, float]:
    """The SAE's loss coefficients by sae-lens's names; a ValueError for any warm-up."""
    values = {}
    for name, coefficient in sae.get_coefficients().items():
        if isinstance(coefficient, TrainCoefficientConfig):
            if coefficient.warm_up_steps:
                raise unsupported(sae, f"coefficient {name!r} has warm_up_steps={coefficient.warm_up_steps}; "
                                       "only 0 is supported")
            coefficient = coefficient.value
        values[name] = float(coefficient)
    return values


def stack_key(sae: TrainingSAE) -> tuple:
    """SAEs with equal keys are stacked: same class, size, centring, frozen parameters and penalty settings
    (the coefficients may differ)."""
    cfg = sae.cfg
    frozen = tuple(not getattr(sae, name).requires_grad for name in PARAMETERS)
    key: tuple = (type(sae), cfg.d_in, cfg.d_sae, bool(cfg.apply_b_dec_to_input), frozen)
    if isinstance(sae, L0ApproxTrainingSAE):
        key += (cfg.sparsity_penalty, cfg.epsilon, cfg.min_frequency, cfg.frequency_window,
                int(sae.frequency_steps.item()))
    return key


def summed_squared_errors(sae_in: torch.Tensor, sae_out: torch.Tensor) -> torch.Tensor:
    """sae-lens's MSE loss per stacked SAE [k]: the squared error summed over dimensions, averaged over the batch."""
    return (sae_out - sae_in).pow(2).sum(-1).mean(-1)


def unit_norm_backward_(grad: torch.Tensor, unit: torch.Tensor, norms: torch.Tensor,
                        scratch: torch.Tensor) -> None:
    """Turn grad [k, n, d] w.r.t. unit = W / clamp(||W||) into the gradient w.r.t. W, in place (radial part out)."""
    radial = torch.mul(unit, grad, out=scratch).sum(-1, keepdim=True)
    radial.mul_(norms > UNIT_NORM_CLAMP)  # the clamp passes no gradient to the norm
    grad.addcmul_(unit, radial, value=-1.0).div_(norms.clamp(min=UNIT_NORM_CLAMP))


def batch_sum(values: torch.Tensor, ones: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """values [k, B, n] summed over the batch into out [k, 1, n], as the product with ones [k, 1, B] (measured:
    about twice as fast as torch.sum over the middle dimension)."""
    return torch.bmm(ones, values, out=out)


def frequency_excess(frequency: torch.Tensor, min_frequency: float) -> torch.Tensor:
    """log10 s_min − log10 s: the argument of the frequency term's ReLU."""
    return math.log10(min_frequency) - torch.log10(frequency)


class SAEStack:
    """k SAEs of one stack key trained as one: every tensor gets a leading dimension k, each slice one SAE's."""

    def __init__(self, saes: Sequence[TrainingSAE], device: torch.device):
        self.saes = list(saes)
        self.device = device
        first = self.saes[0]
        self.base = known_class(first)
        self.cfg = first.cfg
        self.k, self.d_in, self.d_sae = len(self.saes), self.cfg.d_in, self.cfg.d_sae
        self.centre = bool(self.cfg.apply_b_dec_to_input)
        self.params = {name: torch.stack([stackable(sae, name) for sae in self.saes]).to(device)
                       for name in PARAMETERS}
        self.trainable = {name: getattr(first, name).requires_grad for name in PARAMETERS}
        self.sae_parameters = []  # views of each SAE's own slices, for Adam
        for name, tensor in self.params.items():
            if self.trainable[name]:
                tensor.grad = torch.zeros_like(tensor)
                for index in range(self.k):
                    view = tensor[index]
                    view.grad = tensor.grad[index]
                    self.sae_parameters.append(view)
        coefficients = [coefficient_values(sae) for sae in self.saes]
        self.coefficients = {name: torch.tensor([c[name] for c in coefficients], device=device).view(-1, 1, 1)
                             for name in coefficients[0]}
        if self.base is L0ApproxTrainingSAE:
            self.frequency_history = torch.stack([sae.frequency_history.detach() for sae in self.saes]).to(device)
            self.frequency_steps = int(first.frequency_steps.item())
            self.batch_frequency = self.running_frequency = torch.empty(0)  # this step's, set by frequency_gradient
        self.batch_size = 0
        self.work: dict[str, torch.Tensor] = {}

    def parameters(self) -> list[torch.Tensor]:
        """Every SAE's own trainable parameters, as views into the stacked tensors: Adam's vectorised kernel then
        sees each SAE's tensors exactly as it would if that SAE were trained alone, so stacking changes no bit."""
        return self.sae_parameters

    def workspace(self, batch: int) -> dict[str, torch.Tensor]:
        """Buffers for a batch of this size, allocated once (fresh large tensors every step cost page faults)."""
        if batch != self.batch_size:
            k, d, n = self.k, self.d_in, self.d_sae
            shapes = {"f": (k, batch, n), "grad_f": (k, batch, n), "sae_out": (k, batch, d), "x_in": (k, batch, d),
                      "norms": (k, n, 1), "f_sum": (k, 1, n), "pre_sum": (k, 1, n), "latent_bias": (k, 1, n),
                      "ones": (k, 1, batch)}
            if self.base is UnitNormTrainingSAE:
                shapes.update(unit=(k, n, d), scratch=(k, n, d))
            if self.base is L0ApproxTrainingSAE:
                shapes.update(weighted=(k, batch, n), per_element=(k, batch, n))
            self.work = {name: torch.empty(shape, device=self.device) for name, shape in shapes.items()}
            self.work["ones"].fill_(1.0)
            self.batch_size = batch
        return self.work

    def decoder_rows(self) -> torch.Tensor:
        """The decoder the step uses (unit-norm SAEs: stored rows renormalised first, then W / ||W||); leaves
        the row norms of the stored W_dec in work["norms"]."""
        W_dec, norms = self.params["W_dec"], self.work["norms"]
        torch.linalg.vector_norm(W_dec, dim=-1, keepdim=True, out=norms)
        if self.base is not UnitNormTrainingSAE:
            return W_dec
        W_dec.div_(norms.clamp_(min=UNIT_NORM_CLAMP))
        torch.linalg.vector_norm(W_dec, dim=-1, keepdim=True, out=norms)
        return torch.div(W_dec, norms.clamp(min=UNIT_NORM_CLAMP), out=self.work["unit"])

    @torch.no_grad()
    def forward_backward(self, x: torch.Tensor, record: bool) -> list[dict[str, float]] | None:
        """One step's forward pass and gradients (into each trainable parameter's .grad) on batch x [B, d_in];
        with `record`, each SAE's step metrics as `sae_lens_trainer.step_metrics` reports them."""
        batch = x.shape[0]
        work = self.workspace(batch)
        p, f, sae_out = self.params, work["f"], work["sae_out"]
        W_dec = self.decoder_rows()
        norm_row = work["norms"].transpose(1, 2)  # [k, 1, n]
        x_in = torch.sub(x, p["b_dec"], out=work["x_in"]) if self.centre else x.expand(self.k, -1, -1)
        torch.baddbmm(p["b_enc"], x_in, p["W_enc"], out=f).relu_()
        torch.baddbmm(p["b_dec"], f, W_dec, out=sae_out)
        metrics = self.reconstruction_metrics(x, f, sae_out) if record else None
        grad_out = sae_out.sub_(x).mul_(2.0 / batch)  # dL/dx_hat, in place of x_hat
        latent_bias, norm_grad = self.sparsity_gradient(f, norm_row, batch)
        self.backward(x_in, f, grad_out, W_dec, latent_bias, norm_grad)
        if metrics is None:
            return None
        losses = {"mse_loss": torch.tensor([m["mse"] for m in metrics]), **self.penalty_losses(f, norm_row, batch)}
        total = sum(losses.values())
        return [{"loss": total[i].item(), **metrics[i], **{name: value[i].item() for name, value in losses.items()}}
                for i in range(self.k)]

    def backward(self, x_in: torch.Tensor, f: torch.Tensor, grad_out: torch.Tensor, W_dec: torch.Tensor,
                 latent_bias: torch.Tensor, norm_grad: torch.Tensor | None) -> None:
        """The gradients of the trainable parameters from dL/dx_hat, the penalty's per-latent dL/df constant and
        its dL/d||W_dec_j||: three products, the ReLU mask in place, two bias sums."""
        p, work = self.params, self.work
        if self.trainable["W_dec"]:
            grad_W_dec = torch.bmm(f.transpose(1, 2), grad_out, out=p["W_dec"].grad)
            if self.base is UnitNormTrainingSAE:
                unit_norm_backward_(grad_W_dec, W_dec, work["norms"], work["scratch"])
            else:  # through ||W_dec_j||: W_dec_j / ||W_dec_j||, 0 where the norm is 0 (the norm's own backward)
                norms = work["norms"]
                grad_W_dec.addcmul_(p["W_dec"], norm_grad.transpose(1, 2).div(norms).masked_fill_(norms == 0, 0.0))
        pre_sum = None
        if self.trainable["W_enc"] or self.trainable["b_enc"] or (self.centre and self.trainable["b_dec"]):
            grad_f = torch.baddbmm(latent_bias, grad_out, W_dec.transpose(1, 2), out=work["grad_f"])
            if self.base is L0ApproxTrainingSAE:
                grad_f.add_(work["per_element"])
            grad_pre = torch.ops.aten.threshold_backward.grad_input(grad_f, f, 0.0, grad_input=grad_f)
            if self.trainable["W_enc"]:
                torch.bmm(x_in.transpose(1, 2), grad_pre, out=p["W_enc"].grad)
            pre_sum = batch_sum(grad_pre, work["ones"], work["pre_sum"])
            if self.trainable["b_enc"]:
                p["b_enc"].grad.copy_(pre_sum)
        if self.trainable["b_dec"]:
            torch.sum(grad_out, dim=1, keepdim=True, out=p["b_dec"].grad)
            if self.centre:
                p["b_dec"].grad.sub_(torch.bmm(pre_sum, p["W_enc"].transpose(1, 2)))

    def sparsity_gradient(self, f: torch.Tensor, norm_row: torch.Tensor,
                          batch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The penalty's dL/df constant per latent ([k, 1, n], or [k, 1, 1]) and its dL/d||W_dec_j|| [k, 1, n] (None
        for unit-norm SAEs, whose penalty ignores the decoder); l0_approx's per-element dL/df goes to
        work["per_element"]."""
        if self.base is UnitNormTrainingSAE:
            return self.coefficients["l1"] / batch, None
        latent_bias, norm_grad = self.work["latent_bias"], self.work["f_sum"]
        if "l1" in self.coefficients:  # l1 * mean_b sum_j f_bj ||W_dec_j||
            l1 = self.coefficients["l1"] / batch
            torch.mul(norm_row, l1, out=latent_bias)
            batch_sum(f, self.work["ones"], norm_grad).mul_(l1)
        else:
            latent_bias.zero_()
            norm_grad.zero_()
        if self.base is L0ApproxTrainingSAE:
            norm_grad.add_(self.frequency_gradient(f, norm_row, batch))
        return latent_bias, norm_grad

    def frequency_gradient(self, f: torch.Tensor, norm_row: torch.Tensor, batch: int) -> torch.Tensor:
        """l0_approx: record the batch's soft-firing frequency s = mean_b w/(w+eps) with w = f ||W_dec_j||; return
        the L0 and frequency terms' dL/d||W_dec_j|| [k, 1, n] and leave their dL/df in work["per_element"]."""
        eps = self.cfg.epsilon
        weighted, per_element = self.work["weighted"], self.work["per_element"]
        torch.mul(f, norm_row, out=weighted)
        torch.add(weighted, eps, out=per_element).reciprocal_()
        self.batch_frequency = weighted.mul_(per_element).mean(1, keepdim=True)
        self.running_frequency = self.record_frequency(self.batch_frequency)
        excess = frequency_excess(self.running_frequency, self.cfg.min_frequency)
        # the ReLU of log10 s_min − log10 s, with s's gradient straight through to the batch frequency
        grad_frequency = -self.coefficients["frequency"] / (self.running_frequency * math.log(10)) * (excess > 0)
        if "l0" in self.coefficients:
            grad_frequency = grad_frequency + self.coefficients["l0"]
        # d s_j / d w_bj = eps / (B (w + eps)^2); w's gradient goes to f times ||W_dec_j|| and to ||W_dec_j|| times f
        per_element.square_().mul_(grad_frequency * (eps / batch))
        norm_grad = torch.mul(per_element, f, out=weighted).sum(1, keepdim=True)
        per_element.mul_(norm_row)
        return norm_grad

    def record_frequency(self, batch_frequency: torch.Tensor) -> torch.Tensor:
        """Write batch_frequency [k, 1, n] into each SAE's ring buffer; return the running mean [k, 1, n] over the
        recorded steps, clamped at the floor (the value of sae-lens's straight-through estimate)."""
        window = self.frequency_history.shape[1]
        self.frequency_history[:, self.frequency_steps % window] = batch_frequency.squeeze(1)
        self.frequency_steps += 1
        filled = min(self.frequency_steps, window)
        return self.frequency_history[:, :filled].mean(1, keepdim=True).clamp(min=FREQUENCY_FLOOR)

    def reconstruction_metrics(self, x: torch.Tensor, f: torch.Tensor, sae_out: torch.Tensor) -> list[dict[str, float]]:
        """Each SAE's L0, MSE and explained variance on this batch."""
        mse = summed_squared_errors(x, sae_out)
        l0 = (f > 0).float().sum(-1).mean(-1)
        return [{"l0": l0[i].item(), "mse": mse[i].item(), "explained_variance": explained_variance(x, sae_out[i])}
                for i in range(self.k)]

    def penalty_losses(self, f: torch.Tensor, norm_row: torch.Tensor, batch: int) -> dict[str, torch.Tensor]:
        """The auxiliary loss terms [k] by sae-lens's names (after `sparsity_gradient` has run on this step)."""
        c = {name: value.view(-1) for name, value in self.coefficients.items()}
        if self.base is UnitNormTrainingSAE:
            return {"l1_loss": c["l1"] * f.sum((1, 2)) / batch}
        losses = {}
        if "l1" in c:
            losses["l1_loss"] = c["l1"] * (f * norm_row).sum((1, 2)) / batch
        if self.base is L0ApproxTrainingSAE:
            if "l0" in c:
                losses["l0_approx_loss"] = c["l0"] * self.batch_frequency.sum((1, 2))
            excess = frequency_excess(self.running_frequency, self.cfg.min_frequency)
            losses["frequency_loss"] = c["frequency"] * torch.relu(excess).sum((1, 2))
        return losses

    def clip_grad_norm_(self, max_norm: float) -> None:
        """Scale each SAE's gradients so that its own global norm is at most max_norm (clip_grad_norm_'s rule)."""
        grads = [tensor.grad for name, tensor in self.params.items() if self.trainable[name]]
        norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads], dim=1)
        total = torch.linalg.vector_norm(norms, dim=1)
        scale = (max_norm / (total + CLIP_EPS)).clamp(max=1.0).view(-1, 1, 1)
        for g in grads:
            g.mul_(scale)

    def gradients(self, index: int) -> dict[str, torch.Tensor]:
        """SAE `index`'s gradients from the last step, shaped like its parameters (trainable ones only)."""
        return {name: tensor.grad[index].reshape(getattr(self.saes[index], name).shape)
                for name, tensor in self.params.items() if self.trainable[name]}

    @torch.no_grad()
    def write_back(self) -> None:
        """Copy the trained parameters (and l0_approx's frequency buffers) into each SAE, in place."""
        for index, sae in enumerate(self.saes):
            for name, tensor in self.params.items():
                getattr(sae, name).copy_(tensor[index].reshape(getattr(sae, name).shape))
            if self.base is L0ApproxTrainingSAE:
                sae.frequency_history.copy_(self.frequency_history[index])
                sae.frequency_steps.fill_(self.frequency_steps)


def stackable(sae: TrainingSAE, name: str) -> torch.Tensor:
    """Parameter `name` of `sae` shaped for stacking: biases become [1, width] rows."""
    value = getattr(sae, name).detach()
    return value.unsqueeze(0) if name in ("b_enc", "b_dec") else value


def stack_saes(saes: Sequence[TrainingSAE], device: torch.device) -> tuple[list[SAEStack], list[list[int]]]:
    """The SAEs grouped into stacks by `stack_key`, and each stack's indices into `saes`."""
    groups: dict[tuple, list[int]] = {}
    for index, sae in enumerate(saes):
        known_class(sae)
        coefficient_values(sae)
        groups.setdefault(stack_key(sae), []).append(index)
    indices = list(groups.values())
    return [SAEStack([saes[i] for i in group], device) for group in indices], indices


def history_row(step: int, samples: int, metrics: dict[str, float]) -> dict[str, Any]:
    """One history row, in the column order of `sae_lens_trainer.RecordingSAETrainer`."""
    return {"step": step, "samples": samples, **metrics}


def train_fast(saes: Sequence[TrainingSAE], batches: Iterator[torch.Tensor], trainer: Any,
               device: torch.device) -> list[pd.DataFrame]:
    """Train `saes` (sharing d_in) in lockstep for trainer.steps steps on the same batches with Adam, each with
    its own loss and (optional) gradient clipping; write the weights back; return one history per SAE."""
    device = torch.device(device)
    if len({sae.cfg.d_in for sae in saes}) != 1:
        raise ValueError("the SAEs trained together must share d_in (they read the same batches)")
    for sae in saes:
        sae.train()
    stacks, indices = stack_saes(saes, device)
    optimizer = torch.optim.Adam([t for stack in stacks for t in stack.parameters()], lr=trainer.lr,
                                 betas=tuple(trainer.adam_betas), eps=1e-8, fused=True)
    histories: list[list[dict[str, Any]]] = [[] for _ in saes]
    samples = 0
    for step in tqdm(range(1, trainer.steps + 1), desc="fast SAE trainer"):
        x = next(batches).to(device=device, dtype=torch.float32)
        samples += x.shape[0]
        record = step % trainer.record_every == 0
        for stack, members in zip(stacks, indices, strict=True):
            metrics = stack.forward_backward(x, record)
            if trainer.clip_grad_norm is not None:
                stack.clip_grad_norm_(trainer.clip_grad_norm)
            if metrics is not None:
                for index, row in zip(members, metrics, strict=True):
                    histories[index].append(history_row(step, samples, row))
        optimizer.step()
    for stack in stacks:
        stack.write_back()
    return [pd.DataFrame(rows) for rows in histories]
