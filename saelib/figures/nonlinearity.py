"""The figures of notebook 02 (the √n non-linearity post): each draws what the notebook computed and returns it,
laid out and saved by the caller (`saelib.figures.common.save_and_show`)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from saelib.nonlinearity import response_curve


def plot_response_curves(x: torch.Tensor, curves: dict[tuple[str, str], torch.Tensor], spread: torch.Tensor,
                         scores: dict[tuple, float], width: int) -> plt.Figure:
    """The four (input, output) response curves, the `spread` feature's own response at input √n·x, and that
    curve ÷ √n over GELU's; titles carry the scores."""
    sqrt_n = width**0.5
    rescaled = response_curve(x * sqrt_n, spread, spread)
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, ((f_in, f_out), y) in zip(axes[:, :2].ravel(), curves.items(), strict=True):
        ax.plot(x, y)
        ax.set(title=f"{f_in} input → {f_out} output (S = {scores[(f_in, f_out)]:.3f})",
               xlabel="input level x (feature units)", ylabel="output along f_out")
    axes[0, 2].plot(x * sqrt_n, rescaled, color="C2")
    score_rescaled = scores[("spread", "spread", "×√n")]
    axes[0, 2].set(title=f"spread → spread, input scaled by √n = {sqrt_n:g}\n(S = {score_rescaled:.3f})",
                   xlabel="input level √n·x (feature units)", ylabel="output along f_spread")
    axes[1, 2].plot(x, curves[("aligned", "aligned")], label="aligned → aligned: GELU(x)", lw=3, alpha=0.5)
    axes[1, 2].plot(x, rescaled / sqrt_n, "--", label="spread → spread at √n·x, ÷ √n")
    axes[1, 2].set(title="shape recovered", xlabel="input level x (feature units)", ylabel="output (÷ √n for spread)")
    axes[1, 2].legend(fontsize="small")
    fig.suptitle(f"Response of a feature through a {width}-neuron GELU layer (y axes differ in scale)")
    return fig


def plot_sqrt_n_law(scales: np.ndarray, law: dict[tuple[int, str], np.ndarray], widths: list[int],
                    gelu_score: float, x_max: float) -> plt.Figure:
    """Score against input scale s per width n (`law[(n, "even" or "random non-negative")]`), and against s / √n."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for i, n in enumerate(widths):
        for kind, style in (("random non-negative", "-"), ("even", ":")):
            label = f"n = {n}" if kind.startswith("random") else None
            axes[0].plot(scales, law[(n, kind)], style, color=f"C{i}", label=label)
            axes[1].plot(scales / n**0.5, law[(n, kind)], style, color=f"C{i}", label=label)
    for ax in axes:
        ax.axhline(gelu_score, color="grey", lw=1, ls="--")
        ax.set_xscale("log")
    axes[0].set(xlabel=f"input scale s (x ∈ [-{x_max:g}s, {x_max:g}s], feature units)",
                ylabel="non-linearity score S", title="spread feature: score against input scale")
    axes[1].set(xlabel="rescaled input scale s / √n", title="rescaled by √n: the curves collapse")
    axes[0].legend(title="solid: random non-negative\ndotted: even spread", fontsize="small")
    axes[1].text(0.02, gelu_score * 1.03, "aligned feature, s = 1 (GELU)", color="grey", fontsize="small",
                 transform=axes[1].get_yaxis_transform())
    return fig


def plot_sign_balance(x: torch.Tensor, features: dict[int, torch.Tensor], sign_scores: dict[int, float],
                      width: int) -> plt.Figure:
    """Each signed spread feature's response at input √n·x (`features` by number of negative entries), and the
    score against that number."""
    sqrt_n = width**0.5
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, (k, f) in enumerate(features.items()):
        axes[0].plot(x * sqrt_n, response_curve(x * sqrt_n, f, f), label=f"{k} negative",
                     color=plt.cm.viridis(i / max(1, len(features) - 1)))
    axes[0].set(xlabel="input level √n·x (feature units)", ylabel="output along the same feature",
                title=f"response of a spread feature, n = {width}")
    axes[0].legend(fontsize="small", ncol=2)
    axes[1].plot(list(sign_scores), list(sign_scores.values()), "o-")
    axes[1].set(xlabel=f"number of negative entries (of {width})", ylabel="non-linearity score S",
                title="balanced signs cancel the non-linearity")
    return fig


def plot_tradeoff(dims: list[int], n_on: list[int], grid: np.ndarray, active_count: list[float],
                  orthogonal_count: dict[str, list[float]], homogeneity_threshold: float, mmcs_threshold: float,
                  width: int) -> plt.Figure:
    """Left: active-feature count and orthogonal-feature counts ("signed", "non-negative") against
    dims-per-feature; right: the score grid [dims, n_on] with its threshold contour."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1.1, 1]})
    ax = axes[0]
    ax.plot(dims, np.maximum(active_count, 0.5), "o-", color="C0",
            label=f"active features before S ≤ {homogeneity_threshold:g}")
    ax.set(xscale="log", yscale="log", xlabel="dims per feature D (neurons)",
           ylabel=f"max other active features (S > {homogeneity_threshold:g})\n(0 drawn at 0.5)")
    ax.yaxis.label.set_color("C0")
    ax2 = ax.twinx()
    ax2.plot(dims, orthogonal_count["signed"], "s-", color="C3",
             label="orthogonal features (signed: the post's measure)")
    ax2.plot(dims, orthogonal_count["non-negative"], "^--", color="C1", label="orthogonal features (non-negative)")
    ax2.set(yscale="log", ylabel=f"max features with MMCS ≤ {mmcs_threshold}")
    ax2.yaxis.label.set_color("C3")
    ax2.grid(False)
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(lines, [line.get_label() for line in lines], fontsize="small", loc="lower left")
    ax.set_title(f"Trade-off at width {width}")
    sns.heatmap(pd.DataFrame(grid, index=dims, columns=n_on), ax=axes[1], cmap="viridis",
                cbar_kws={"label": "non-homogeneity score S"})
    axes[1].contour(np.arange(len(n_on)) + 0.5, np.arange(len(dims)) + 0.5, grid, levels=[homogeneity_threshold],
                    colors="white", linewidths=1.5)
    axes[1].set(xlabel="other active features n_on", ylabel="dims per feature D (neurons)",
                title=f"score S (white line: S = {homogeneity_threshold})")
    return fig
