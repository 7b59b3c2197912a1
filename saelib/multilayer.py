"""MLP-only residual networks on pairs of one-hot inputs, many trained at once, with a logit lens and per-datapoint
weight-gradient norms.

The model of "Some additional SAE thoughts" (Hoagy Cunningham, 2024), section "The problem of multilayer
features": two one-hot vectors (vocabulary V each, so a 2V-d input) are "projected to the hidden dimension which
is the same as the output width by a learned vector", then pass through L residual MLP layers of that width. The
residual stream is itself the output, so the logit lens reads it directly after every layer (`POST`). The
post's repository (HoagyC/transformers_toy_compute_model, `model.py`) builds its MLP-only toy without LayerNorm,
with ReLU, Xavier-uniform weights, zero biases and Adam at 1e-3; `POST` follows it. `PRE_LN` is a contrast
arm: pre-LayerNorm GELU blocks, a final LayerNorm and a separate unembedding (a transformer without attention),
PyTorch's default initialisation; its logit lens reads every layer through the final LayerNorm and unembedding.

Networks of one shape are stacked along a leading "runs" dimension (one run = one dataset and seed) and trained
as one tensor program with `torch.optim.Adam` (element-wise, so the runs stay independent), so a run that reaches
the stopping rule leaves the stack, with its moments, and stops costing compute (`train_to_threshold`).
"""

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from saelib import ledger
from saelib.claims import CONVERGENCE
from saelib.metrics.convergence import end_changes
from saelib.metrics.fits import line_fit
from saelib.nonlinearity import rank_correlation
from saelib.params import ParameterError, check_choice, check_int, check_open_unit, check_positive

Params = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Architecture:
    """How a residual MLP network is built, initialised and read out."""

    name: str
    layernorm: bool  # pre-LayerNorm in every block and a final LayerNorm before the unembedding
    activation: str  # "relu" or "gelu"
    readout: str  # "direct": the residual stream is the logits; "unembed": logits = unembed(final LN(resid))
    init: str  # "xavier": Xavier-uniform weights, zero biases; "torch": nn.Linear's default

    def __post_init__(self):
        check_choice("activation", self.activation, ["relu", "gelu"])
        check_choice("readout", self.readout, ["direct", "unembed"])
        check_choice("init", self.init, ["xavier", "torch"])


POST = Architecture("post's network", layernorm=False, activation="relu", readout="direct", init="xavier")
PRE_LN = Architecture("pre-LN GELU + unembedding", layernorm=True, activation="gelu", readout="unembed",
                      init="torch")


def _linear_weight(n_runs: int, n_layers: int | None, fan_in: int, fan_out: int, init: str,
                   generator: torch.Generator) -> torch.Tensor:
    """Weights [runs, (layers,) fan_in, fan_out]: Xavier-uniform, or nn.Linear's default U(±1/√fan_in)."""
    bound = math.sqrt(6 / (fan_in + fan_out)) if init == "xavier" else 1 / math.sqrt(fan_in)
    shape = (n_runs, fan_in, fan_out) if n_layers is None else (n_runs, n_layers, fan_in, fan_out)
    return (torch.rand(shape, generator=generator) * 2 - 1) * bound


def _linear_bias(shape: tuple[int, ...], fan_in: int, init: str, generator: torch.Generator) -> torch.Tensor:
    """Biases: zero (Xavier init, as the post's repository), or nn.Linear's default U(±1/√fan_in)."""
    if init == "xavier":
        return torch.zeros(shape)
    return (torch.rand(shape, generator=generator) * 2 - 1) / math.sqrt(fan_in)


