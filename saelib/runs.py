"""Cached SAE runs, one call for every notebook: `load_or_train(spec)`.

A frozen `SAERunSpec` (the sae-lens SAE config, the activations it reads, the trainer settings, the seed) hashes,
together with the target model's own key, to a folder under data/sae_runs/ holding

- the SAE in sae-lens's format (`cfg.json`, `sae_weights.safetensors`: `SAE.load_from_disk` reads it),
- `history.csv`: the training curve on training batches (step, samples, loss and its terms, l0, mse, explained
  variance),
- `evaluation.json` and `firing_rates.npy`: the held-out evaluation (L0, MSE, explained variance, dead share,
  per-latent firing rates) and the input scale,
- `spec.json` (what made it) and the `COMPLETE` marker, written last.

The folder is built in private staging and swapped in whole (`saelib.atomic.atomic_dir`), so an interrupted run
leaves nothing that a later call would load. A second call with the same spec loads and trains nothing.
"""

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sae_lens.registry import get_sae_training_class
from sae_lens.saes.sae import TrainingSAE, TrainingSAEConfig

from saelib.activations import activation_batches, cached_activations, hook_layer
from saelib.atomic import atomic_dir, atomic_write_json
from saelib.metrics.evaluation import SAEEvaluation, evaluate_sae
from saelib.params import ParameterError, check_choice, check_int, check_positive
from saelib.paths import data_dir
from saelib.repro import pick_device, seed_everything
from saelib.saes.reference_l1 import geometric_median
from saelib.target_model import TargetModel, target_for
from saelib.training.sae_lens_trainer import train_sae

TRAINERS = ("fast", "sae_lens")
INPUT_SCALES = ("none", "unit_rms")
TRAIN_WINDOWS = ("first", "spread")
COMPLETE = "COMPLETE"
IN_MEMORY_LIMIT_BYTES = 4 * 2**30  # training activations up to this size are held in memory, not memory-mapped
GEOMETRIC_MEDIAN_ROWS = 65536  # evenly spaced training rows whose geometric median starts b_dec where asked


@dataclass(frozen=True)
class ActivationSpec:
    """The activations an SAE reads: notebook 00's target model for (profile, seed), or a pretrained model on the
    real path, at one hook; training tokens from the train split, held-out tokens from the validation split."""

    hook: str
    n_train_tokens: int
    n_eval_tokens: int
    target_profile: str = "default"
    target_seed: int = 0
    model_name: str | None = None
    pretrained_weights: bool = True  # False: the pretrained architecture with random weights (shape tests only)
    # "unit_rms": every input multiplied by one constant so that the mean ‖x‖ over training tokens is √d
    # (sae-lens's `expected_average_only_in` convention); "none": raw activations
    input_scale: str = "none"
    # "first": the train split's first windows (its first files); "spread": windows evenly spaced over the whole
    # split, so that training tokens come from the distribution the held-out windows are drawn from
    train_windows: str = "first"

    def __post_init__(self):
        hook_layer(self.hook)
        check_int("n_train_tokens", self.n_train_tokens, minimum=1)
        check_int("n_eval_tokens", self.n_eval_tokens, minimum=1)
        check_int("target_seed", self.target_seed, minimum=0)
        check_choice("input_scale", self.input_scale, INPUT_SCALES)
        check_choice("train_windows", self.train_windows, TRAIN_WINDOWS)


