"""Train any registered sae-lens TrainingSAE with sae-lens's own SAETrainer (Adam, its fixed gradient-norm clipping
at 1.0, its coefficient schedules), recording a training curve."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from sae_lens import SAETrainer
from sae_lens.config import LoggingConfig, SAETrainerConfig
from sae_lens.saes.sae import TrainingSAE, TrainStepOutput

from saelib.metrics.evaluation import explained_variance
from saelib.repro import pick_device


@dataclass
class TrainedSAE:
    """A trained SAE, its training curve, and the trainer's end-of-training firing statistics."""

    sae: TrainingSAE
    history: pd.DataFrame  # one row per recorded step: step, samples, loss, each named loss, l0, mse, ...
    feature_density: torch.Tensor  # firing rate per latent over the trainer's last sparsity window
    dead: torch.Tensor  # bool per latent: no firing in the last `dead_feature_window` steps


@torch.no_grad()
def step_metrics(output: TrainStepOutput) -> dict[str, float]:
    """Loss terms, L0, MSE (mean over batch of summed squared error) and explained variance of one step."""
    metrics = {
        "loss": output.loss.item(),
        "l0": output.feature_acts.bool().float().sum(-1).mean().item(),
        "mse": (output.sae_out - output.sae_in).pow(2).sum(-1).mean().item(),
        "explained_variance": explained_variance(output.sae_in, output.sae_out),
    }
    metrics.update({name: float(value.item()) for name, value in output.losses.items()})
    return metrics


class RecordingSAETrainer(SAETrainer):
    """sae-lens's SAETrainer that also keeps `step_metrics` every `record_every` steps in `history`."""

    def __init__(self, *args: Any, record_every: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.record_every = record_every
        self.history: list[dict[str, float]] = []

    def _update_pbar(self, step_output: TrainStepOutput, pbar: Any, update_interval: int = 100) -> None:
        super()._update_pbar(step_output, pbar, update_interval)
        if self.n_training_steps % self.record_every == 0:
            self.history.append({"step": self.n_training_steps, "samples": self.n_training_samples,
                                 **step_metrics(step_output)})


def trainer_config(n_samples: int, batch_size: int, lr: float, device: torch.device | str,
                   **overrides: Any) -> SAETrainerConfig:
    """An SAETrainerConfig for local runs: constant LR, Adam(0.9, 0.999), no wandb, no checkpoints."""
    settings: dict[str, Any] = dict(
        total_training_samples=n_samples,
        train_batch_size_samples=batch_size,
        lr=lr,
        lr_end=lr,
        device=str(device),
        logger=LoggingConfig(log_to_wandb=False),
        n_checkpoints=0,
        checkpoint_path=None,
        save_final_checkpoint=False,
    )
    settings.update(overrides)
    return SAETrainerConfig(**settings)


def train_sae(sae: TrainingSAE, batches: Iterator[torch.Tensor], n_samples: int, batch_size: int,
              lr: float = 3e-4, device: torch.device | str | None = None, record_every: int = 50,
              **trainer_overrides: Any) -> TrainedSAE:
    """Train `sae` on `batches` for `n_samples` samples with sae-lens's trainer and return it with its history."""
    if n_samples < batch_size:
        raise ValueError(f"n_samples={n_samples} is smaller than one batch of {batch_size}")
    device = device or pick_device()
    cfg = trainer_config(n_samples, batch_size, lr, device, **trainer_overrides)
    trainer = RecordingSAETrainer(cfg=cfg, sae=sae, data_provider=batches, record_every=record_every)
    trained = trainer.fit()
    return TrainedSAE(
        sae=trained,
        history=pd.DataFrame(trainer.history),
        feature_density=trainer.feature_sparsity.detach().cpu(),
        dead=trainer.dead_neurons.detach().cpu(),
    )

