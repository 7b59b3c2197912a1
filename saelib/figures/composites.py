"""The figures of notebook 01 (composite features in toy models): each function draws one figure from values the
notebook computed and returns it, laid out and saved by the caller (`saelib.figures.common.save_and_show`)."""

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from saelib.figures.common import curve_on_heatmap, heatmap_panels, interval_bars, interval_errorbar
from saelib.ledger import Measured
from saelib.metrics.cosine import abs_cosines, cosine_matrix
from saelib.toy_data import composite_cheaper_p3
from saelib.training.stacked import StackedSAEs

RIGGS_LATENTS = ["A∧¬B", "A∧B", "¬A∧B"]  # each latent of Riggs's solution, by the input it codes
CHANIN_FEATURES = ["parent", "child 1", "child 2"]


def draw_phase_share(ax: plt.Axes, runs: pd.DataFrame, column: str, title: str, p_both: float,
                     cmap: str = "rocket_r") -> None:
    """Share of seeds per (λ, p₃) cell whose bool `column` holds (heatmap, f3 rare at the bottom), with the
    analytic boundary below which the composite solution is cheaper."""
    table = runs.pivot_table(index="p3", columns="l1", values=column, aggfunc="mean").sort_index(ascending=False)
    sns.heatmap(table, ax=ax, vmin=0, vmax=1, cmap=cmap, annot=True, fmt=".2f", cbar_kws={"label": "share of seeds"})
    curve_on_heatmap(ax, table, lambda l1: composite_cheaper_p3(l1, p_both), color="tab:cyan", lw=2,
                     label="analytic boundary (composite cheaper below)")
    ax.set(xlabel="L1 coefficient λ", ylabel="f3 firing probability p₃", title=title)


def plot_phase_diagrams(grid: pd.DataFrame, p_both: float, seeds_per_cell: int) -> plt.Figure:
    """Till's toy over the (λ, p₃) grid (`grid`: one row per run with l1, p3, composite_solution, f3_recovered and
    live_latents of 3): the shares of seeds with the composite solution, with f3 recovered, with all latents live."""
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.4))
    draw_phase_share(axes[0], grid, "composite_solution", "Composite solution {f1, f2, f1+f2}", p_both)
    draw_phase_share(axes[1], grid, "f3_recovered", "f3 recovered (a live f3 atom)", p_both, cmap="mako_r")
    draw_phase_share(axes[2], grid.assign(all_live=grid.live_latents == 3), "all_live", "All 3 latents live", p_both,
                     cmap="mako_r")
    axes[0].legend(loc="lower left", fontsize="small")
    fig.suptitle(f"Till's toy, no penalty: {seeds_per_cell} seeds per cell")
    return fig


def plot_ortho_sweep(summary: pd.DataFrame, max_ev_drop: float, min_share: float) -> plt.Figure:
    """Share of regime runs with f3 recovered (95% interval) against the explained-variance drop, one series per
    (remedy, penalty form) with each point's weight written next to it, the no-penalty rows in black (`summary`: rows
    remedy, form, weight with share, low, high, ev_drop), and the criterion's cost and share lines."""
    fig, ax = plt.subplots(figsize=(8.5, 5))
    for (remedy, form), rows in summary[summary.form != "none"].groupby(["remedy", "form"], sort=False):
        interval_errorbar(ax, rows.ev_drop, rows.share, rows.low, rows.high, marker="o", capsize=3,
                          label=f"{form} penalty" + ("" if remedy == "none" else f", {remedy}"))
        for _, row in rows.iterrows():
            ax.annotate(f"{row.weight:g}", (row.ev_drop, row.share), textcoords="offset points", xytext=(4, 4),
                        fontsize="x-small")
    for remedy, marker in (("none", "s"), ("resampling", "D")):
        row = summary[(summary.remedy == remedy) & (summary.form == "none")].iloc[0]
        interval_errorbar(ax, [row.ev_drop], row.share, row.low, row.high, marker=marker, color="black", capsize=3,
                          linestyle="none", label=f"no penalty{'' if remedy == 'none' else ', resampling'}")
    ax.axvline(max_ev_drop, color="grey", linestyle=":", label=f"cost line ({max_ev_drop:g})")
    ax.axhline(min_share, color="grey", linestyle="--", label=f"most runs ({min_share:g})")
    ax.set(xlabel="drop of held-out explained variance vs no penalty (fraction)",
           ylabel="share of regime runs with f3 recovered",
           title="Decoder-cosine penalty in the composite regime (numbers: penalty weight; bars: 95% interval)")
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_riggs_encoder_decoder(riggs_encoder: torch.Tensor, exact_decoder: torch.Tensor,
                               trained: Mapping[int, Mapping[str, torch.Tensor]]) -> plt.Figure:
    """|cos| between the rows of Riggs's encoder, of the decoder that reconstructs his inputs exactly (row i =
    input i), and of each given trained SAE's weights ({seed: {"encoder" or "decoder": rows}}, one seed fills the
    2 × 2 grid), latents in Riggs's order."""
    panels = [("Riggs's weights: encoder rows", riggs_encoder), ("Riggs's weights: exact decoder rows", exact_decoder)]
    panels += [(f"Trained SAE (seed {seed}): {part} rows", rows) for seed, parts in trained.items()
               for part, rows in parts.items()]
    fig, axes = plt.subplots(2, 2, figsize=(9, 7.4))
    heatmap_panels(axes, [(title, abs_cosines(rows).numpy()) for title, rows in panels], title_size="small",
                   xlabel="latent (the input it codes)", ylabel="latent (the input it codes)", vmin=0, vmax=1,
                   cmap="rocket_r", annot=True, fmt=".2f", xticklabels=RIGGS_LATENTS, yticklabels=RIGGS_LATENTS,
                   cbar_kws={"label": "|cos|"})
    return fig