@dataclass(frozen=True)
class TrainerSpec:
    """How an SAE is trained: Adam at a constant learning rate for `steps` batches of `batch_size` tokens.

    `trainer="fast"` is `saelib.training.fast` (no gradient clipping unless `clip_grad_norm` is set);
    `trainer="sae_lens"` is sae-lens's own SAETrainer, which always clips the gradient norm at 1.0."""

    steps: int
    batch_size: int
    lr: float
    trainer: str = "fast"
    clip_grad_norm: float | None = None
    adam_betas: tuple[float, float] = (0.9, 0.999)
    record_every: int = 50
    batch_seed: int | None = None  # the batch order's seed; None: the run's own seed

    def __post_init__(self):
        check_int("steps", self.steps, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_positive("lr", self.lr)
        check_choice("trainer", self.trainer, TRAINERS)
        check_int("record_every", self.record_every, minimum=1)
        if self.trainer == "sae_lens" and self.clip_grad_norm not in (None, 1.0):
            raise ParameterError("clip_grad_norm", "sae-lens's trainer always clips at 1.0", self.clip_grad_norm)
        if self.clip_grad_norm is not None:
            check_positive("clip_grad_norm", self.clip_grad_norm)


@dataclass(frozen=True)
class SAERunSpec:
    """Everything that determines one trained SAE."""

    sae: TrainingSAEConfig
    data: ActivationSpec
    trainer: TrainerSpec
    seed: int = 0

    def __post_init__(self):
        check_int("seed", self.seed, minimum=0)

    def as_dict(self) -> dict[str, Any]:
        """The spec as plain JSON-able data (the SAE config without its device or metadata)."""
        sae = {k: v for k, v in self.sae.to_dict().items() if k not in ("metadata", "device")}
        return {"sae": sae, "data": asdict(self.data), "trainer": asdict(self.trainer), "seed": self.seed}


@dataclass
class SAERun:
    """A trained SAE with its training curve and its held-out evaluation."""

    spec: SAERunSpec
    sae: TrainingSAE
    history: pd.DataFrame
    evaluation: SAEEvaluation
    input_scale: float
    folder: Path


def run_key(spec: SAERunSpec, target_key: str) -> str:
    """A short hash of the spec and the target model's key: it names the run's folder."""
    blob = json.dumps({"spec": spec.as_dict(), "target": target_key}, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def run_folder(spec: SAERunSpec, target_key: str) -> Path:
    """data/sae_runs/<architecture>_<latents>_<hash>."""
    return data_dir() / "sae_runs" / f"{spec.sae.architecture()}_{spec.sae.d_sae}_{run_key(spec, target_key)}"


def target_of(data: ActivationSpec, device: torch.device | str | None = None) -> TargetModel:
    """The target model an activation spec reads from."""
    overrides = {} if data.pretrained_weights else {"pretrained_weights": False}
    return target_for(data.target_profile, data.target_seed, model_name=data.model_name, device=device, **overrides)


def input_scale_factor(train: np.ndarray | torch.Tensor, mode: str, n_rows: int = 65536) -> float:
    """1 for mode "none"; for "unit_rms", √d over the mean row norm of up to `n_rows` evenly spaced rows."""
    check_choice("input_scale", mode, INPUT_SCALES)
    if mode == "none":
        return 1.0
    rows = np.linspace(0, len(train) - 1, min(len(train), n_rows)).astype(int)
    sample = np.asarray(train[rows], dtype=np.float64)
    return float(math.sqrt(sample.shape[1]) / np.linalg.norm(sample, axis=1).mean())


def training_activations(tm: TargetModel, data: ActivationSpec) -> np.ndarray | Any:
    """The training activations: in memory when they fit under IN_MEMORY_LIMIT_BYTES, else memory-mapped."""
    cache = cached_activations(tm, data.hook, data.n_train_tokens, "train", spread=data.train_windows == "spread")
    return np.asarray(cache) if 4 * cache.shape[0] * cache.shape[1] <= IN_MEMORY_LIMIT_BYTES else cache


def eval_activations(tm: TargetModel, data: ActivationSpec, scale: float) -> np.ndarray:
    """The first `n_eval_tokens` held-out activations, scaled like the training inputs."""
    return np.asarray(cached_activations(tm, data.hook, data.n_eval_tokens, "val"))[:data.n_eval_tokens] * scale


def new_sae(spec: SAERunSpec, device: torch.device) -> TrainingSAE:
    """A freshly initialised SAE of the spec's registered architecture, seeded with the spec's seed."""
    seed_everything(spec.seed)
    sae_class = get_sae_training_class(spec.sae.architecture())[0]
    return sae_class(spec.sae).to(device)


def initial_b_dec(train: Any, scale: float, n_rows: int = GEOMETRIC_MEDIAN_ROWS) -> torch.Tensor:
    """The geometric median of up to `n_rows` evenly spaced training rows, scaled like the inputs."""
    rows = np.linspace(0, len(train) - 1, min(len(train), n_rows)).astype(int)
    return geometric_median(torch.as_tensor(np.asarray(train[rows], dtype=np.float32) * scale))


def set_data_dependent_init(saes: Sequence[TrainingSAE], train: Any, scale: float) -> None:
    """b_dec at the scaled training activations' geometric median for every SAE whose config has
    `b_dec_init="geometric_median"` (post 001's L1 reference); the others are left as drawn."""
    asked = [sae for sae in saes if getattr(sae.cfg, "b_dec_init", "zeros") == "geometric_median"]
    if asked:
        median = initial_b_dec(train, scale)
        for sae in asked:
            with torch.no_grad():
                sae.b_dec.copy_(median.to(sae.b_dec.device, sae.b_dec.dtype))


def scaled_batches(train: Any, scale: float, trainer: TrainerSpec, seed: int, device: torch.device):
    """Training batches in the spec's order, multiplied by the input scale."""
    batch_seed = seed if trainer.batch_seed is None else trainer.batch_seed
    for batch in activation_batches(train, trainer.batch_size, batch_seed, device=device):
        yield batch * scale if scale != 1.0 else batch


def train_with_sae_lens(sae: TrainingSAE, batches, trainer: TrainerSpec, device: torch.device) -> pd.DataFrame:
    """Train `sae` in place with sae-lens's SAETrainer; return its training curve."""
    trained = train_sae(sae, batches, n_samples=trainer.steps * trainer.batch_size, batch_size=trainer.batch_size,
                        lr=trainer.lr, device=device, record_every=trainer.record_every,
                        adam_beta1=trainer.adam_betas[0], adam_beta2=trainer.adam_betas[1])
    return trained.history


def save_run(folder: Path, spec: SAERunSpec, sae: TrainingSAE, history: pd.DataFrame, evaluation: SAEEvaluation,
             scale: float) -> None:
    """Write the SAE (sae-lens format), history, evaluation and spec into `folder` atomically, marker last."""
    with atomic_dir(folder) as staging:
        sae.save_model(staging)
        history.to_csv(staging / "history.csv", index=False)
        np.save(staging / "firing_rates.npy", evaluation.firing_rates)
        atomic_write_json(staging / "evaluation.json", {**evaluation.summary(), "input_scale": scale})
        atomic_write_json(staging / "spec.json", json.loads(json.dumps(spec.as_dict(), default=str)))
        (staging / COMPLETE).write_text("ok\n")


def is_complete(folder: Path) -> bool:
    """Whether `folder` holds a completely written run."""
    return (Path(folder) / COMPLETE).is_file()


def load_training_sae(folder: Path, device: torch.device | str = "cpu") -> TrainingSAE:
    """A saved SAE loaded back as the registered training class of its architecture."""
    if not is_complete(folder):
        raise FileNotFoundError(f"no completely saved SAE run in {Path(folder).name}")
    return TrainingSAE.load_from_disk(folder, device=str(device))


def load_run(folder: Path, spec: SAERunSpec, device: torch.device | str = "cpu") -> SAERun:
    """A completely written run folder read back."""
    summary = json.loads((folder / "evaluation.json").read_text())
    evaluation = SAEEvaluation(np.load(folder / "firing_rates.npy"), summary["l0"], summary["mse"],
                               summary["explained_variance"])
    return SAERun(spec, load_training_sae(folder, device), pd.read_csv(folder / "history.csv"), evaluation,
                  summary["input_scale"], folder)


def train_group(specs: Sequence[SAERunSpec], tm: TargetModel, device: torch.device) -> list[SAERun]:
    """Train runs that share their activations and trainer settings, evaluate and save each one."""
    data, trainer = specs[0].data, specs[0].trainer
    train = training_activations(tm, data)
    scale = input_scale_factor(train, data.input_scale)
    held_out = eval_activations(tm, data, scale)
    saes = [new_sae(spec, device) for spec in specs]
    set_data_dependent_init(saes, train, scale)
    if trainer.trainer == "sae_lens":
        histories = [train_with_sae_lens(sae, scaled_batches(train, scale, trainer, spec.seed, device), trainer,
                                         device) for sae, spec in zip(saes, specs, strict=True)]
    else:
        from saelib.training.fast import train_fast

        batches = scaled_batches(train, scale, trainer, specs[0].seed, device)
        histories = train_fast(saes, batches, trainer, device)
    runs = []
    for spec, sae, history in zip(specs, saes, histories, strict=True):
        sae.eval()
        evaluation = evaluate_sae(sae, held_out)
        folder = run_folder(spec, tm.key)
        save_run(folder, spec, sae, history, evaluation, scale)
        runs.append(load_run(folder, spec, device))
    return runs


def group_key(spec: SAERunSpec) -> tuple:
    """Runs with equal keys can share one training loop (the fast trainer trains them on the same batches)."""
    trainer = spec.trainer
    batch_seed = spec.seed if trainer.batch_seed is None else trainer.batch_seed
    if trainer.trainer == "sae_lens":
        return (id(spec),)
    return (spec.data, trainer, batch_seed, spec.sae.d_in)


def load_or_train_many(specs: Sequence[SAERunSpec], device: torch.device | str | None = None) -> list[SAERun]:
    """Every spec's run, loaded from data/sae_runs/ when cached, else trained (runs that share activations,
    trainer settings and batch order train together in one loop) and cached. Order follows `specs`."""
    device = torch.device(device) if device else pick_device()
    targets: dict[ActivationSpec, TargetModel] = {}
    results: dict[int, SAERun] = {}
    pending: dict[tuple, list[int]] = {}
    for index, spec in enumerate(specs):
        tm = targets.setdefault(spec.data, target_of(spec.data, device))
        folder = run_folder(spec, tm.key)
        if is_complete(folder):
            results[index] = load_run(folder, spec, device)
        else:
            pending.setdefault(group_key(spec), []).append(index)
    for indices in pending.values():
        group = [specs[i] for i in indices]
        for index, run in zip(indices, train_group(group, targets[group[0].data], device), strict=True):
            results[index] = run
    return [results[i] for i in range(len(specs))]


def load_or_train(spec: SAERunSpec, device: torch.device | str | None = None) -> SAERun:
    """The run of `spec`: loaded from data/sae_runs/ when cached, else trained, evaluated and cached."""
    return load_or_train_many([spec], device)[0]
