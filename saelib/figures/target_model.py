"""The figures of notebook 00 (the target model): each function draws one figure from values the notebook computed
and returns it, saved by the caller (`saelib.figures.common.save_and_show`)."""

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def plot_loss_curve(history: pd.DataFrame, unigram: float, title: str, last_fraction: float | None = None,
                    ) -> plt.Figure:
    """Smoothed training loss and held-out loss against step (`history`: columns step, train_loss, val_loss), with
    the unigram baseline dashed and, given `last_fraction`, the stretch the convergence measure fits shaded."""
    fig, ax = plt.subplots(figsize=(7, 4))
    if last_fraction is not None:
        last = history["step"].max()
        ax.axvspan((1 - last_fraction) * last, last, color="0.92", zorder=0, label="convergence fit window")
    ax.plot(history["step"], history["train_loss"], label="train (smoothed batch loss)")
    ax.plot(history["step"], history["val_loss"], marker="o", label="held out")
    ax.axhline(unigram, color="grey", linestyle="--", label=f"unigram baseline ({unigram:.2f})")
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy (nats / token)")
    ax.set_title(title)
    ax.legend()
    return fig


def plot_activation_stats(acts_by_hook: Mapping[str, np.ndarray], hooks: Sequence[str]) -> plt.Figure:
    """Left: the L2 norms of the residual vectors at hooks[0]. Right: per neuron at hooks[1] (an MLP's GELU output),
    log10 of the fraction of tokens where it is positive, plus 1e-6 (never positive: -6). Activations: tokens × width.
    """
    residual_hook, mlp_hook = hooks
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    axes[0].hist(np.linalg.norm(acts_by_hook[residual_hook], axis=1), bins=60, color="C0")
    axes[0].set_xlabel("L2 norm of the residual vector")
    axes[0].set_ylabel("tokens")
    axes[0].set_title(residual_hook)
    axes[1].hist(np.log10((acts_by_hook[mlp_hook] > 0).mean(axis=0) + 1e-6), bins=40, color="C1")
    axes[1].set_xlabel("log10 fraction of tokens with activation > 0 (per neuron)")
    axes[1].set_ylabel("neurons")
    axes[1].set_title(mlp_hook + " (GELU output)")
    return fig