def init_params(arch: Architecture, n_runs: int, vocab_size: int, d_model: int, n_layers: int, d_mlp: int,
                n_targets: int, generator: torch.Generator) -> Params:
    """Freshly initialised parameters of `n_runs` independent networks, each tensor with a leading runs dim."""
    for name, value in (("n_runs", n_runs), ("vocab_size", vocab_size), ("d_model", d_model),
                        ("n_layers", n_layers), ("d_mlp", d_mlp), ("n_targets", n_targets)):
        check_int(name, value, minimum=2 if name in ("vocab_size", "n_targets") else 1)
    if arch.readout == "direct" and n_targets != d_model:
        raise ParameterError("n_targets", f"a direct readout needs as many targets as the width ({d_model})",
                             n_targets)

    def weight(layers: int | None, fan_in: int, fan_out: int) -> torch.Tensor:
        return _linear_weight(n_runs, layers, fan_in, fan_out, arch.init, generator)

    def bias(shape: tuple[int, ...], fan_in: int) -> torch.Tensor:
        return _linear_bias(shape, fan_in, arch.init, generator)

    params = {"embed": weight(None, 2 * vocab_size, d_model), "embed_bias": bias((n_runs, d_model), 2 * vocab_size),
              "w_in": weight(n_layers, d_model, d_mlp), "b_in": bias((n_runs, n_layers, d_mlp), d_model),
              "w_out": weight(n_layers, d_mlp, d_model), "b_out": bias((n_runs, n_layers, d_model), d_mlp)}
    if arch.layernorm:
        params |= {"ln_gain": torch.ones(n_runs, n_layers, d_model), "ln_bias": torch.zeros(n_runs, n_layers, d_model),
                   "final_gain": torch.ones(n_runs, d_model), "final_bias": torch.zeros(n_runs, d_model)}
    if arch.readout == "unembed":
        params |= {"unembed": weight(None, d_model, n_targets), "unembed_bias": bias((n_runs, n_targets), d_model)}
    return params


def n_layers_of(params: Params) -> int:
    """Number of residual MLP layers L."""
    return params["w_in"].shape[1]


