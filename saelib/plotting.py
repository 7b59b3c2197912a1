"""One seaborn theme for every figure, and byte-reproducible saving to figures/<name>.png and .svg."""

import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns

from saelib.atomic import atomic_write
from saelib.paths import FIGURES, ensure_dir

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
    folder = ensure_dir(FIGURES)
    svg_metadata = {"Date": None, "Creator": None}
    atomic_write(folder / f"{name}.svg", lambda tmp: fig.savefig(tmp, format="svg", metadata=svg_metadata))
    return atomic_write(folder / f"{name}.png", lambda tmp: fig.savefig(tmp, format="png", metadata={"Software": None}))
