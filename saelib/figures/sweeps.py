"""Figures of SAE sweeps, generic over arms (notebook 04's): training curves, the calibration of a coefficient, runs
on the L0–MSE plane, one bar per run (dead latents), log10-density histograms per sweep, the power-law fit of density
distributions and the positional profiles of dense latents. A sweep table is indexed by (arm, coefficient) with the
columns of `saelib.metrics.frontier.run_table`; arm i is drawn in colour Ci."""

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from saelib.figures.common import ramp_lines, ramp_stairs
from saelib.metrics.density import PowerLawFit, log10_density_histogram, power_law_fit

MARKERS = "osxvD<>^p*"


def arm_colours(index: pd.Index) -> dict[str, str]:
    """Colour Ci for the i-th arm of an (arm, coefficient) index, in order of first appearance."""
    return {arm: f"C{i}" for i, arm in enumerate(dict.fromkeys(index.get_level_values(0)))}


def training_curves(sweeps: Mapping[str, tuple[Mapping[float, pd.DataFrame], Any]], columns: Mapping[str, str],
                    window: tuple[float, float], figsize: tuple[float, float] = (13, 4.5)) -> plt.Figure:
    """One panel per history column (its label as value): a line per run of each sweep (name: (histories by
    coefficient, colormap)) against training tokens in millions, with `window` (millions of tokens) shaded."""
    fig, axes = plt.subplots(1, len(columns), figsize=figsize, squeeze=False)
    for ax, (column, label) in zip(axes[0], columns.items(), strict=True):
        for name, (histories, cmap) in sweeps.items():
            ramp_lines(ax, [(h["samples"] / 1e6, h[column], f"{name} {c:.3g}") for c, h in histories.items()], cmap)
        ax.axvspan(*window, color="0.9", zorder=0, label="end-of-training window")
        ax.set(yscale="log", xlabel="training tokens (millions)", ylabel=label, title=label)
    axes[0, 0].legend(fontsize=6, ncol=2)
    return fig


def l0_mse_planes(table: pd.DataFrame, planes: Sequence[tuple[str, str, str]], reference: tuple,
                  labels: Mapping[str, str], joined: Sequence[str], unjoined: Sequence[str], reference_label: str,
                  ylabel: str,
                  figsize: tuple[float, float] = (14, 5.2)) -> plt.Figure:
    """One panel per (L0 column, MSE column, where): each arm as a line sorted by L0 (solid if `joined`, markers
    only if `unjoined`, dotted otherwise), the `reference` row circled, both axes logarithmic."""
    fig, axes = plt.subplots(1, len(planes), figsize=figsize, sharey=True, squeeze=False)
    ref = table.loc[reference]
    for ax, (l0, mse, where) in zip(axes[0], planes, strict=True):
        for i, (arm, colour) in enumerate(arm_colours(table.index).items()):
            rows = table.loc[arm].sort_values(l0)
            ax.plot(rows[l0], rows[mse], marker=MARKERS[i % len(MARKERS)], color=colour, label=labels.get(arm, arm),
                    linestyle="-" if arm in joined else "none" if arm in unjoined else ":")
        ax.scatter([ref[l0]], [ref[mse]], s=260, facecolors="none", edgecolors="k", zorder=5, label=reference_label)
        ax.set(xscale="log", yscale="log", xlabel=f"L0 (active latents per token), {where}",
               title=f"L0 vs MSE on {where}")
    axes[0, 0].set_ylabel(ylabel)
    axes[0, -1].legend(fontsize=7, loc="lower left")
    return fig


def bars_by_arm(ax: plt.Axes, values: pd.Series) -> None:
    """One bar per run of an (arm, coefficient)-indexed series, coloured by arm, labelled "arm⏎coefficient"."""
    colours = arm_colours(values.index)
    ax.bar(range(len(values)), values.values, color=[colours[arm] for arm, _ in values.index])
    ax.set_xticks(range(len(values)), [f"{arm}\n{c:.3g}" for arm, c in values.index], rotation=90, fontsize=7)


def density_histograms(sweeps: Mapping[str, Mapping[float, np.ndarray]], colours: Mapping[str, Any],
                       edges: np.ndarray, floor: float, xlim: tuple[float, float] | None = None,
                       figsize: tuple[float, float] = (15, 4)) -> plt.Figure:
    """One panel per sweep (name: densities by coefficient): a log10-density histogram per run, opacity rising
    along the sweep, with `floor` (s_min) dashed."""
    fig, axes = plt.subplots(1, len(sweeps), figsize=figsize, sharey=True, squeeze=False)
    for ax, (name, densities) in zip(axes[0], sweeps.items(), strict=True):
        ramp_stairs(ax, [(log10_density_histogram(d, edges)[0], f"{c:.3g}") for c, d in densities.items()], edges,
                    colours[name])
        ax.axvline(np.log10(floor), color="0.4", linestyle="--", label=f"s_min = {floor:.2g}")
        ax.set(xlabel="log10 latent density (held out; -10 = never fired)", title=name, xlim=xlim)
        ax.legend(fontsize=6, title="coefficient", title_fontsize=6)
    axes[0, 0].set_ylabel(f"latents per {edges[1] - edges[0]:g}-decade bin")
    return fig