def plot_nearest_neighbour_cosines(cosines: Mapping[str, Mapping[int, torch.Tensor]], hook: str,
                                   d_model: int) -> plt.Figure:
    """One panel per rank k: the histogram of each direction set's k-th-neighbour cosines ({set name: {k: one
    cosine per direction}}, the SAE's live decoder rows first)."""
    first = next(iter(cosines.values()))
    ranks = list(first)
    fig, axes = plt.subplots(1, len(ranks), figsize=(4.3 * len(ranks), 3.6), squeeze=False)
    for ax, k in zip(axes[0], ranks, strict=True):
        for name, c in cosines.items():
            ax.hist(c[k].numpy(), bins=np.linspace(-0.4, 1.0, 71), alpha=0.55, label=name, density=True)
        ax.set(xlabel=f"cosine with the {k}{'st' if k == 1 else 'th'} nearest neighbour",
               ylabel="density (per unit cosine)", title=f"k = {k}")
    axes[0, 0].legend(fontsize="small")
    fig.suptitle(f"{len(first[ranks[0]])} live decoder directions ({hook}, d = {d_model}) vs random of the same "
                 "shape")
    return fig


def plot_feature_splitting(decoders: Mapping[int, torch.Tensor], features: torch.Tensor,
                           feature_names: Sequence[str], splitting: pd.DataFrame) -> plt.Figure:
    """Left: the decoder cosines with the true features of one SAE per width ({width: decoder rows}, two widths).
    Right: mean atom, composite and unexplained latents per SAE against width (`splitting`: one row per (width,
    seed) with those counts)."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), gridspec_kw={"width_ratios": [1, 1, 1.3]})
    for ax, (width, rows) in zip(axes[:2], decoders.items(), strict=True):
        # numbers only where the cells are large enough to read them
        sns.heatmap(cosine_matrix(rows, features).numpy(), ax=ax, vmin=-1, vmax=1, cmap="vlag", cbar=False,
                    xticklabels=feature_names, annot=width <= 7, fmt=".1f", annot_kws={"fontsize": "x-small"})
        ax.set(title=f"width {width}, seed 0: decoder cosine with the true features", xlabel="true feature",
               ylabel="latent")
    means = splitting.groupby("width")[["atoms", "composites", "unexplained"]].mean()
    for column in means:
        axes[2].plot(means.index, means[column], marker="o", label=f"{column} (live latents)")
    axes[2].plot(means.index, means.index, color="grey", linestyle=":", label="width")
    axes[2].set(xlabel="SAE width (latents)", ylabel="latents per SAE (mean over seeds)",
                title="What the extra latents become")
    axes[2].legend(fontsize="small")
    return fig


def plot_chanin_cosines(stacks: Mapping[str, StackedSAEs], features: Mapping[str, torch.Tensor]) -> plt.Figure:
    """One row per toy model: the cosines of seed 0's encoder and decoder rows with the model's true features
    (parent, then children)."""
    fig, axes = plt.subplots(len(stacks), 2, figsize=(8.4, 2.0 * len(stacks) + 0.6))
    heatmap_panels(axes, [(f"{name}, seed 0: {part}",
                           pd.DataFrame(cosine_matrix(rows, features[name]).numpy(),
                                        columns=CHANIN_FEATURES[:len(features[name])]))
                          for name, stack in stacks.items()
                          for part, rows in (("encoder", stack.W_enc[0].T), ("decoder", stack.W_dec[0]))],
                   title_size="small", xlabel="true feature (cosine)", ylabel="latent", vmin=-1, vmax=1, cmap="vlag",
                   annot=True, fmt=".2f", cbar=False)
    return fig


def plot_tied_vs_untied(measured: Mapping[str, Measured], l1: float, p3: float) -> plt.Figure:
    """Untied and tied shares of seeds with their 95% intervals, for absorption (Chanin's data) and the composite
    solution (Till's toy at λ = l1, p₃ = p3), read from `measured`'s {part}_{arm}_share, _low and _high."""
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.6))
    for ax, part, title in ((axes[0], "absorption", "Runs that absorb (C01.6 data, 3 latents)"),
                            (axes[1], "composite", f"Composite solution, Till's toy (λ={l1}, p₃={p3})")):
        mid, low, high = ([measured[f"{part}_{arm}_{end}"].value for arm in ("untied", "tied")]
                          for end in ("share", "low", "high"))
        interval_bars(ax, ["untied", "tied"], mid, low, high, colors=sns.color_palette()[:2])
        ax.set(ylim=(0, 1.05), xlabel="weights", ylabel="share of seeds (95% interval)")
        ax.set_title(title, fontsize="small")
    return fig


def plot_objective_curves(stacks: Mapping[str, StackedSAEs], fraction: float) -> plt.Figure:
    """Each stack's held-out training objective over training, every run divided by its last value (1 = where it
    ended), with the last `fraction` of training shaded: the stretch the convergence measure fits."""
    n = len(stacks)
    columns = min(n, 4)
    fig, axes = plt.subplots(-(-n // columns), columns, figsize=(4.2 * columns, 3.2 * -(-n // columns)),
                             squeeze=False)
    for ax, (name, stack) in zip(axes.flat, stacks.items(), strict=False):
        ax.plot(stack.curve_steps, stack.curve / stack.curve[-1], color="C0", alpha=0.15, lw=0.8)
        ax.axvspan((1 - fraction) * stack.curve_steps[-1], stack.curve_steps[-1], color="0.9", zorder=0)
        ax.set(yscale="log", title=name, xlabel="optimiser step", ylabel="held-out objective / final value")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig
