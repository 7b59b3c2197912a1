"""One seaborn theme for every figure, and byte-reproducible saving to figures/<name>.png and .svg."""

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from saelib.atomic import atomic_write
from saelib.paths import ensure_dir, figures_dir

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def set_theme() -> None:
    """The companion's plotting style: seaborn whitegrid, colourblind palette, fixed DPI and SVG hash salt."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    matplotlib.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": 120,
        "savefig.bbox": "tight",
        "svg.hashsalt": "saelib",  # fixed ids inside the SVG, so the same figure gives the same bytes
        "axes.titlesize": "medium",
    })


def save_figure(fig: plt.Figure, name: str) -> Path:
    """Write `fig` to figures/<name>.png and .svg without timestamps or versions in the metadata."""
    if not _NAME.match(name):
        raise ValueError(f"figure name {name!r} must be a plain file stem (letters, digits, _ . -)")
    folder = ensure_dir(figures_dir())
    svg_metadata = {"Date": None, "Creator": None}
    atomic_write(folder / f"{name}.svg", lambda tmp: fig.savefig(tmp, format="svg", metadata=svg_metadata))
    return atomic_write(folder / f"{name}.png", lambda tmp: fig.savefig(tmp, format="png", metadata={"Software": None}))


def save_and_show(fig: plt.Figure, name: str, tight_layout: bool = True) -> None:
    """The last lines of a figure cell: `fig.tight_layout()` (unless told not to), `save_figure` and `plt.show()`;
    returns nothing, so that a cell ending with it shows no saved path."""
    if tight_layout:
        fig.tight_layout()
    save_figure(fig, name)
    plt.show()


def curve_on_heatmap(ax: plt.Axes, table: pd.DataFrame, curve: Callable[[np.ndarray], np.ndarray],
                     **line: Any) -> None:
    """Draw y = curve(x) over a seaborn heatmap of `table` (columns: x increasing, index: y decreasing), reading
    both axes on log scales between cell centres; the part of the curve outside the index's range is left out."""
    xs, ys = table.columns.to_numpy(dtype=float), table.index.to_numpy(dtype=float)[::-1]
    x_fine = np.geomspace(xs.min(), xs.max(), 200)
    y_fine = curve(x_fine)
    inside = (y_fine >= ys.min()) & (y_fine <= ys.max())
    column = np.interp(np.log(x_fine), np.log(xs), np.arange(len(xs))) + 0.5
    row = len(ys) - 1 - np.interp(np.log(y_fine[inside]), np.log(ys), np.arange(len(ys))) + 0.5
    ax.plot(column[inside], row, **line)


def interval_errorbar(ax: plt.Axes, x: Any, mid: Any, low: Any, high: Any, **kwargs: Any) -> Any:
    """`ax.errorbar` of the points (x, mid) with bars down to `low` and up to `high` (e.g. 95% intervals)."""
    mid, low, high = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (mid, low, high))
    return ax.errorbar(x, mid, yerr=[mid - low, high - mid], **kwargs)


def interval_bars(ax: plt.Axes, labels: Sequence[str], mid: Sequence[float], low: Sequence[float],
                  high: Sequence[float], colors: Sequence[Any] | None = None) -> None:
    """One bar per label at 0, 1, ... with black bars from `low` to `high` (e.g. shares and their 95% intervals)."""
    colors = [None] * len(labels) if colors is None else colors
    for i, (label, m, lo, hi, color) in enumerate(zip(labels, mid, low, high, colors, strict=True)):
        ax.bar(i, m, color=color, label=label)
        interval_errorbar(ax, i, m, lo, hi, color="black", capsize=4)
    ax.set_xticks(range(len(labels)), labels)


def ramp_lines(ax: plt.Axes, curves: Sequence[tuple[Any, Any, str]], cmap: Any, low: float = 0.35) -> None:
    """One line per (x, y, label) of a sweep, coloured along `cmap` from near `low` (first) to 1 (last)."""
    for i, (x, y, label) in enumerate(curves):
        ax.plot(x, y, color=cmap(low + (1 - low) * (i + 1) / len(curves)), label=label)


def ramp_stairs(ax: plt.Axes, histograms: Sequence[tuple[Any, str]], edges: Any, color: Any, low: float = 0.3) -> None:
    """One step outline per (counts, label) of a sweep over shared bin `edges`, in one colour whose opacity rises
    from near `low` (first) to 1 (last)."""
    for i, (counts, label) in enumerate(histograms):
        ax.stairs(counts, edges, color=color, alpha=low + (1 - low) * (i + 1) / len(histograms), label=label)


def heatmap_panels(axes: Any, panels: Sequence[tuple[str, Any]], title_size: str | None = None,
                   xlabel: str = "", ylabel: str = "", **heatmap: Any) -> None:
    """One seaborn heatmap per (title, matrix) panel on the axes in reading order (`heatmap`: sns.heatmap's keyword
    arguments, the same for every panel; a DataFrame's labels become tick labels); axes left over are switched off."""
    axes = list(np.ravel(axes))
    if len(panels) > len(axes):
        raise ValueError(f"{len(panels)} panels for {len(axes)} axes")
    for ax, (title, matrix) in zip(axes, panels, strict=False):
        sns.heatmap(matrix, ax=ax, **heatmap)
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.set_title(title, **({} if title_size is None else {"fontsize": title_size}))
    for ax in axes[len(panels):]:
        ax.set_axis_off()