def _layernorm(x: torch.Tensor, gain: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """LayerNorm over the last dim with a per-run gain and bias [runs, d] (x: [runs, n, d])."""
    return F.layer_norm(x, x.shape[-1:]) * gain[:, None] + bias[:, None]


def embed_pairs(params: Params, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The learned projection of each run's two-hot inputs [one_hot(a), one_hot(b)]: [runs, n, d] from a, b
    [runs, n] (a column lookup, the same as multiplying by the 2V-d two-hot vector)."""
    runs = torch.arange(a.shape[0], device=a.device)[:, None]
    vocab_size = params["embed"].shape[1] // 2
    return params["embed"][runs, a] + params["embed"][runs, vocab_size + b] + params["embed_bias"][:, None]


def forward(params: Params, arch: Architecture, a: torch.Tensor, b: torch.Tensor,
            keep: bool = False) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """The residual stream after the embedding and after each layer (L + 1 tensors [runs, n, d]) and, if `keep`,
    each layer's linear-map inputs and outputs (u_in, z = u_in W_in + b_in, u_out = act(z), out = u_out W_out +
    b_out), from which per-datapoint weight gradients follow."""
    act = torch.relu if arch.activation == "relu" else F.gelu
    x = embed_pairs(params, a, b)
    streams, terms = [x], []
    for layer in range(n_layers_of(params)):
        u_in = _layernorm(x, params["ln_gain"][:, layer], params["ln_bias"][:, layer]) if arch.layernorm else x
        z = torch.baddbmm(params["b_in"][:, layer, None], u_in, params["w_in"][:, layer])
        u_out = act(z)
        out = torch.baddbmm(params["b_out"][:, layer, None], u_out, params["w_out"][:, layer])
        x = x + out
        streams.append(x)
        if keep:
            terms.append({"u_in": u_in, "z": z, "u_out": u_out, "out": out})
    return streams, terms


def readout(params: Params, arch: Architecture, resid: torch.Tensor) -> torch.Tensor:
    """Logits [runs, n, targets] of residual-stream states [runs, n, d]: the stream itself (direct readout), or
    the unembedding of its final LayerNorm."""
    if arch.readout == "direct":
        return resid
    normed = _layernorm(resid, params["final_gain"], params["final_bias"]) if arch.layernorm else resid
    return torch.baddbmm(params["unembed_bias"][:, None], normed, params["unembed"])


def per_datapoint_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of every datapoint: logits [..., n, targets], targets [..., n] -> [..., n]."""
    return -torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


@torch.no_grad()
def logit_lens_loss(params: Params, arch: Architecture, a: torch.Tensor, b: torch.Tensor, targets: torch.Tensor,
                    output_only: bool = False, budget: int = 2**24) -> torch.Tensor:
    """Per-datapoint cross-entropy of the readout after the embedding (layer 0) and after each layer:
    [runs, L + 1, n] ([runs, 1, n] for the output alone), computed in chunks of datapoints whose residual
    streams hold about `budget` numbers."""
    n_runs, d_model = params["embed"].shape[0], params["embed"].shape[2]
    chunk_size = max(1, budget // (n_runs * d_model * (n_layers_of(params) + 2)))
    chunks = []
    for start in range(0, a.shape[1], chunk_size):
        part = slice(start, start + chunk_size)
        streams, _ = forward(params, arch, a[:, part], b[:, part])
        chunks.append(torch.stack([per_datapoint_loss(readout(params, arch, s), targets[:, part])
                                   for s in (streams[-1:] if output_only else streams)], dim=1))
    return torch.cat(chunks, dim=-1)


def correct_logit_grad_norms(params: Params, arch: Architecture, a: torch.Tensor, b: torch.Tensor,
                             targets: torch.Tensor) -> torch.Tensor:
    """Per datapoint and layer, the norm of d(correct target's logit)/d(that layer's W_in and W_out together):
    [runs, n, L].

    Exact and in one backward pass: a linear map y = u W has the per-datapoint weight gradient u ⊗ ∂logit/∂y,
    whose Frobenius norm is |u| |∂logit/∂y|; datapoints do not interact, so the gradient of the summed correct
    logits with respect to each datapoint's y is that datapoint's own."""
    weights = {name: p.detach().requires_grad_() for name, p in params.items()}
    streams, terms = forward(weights, arch, a, b, keep=True)
    logits = readout(weights, arch, streams[-1])
    correct = logits.gather(-1, targets.unsqueeze(-1)).sum()
    grads = torch.autograd.grad(correct, [t[k] for t in terms for k in ("z", "out")])
    norms = []
    for layer, t in enumerate(terms):
        g_z, g_out = grads[2 * layer], grads[2 * layer + 1]
        squared = (t["u_in"].pow(2).sum(-1) * g_z.pow(2).sum(-1) + t["u_out"].pow(2).sum(-1) * g_out.pow(2).sum(-1))
        norms.append(squared.sqrt())
    return torch.stack(norms, dim=-1).detach()


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


def stack_datasets(datasets: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Datasets of different sizes as padded tensors a, b, targets [runs, max size] (padding: pair (0, 0),
    target 0, never sampled or scored) and the sizes [runs]."""
    sizes = torch.tensor([len(y) for _, _, y in datasets])
    padded = [torch.zeros(len(datasets), int(sizes.max()), dtype=torch.long) for _ in range(3)]
    for run, parts in enumerate(datasets):
        for tensor, part in zip(padded, parts, strict=True):
            tensor[run, :len(part)] = part
    return (*padded, sizes)


def _keep_runs(live: Params, optimizer: torch.optim.Adam, keep: torch.Tensor, lr: float
               ) -> tuple[Params, torch.optim.Adam]:
    """The live parameters of the runs in `keep` and an Adam that carries on their moments and step count (Adam
    acts element-wise, so every run stays independent of the others in its stack)."""
    kept = {name: p.detach()[keep].requires_grad_() for name, p in live.items()}
    carried = torch.optim.Adam(kept.values(), lr=lr)
    for old, new in zip(live.values(), kept.values(), strict=True):
        state = optimizer.state[old]
        carried.state[new] = {"step": state["step"].clone(), "exp_avg": state["exp_avg"][keep],
                              "exp_avg_sq": state["exp_avg_sq"][keep]}
    return kept, carried


@dataclass
class TrainResult:
    """Trained parameters of every run, the step at which each stopped, and whether it met the stopping rule."""

    params: Params
    steps: torch.Tensor  # [runs]
    learned: torch.Tensor  # [runs] bool
    curves: list[list[tuple[int, float]]] = field(default_factory=list)  # per run: (step, mean output loss)

    def end_change(self, run: int, fraction: float) -> float:
        """The run's change of its mean output loss per 10% of its training over the last `fraction`
        (`saelib.metrics.convergence`); NaN (`ledger.flatness` counts it as not flat) when fewer than 3 points fall
        in that stretch."""
        steps, losses = zip(*self.curves[run], strict=True)
        try:
            return float(end_changes(np.array(steps), np.array(losses), fraction))
        except ValueError:
            return math.nan


def _learned_share(params: Params, arch: Architecture, data: tuple[torch.Tensor, ...],
                   loss_threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Each run's share of its datapoints with output loss below the threshold, and its mean output loss (the task
    is to memorise the dataset, so the training set is the data the loss is judged on)."""
    a, b, targets, sizes = data
    loss = logit_lens_loss(params, arch, a, b, targets, output_only=True)[:, -1]
    real = torch.arange(a.shape[1], device=a.device)[None] < sizes[:, None]
    return ((loss < loss_threshold) & real).sum(1) / sizes, (loss * real).sum(1) / sizes


def train_to_threshold(params: Params, arch: Architecture, data: tuple[torch.Tensor, ...], batch_size: int,
                       lr: float, max_steps: int, eval_every: int, loss_threshold: float, stop_fraction: float,
                       generator: torch.Generator) -> TrainResult:
    """Train every run with Adam on cross-entropy over minibatches drawn uniformly from its own dataset until
    `stop_fraction` of its datapoints have output loss below `loss_threshold` (checked every `eval_every` steps)
    or `max_steps`; a run that meets the rule leaves the stack with its parameters at that step."""
    a, b, targets, sizes = data
    check_int("batch_size", batch_size, minimum=1)
    check_positive("lr", lr)
    check_int("max_steps", max_steps, minimum=1)
    check_int("eval_every", eval_every, minimum=1)
    check_positive("loss_threshold", loss_threshold)
    check_open_unit("stop_fraction", stop_fraction)
    final = {name: p.detach().clone() for name, p in params.items()}
    live = {name: p.detach().clone().requires_grad_() for name, p in params.items()}
    optimizer = torch.optim.Adam(live.values(), lr=lr)
    active = torch.arange(len(sizes), device=sizes.device)
    steps = torch.full((len(sizes),), max_steps, device=sizes.device)
    learned = torch.zeros(len(sizes), dtype=torch.bool, device=sizes.device)
    curves: list[list[tuple[int, float]]] = [[] for _ in range(len(sizes))]
    for step in tqdm(range(1, max_steps + 1), desc=f"training {len(sizes)} networks"):
        rows = active[:, None]
        idx = (torch.rand(len(active), batch_size, generator=generator, device=a.device) * sizes[rows]).long()
        streams, _ = forward(live, arch, a[rows, idx], b[rows, idx])
        loss = per_datapoint_loss(readout(live, arch, streams[-1]), targets[rows, idx]).mean(-1).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % eval_every and step != max_steps:
            continue
        share, mean_loss = _learned_share(live, arch, [t[active] for t in data], loss_threshold)
        for run, value in zip(active.tolist(), mean_loss.tolist(), strict=True):
            curves[run].append((step, value))
        done = (share >= stop_fraction) | (step == max_steps)
        for name, p in live.items():
            final[name][active[done]] = p.detach()[done]
        learned[active[done]] = share[done] >= stop_fraction
        steps[active[done]] = step
        if done.all():
            break
        keep = ~done
        active = active[keep]
        live, optimizer = _keep_runs(live, optimizer, keep, lr)
    return TrainResult(final, steps, learned, curves)


# --- measures of the logit-lens curves and the gradient norms (numpy, per run) ---------------------------------

def learned_layer(losses: np.ndarray, threshold: float) -> np.ndarray:
    """Per datapoint, the first layer from which its lens loss stays below `threshold` through the output
    (losses [..., L + 1, n]; L + 1 where even the output is not below it)."""
    below = np.asarray(losses) < threshold
    stays = np.flip(np.logical_and.accumulate(np.flip(below, axis=-2), axis=-2), axis=-2)
    return np.where(stays.any(axis=-2), stays.argmax(axis=-2), below.shape[-2])


def best_layer_share(losses: np.ndarray) -> np.ndarray:
    """Per datapoint, the largest one-layer gain in p(correct) = exp(−loss) as a share of its total gain from
    layer 0 to the output (losses [..., L + 1, n]; NaN where the total gain is not positive)."""
    prob = np.exp(-np.asarray(losses, dtype=float))
    total = prob[..., -1, :] - prob[..., 0, :]
    best = np.diff(prob, axis=-2).max(axis=-2)
    return np.where(total > 0, best / np.where(total > 0, total, 1.0), np.nan)


def peak_measures(norms: np.ndarray, factor: float) -> tuple[float, float]:
    """From gradient norms [n, L]: the share of datapoints whose largest layer exceeds `factor` times their median
    layer, and the mean profile's max over its median (the profile: each datapoint's norms over its median,
    averaged over datapoints)."""
    relative = norms / np.median(norms, axis=1, keepdims=True)
    profile = relative.mean(axis=0)
    return float((relative.max(axis=1) > factor).mean()), float(profile.max() / np.median(profile))


def lens_measures(losses: np.ndarray, threshold: float) -> dict[str, float]:
    """One run's logit-lens measures from its per-datapoint losses [L + 1, n]: the layer-0 and output mean loss,
    the line (slope, R²) through the mean loss at layers ⌈L/2⌉..L and the R² of a line through its log, the
    share learned at the output, the median best-layer share over datapoints learned at the output, the median
    learned layer as a fraction of L, and the mean share learned over the intermediate layers 1..L−1."""
    n_layers = losses.shape[0] - 1
    mean = losses.mean(axis=1)
    later = np.arange(math.ceil(n_layers / 2), n_layers + 1)
    slope, r2_line = line_fit(later, mean[later])
    at = learned_layer(losses, threshold)
    shares = best_layer_share(losses)[at <= n_layers]
    return {"layer0_loss": float(mean[0]), "output_loss": float(mean[-1]), "slope": slope, "r2_line": r2_line,
            "r2_log": line_fit(later, np.log(mean[later]))[1], "output_learned": float((at <= n_layers).mean()),
            "median_best_share": float(np.nanmedian(shares)) if np.isfinite(shares).any() else float("nan"),
            "median_learned_depth": float(np.median(at)) / n_layers,
            "intermediate_learned": float((losses[1:-1] < threshold).mean())}


@dataclass(frozen=True)
class TrainingSpec:
    """How every network of a sweep is trained and when it counts as learned."""

    batch_size: int
    lr: float
    max_steps: int
    eval_every: int
    loss_threshold: float  # a datapoint is learned at a layer when its lens loss there is below this
    stop_fraction: float  # a run stops, learned, when this share of its datapoints is learned at the output


@dataclass
class StackRun:
    """Every dataset size and seed of one architecture and shape, trained together and measured."""

    arch: Architecture
    d_model: int
    n_layers: int
    runs: list[tuple[int, int]]  # (dataset size, seed) of each run
    result: TrainResult
    losses: list[np.ndarray]  # per run: lens loss [L + 1, size]
    norms: np.ndarray  # per run: gradient norms of the correct logit [runs, n_grad, L]
    table: pd.DataFrame  # one row per run: shape, size, seed, steps, epochs, learned, lens and peak measures


def train_and_measure(arch: Architecture, vocab_size: int, d_model: int, n_layers: int, runs: list[tuple[int, int]],
                      spec: TrainingSpec, n_grad: int, peak_factor: float, seed: int,
                      device: torch.device | str = "cpu") -> StackRun:
    """Train one network per (dataset size, seed) in `runs` (residual width = MLP width = number of targets =
    d_model) to `spec`'s stopping rule, then measure each: logit-lens losses on its whole dataset and gradient
    norms of the correct logit on `n_grad` of its datapoints drawn without replacement."""
    check_int("n_grad", n_grad, minimum=1, maximum=min(size for size, _ in runs))
    datasets = [random_pair_dataset(size, vocab_size, d_model, seed=run_seed * 1_000_003 + size)
                for size, run_seed in runs]
    data = tuple(t.to(device) for t in stack_datasets(datasets))
    params = init_params(arch, len(runs), vocab_size, d_model, n_layers, d_model, d_model,
                         torch.Generator().manual_seed(seed))
    generator = torch.Generator(device).manual_seed(seed)
    result = train_to_threshold({k: v.to(device) for k, v in params.items()}, arch, data, spec.batch_size,
                                spec.lr, spec.max_steps, spec.eval_every, spec.loss_threshold, spec.stop_fraction,
                                generator)
    a, b, targets, sizes = data
    all_losses = logit_lens_loss(result.params, arch, a, b, targets).cpu().numpy()
    losses = [all_losses[r, :, :size] for r, (size, _) in enumerate(runs)]
    keys = torch.rand(a.shape, generator=generator, device=a.device)
    keys[torch.arange(a.shape[1], device=a.device)[None] >= sizes[:, None]] = 2.0  # padding is never drawn
    idx, rows = keys.argsort(dim=1)[:, :n_grad], torch.arange(len(runs), device=a.device)[:, None]
    norms = correct_logit_grad_norms(result.params, arch, a[rows, idx], b[rows, idx], targets[rows, idx])
    norms = norms.cpu().numpy()
    table = pd.DataFrame([{"arch": arch.name, "d_model": d_model, "n_layers": n_layers, "size": size,
                           "seed": run_seed, "steps": int(result.steps[r]),
                           "epochs": int(result.steps[r]) * spec.batch_size / size,
                           "learned": bool(result.learned[r]),
                           "loss_end_change": result.end_change(r, CONVERGENCE.last_fraction),
                           **lens_measures(losses[r], spec.loss_threshold),
                           **dict(zip(("share_with_peak", "profile_ratio"), peak_measures(norms[r], peak_factor),
                                      strict=True))}
                          for r, (size, run_seed) in enumerate(runs)])
    return StackRun(arch, d_model, n_layers, runs, result, losses, norms, table)


MEASURES = ("epochs", "output_learned", "layer0_loss", "slope", "r2_line", "r2_log", "median_best_share",
            "median_learned_depth", "intermediate_learned", "share_with_peak", "profile_ratio")


def cell_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (architecture, width, depth, dataset size): `learned` when every seed's run met the stopping
    rule, and the median over seeds of each measure."""
    keys = ["arch", "d_model", "n_layers", "size"]
    grouped = runs.groupby(keys, sort=False)
    cells = grouped[list(MEASURES)].median()
    cells.insert(0, "seeds", grouped.size())
    cells.insert(1, "learned", grouped["learned"].all())
    return cells.reset_index()


def size_trends(cells: pd.DataFrame) -> pd.DataFrame:
    """Per (architecture, width, depth): the number of learned sizes, whether the largest size is not learned
    (the sweep reaches the capacity limit), and the Spearman correlation between dataset size and the share
    learned over the intermediate layers across the learned sizes (0 with fewer than two, or no variation)."""
    rows = []
    for (arch, d_model, n_layers), group in cells.groupby(["arch", "d_model", "n_layers"], sort=False):
        learned = group[group.learned].sort_values("size")
        rho = rank_correlation(learned["size"], learned.intermediate_learned) if len(learned) > 1 else 0.0
        rows.append({"arch": arch, "d_model": d_model, "n_layers": n_layers, "n_learned": len(learned),
                     "capacity_reached": not bool(group.sort_values("size").learned.iloc[-1]),
                     "spearman": rho})
    return pd.DataFrame(rows)


def learned_sizes(cells: pd.DataFrame, stack: StackRun) -> list[int]:
    """The dataset sizes of `stack`'s architecture and shape that count as learned in `cells` (in sweep order)."""
    mine = cells[(cells.arch == stack.arch.name) & (cells.d_model == stack.d_model)
                 & (cells.n_layers == stack.n_layers) & cells.learned]
    return mine["size"].tolist()


def main_run_index(stack: StackRun, cells: pd.DataFrame) -> int:
    """Index in `stack.runs` of the first seed's run at the largest learned size (the first run, at the smallest
    size, if none is learned)."""
    sizes = learned_sizes(cells, stack)
    return [size for size, _ in stack.runs].index(sizes[-1]) if sizes else 0


def mean_lens_curves(stack: StackRun) -> dict[int, np.ndarray]:
    """Per dataset size, the seed-mean of the mean lens loss at each layer: {size: [L + 1]}."""
    by_size: dict[int, list[np.ndarray]] = {}
    for (size, _), losses in zip(stack.runs, stack.losses, strict=True):
        by_size.setdefault(size, []).append(losses.mean(axis=1))
    return {size: np.mean(curves, axis=0) for size, curves in by_size.items()}


def learned_by_layer(stack: StackRun, size: int, threshold: float) -> np.ndarray:
    """Seed-mean share of datapoints whose lens loss is below `threshold` at every layer, for one dataset size."""
    return np.mean([(losses < threshold).mean(axis=1)
                    for (s, _), losses in zip(stack.runs, stack.losses, strict=True) if s == size], axis=0)


def worst_learned_measures(cells: pd.DataFrame, trends: pd.DataFrame, arch: Architecture) -> dict[str, ledger.Measured]:
    """The claims' measured values for one architecture, each read at its worst learned (width, depth, size) (0
    where nothing is learned: a `learned_cells` precondition then makes the claims not testable), and the size
    trend's worst Spearman ρ, fewest learned sizes and whether every shape reaches the capacity limit."""
    c, t = cells[(cells.arch == arch.name) & cells.learned], trends[trends.arch == arch.name]

    def worst(column: str, how: str) -> float:
        return float(getattr(c[column], how)()) if len(c) else 0.0

    return {"learned_cells": ledger.count(len(c)), "min_r2_line": ledger.score(worst("r2_line", "min")),
            "max_slope": ledger.value(worst("slope", "max")), "median_r2_log": ledger.score(worst("r2_log", "median")),
            "max_best_share": ledger.ratio(worst("median_best_share", "max")),
            "min_learned_depth": ledger.share(worst("median_learned_depth", "min")),
            "max_share_with_peak": ledger.share(worst("share_with_peak", "max")),
            "max_profile_ratio": ledger.ratio(worst("profile_ratio", "max")),
            "min_spearman": ledger.score(t.spearman.min()), "min_learned_sizes": ledger.count(t.n_learned.min()),
            "capacity_reached": ledger.flag(t.capacity_reached.all())}
