"""Straight-line fits, the package's one home for them: scipy's `linregress` for one line with its R², and a
least-squares slope for many curves at once (the convergence measure fits every run of a stack in one call)."""

import numpy as np
from scipy import stats


def line_fit(xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
    """Slope and R² of the least-squares line through the points (scipy's `linregress`; R² = 0 for constant ys)."""
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if np.ptp(ys) == 0:
        return 0.0, 0.0
    fit = stats.linregress(xs, ys)
    return float(fit.slope), float(fit.rvalue**2)


def line_slopes(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The least-squares slope of every column of ys [points, curves] against xs [points]."""
    return np.polyfit(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), 1)[0]