def power_law_panel(ax: plt.Axes, density: np.ndarray, edges: np.ndarray, colour: Any,
                    label: str) -> PowerLawFit | None:
    """Latents per log10-density bin of `edges` (the non-empty bins as points) and, when at least 3 bins are
    non-empty, the power-law fit through them as a line; returns the fit (None with fewer bins)."""
    centres = (edges[:-1] + edges[1:]) / 2
    counts, _ = log10_density_histogram(density, edges)
    ax.scatter(centres[counts > 0], counts[counts > 0], color=colour, label=label)
    if (counts > 0).sum() < 3:
        return None
    fit = power_law_fit(density, edges)
    ax.plot(centres, 10 ** (fit.intercept + fit.slope * centres), color=colour,
            label=f"fit: slope {fit.slope:.2f}, R² {fit.r_squared:.2f}")
    return fit


def calibration_plot(c_grid: Sequence[float], grid_l0: Sequence[float], reference: tuple[float, float],
                     target: tuple[float, float], chosen: tuple[float, float], xlabel: str) -> plt.Figure:
    """Held-out L0 along the calibration grid of c, with the L1 reference's L0 (`reference`: L0, its λ1) and the
    target (`target`: L0, its ratio to the reference's) as lines and the chosen c's trained run (`chosen`: c, L0)
    starred; both axes logarithmic."""
    (reference_l0, l1), (target_l0, target_ratio) = reference, target
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot(c_grid, grid_l0, "o-", color="C1", label="calibration grid (anchor λ0 × c, full length)")
    ax.axhline(reference_l0, color="C0", linestyle="--", label=f"L1 reference (λ1 = {l1:g})")
    ax.axhline(target_l0, color="k", linestyle=":", label=f"target: {target_ratio:g} × the reference's L0")
    ax.scatter([chosen[0]], [chosen[1]], marker="*", s=250, color="k", zorder=5, label="chosen c, trained")
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="held-out L0 (active latents per token)",
           title="Calibration of c at full length")
    ax.legend(fontsize=8)
    return fig


def dead_latent_bars(dead_percent: pd.Series, threshold: float, threshold_label: str, title: str) -> plt.Figure:
    """`bars_by_arm` of each run's dead latents (percent of the width, held out), with `threshold` (percent) dashed."""
    fig, ax = plt.subplots(figsize=(11, 4))
    bars_by_arm(ax, dead_percent)
    ax.axhline(threshold, color="0.5", linestyle="--", label=threshold_label)
    ax.set(ylabel="dead latents (% of width, held out)", title=title)
    ax.legend(fontsize=8)
    return fig


def power_law_figure(densities: Mapping[str, tuple[np.ndarray, Any]], edges: np.ndarray, floor: float,
                     title: str) -> tuple[plt.Figure, list[PowerLawFit | None]]:
    """`power_law_panel` of each named (density, colour) on one axis with log-scaled counts, `floor` (s_min)
    dashed; returns the figure and the fits, in the order of `densities`."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    fits = [power_law_panel(ax, density, edges, colour, name) for name, (density, colour) in densities.items()]
    ax.axvline(math.log10(floor), color="0.5", linestyle="--", label="s_min")
    ax.set(yscale="log", xlabel="log10 latent density (held out)",
           ylabel=f"latents per {edges[1] - edges[0]:g}-decade bin", title=title)
    ax.legend(fontsize=7)
    return fig, fits


def positional_profiles(profiles: Mapping[int, tuple[pd.Series, float]], density: np.ndarray, window: int,
                        run: str) -> plt.Figure:
    """One line per dense latent of the `run` (latent: its `position_profile`, i.e. mean activation by position and
    η²) against position in the `window`-token context, labelled with its density and η²."""
    fig, ax = plt.subplots(figsize=(9, 4))
    for latent, (by_position, eta) in profiles.items():
        ax.plot(by_position.index, by_position.values,
                label=f"latent {latent}: density {density[latent]:.2f}, η² {eta:.2f}")
    ax.set(xlabel=f"position in the {window}-token window", ylabel="mean activation (held out)",
           title=f"The {len(profiles)} densest latents of the {run} run, by position")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig
