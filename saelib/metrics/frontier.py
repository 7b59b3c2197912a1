"""Comparing SAE sweeps on the L0–MSE plane (post 001's Pareto plot): log–log interpolation along a sweep, the
coefficient at which a sweep reaches a target L0 (notebook 04's calibration of λ0), and dominance."""

import math
from collections.abc import Sequence

import numpy as np


def log_log_interp(xs: Sequence[float], ys: Sequence[float], x: float) -> float:
    """y at x on the piecewise-linear curve through (log x_i, log y_i), sorted by x; NaN outside [min x, max x]."""
    order = np.argsort(xs)
    log_x, log_y = np.log(np.asarray(xs, dtype=float)[order]), np.log(np.asarray(ys, dtype=float)[order])
    if len(log_x) == 0 or not log_x[0] <= math.log(x) <= log_x[-1]:
        return float("nan")
    return float(np.exp(np.interp(math.log(x), log_x, log_y)))


def coefficient_for_target(coefficients: Sequence[float], values: Sequence[float], target: float) -> float:
    """The coefficient at which `values` (e.g. L0, falling as the coefficient grows) reaches `target`, by log–log
    interpolation between the two neighbouring grid points that bracket it; outside the grid, the log–log line
    through the two nearest points is extended. Needs at least two distinct coefficients."""
    c, v = np.log(np.asarray(coefficients, dtype=float)), np.log(np.asarray(values, dtype=float))
    order = np.argsort(c)
    c, v = c[order], v[order]
    if len(np.unique(c)) < 2:
        raise ValueError("need at least two distinct coefficients")
    t = math.log(target)
    crossings = [i for i in range(len(c) - 1) if (v[i] - t) * (v[i + 1] - t) <= 0 and v[i] != v[i + 1]]
    if crossings:
        i = crossings[0]
    else:  # extend the segment nearest to the target in value
        i = int(np.argmin([min(abs(v[j] - t), abs(v[j + 1] - t)) for j in range(len(c) - 1)]))
        if v[i] == v[i + 1]:
            raise ValueError("the values do not change along the grid; no coefficient reaches the target")
    slope = (v[i + 1] - v[i]) / (c[i + 1] - c[i])
    return float(math.exp(c[i] + (t - v[i]) / slope))


def dominates(l0: float, mse: float, reference_l0: float, reference_mse: float) -> bool:
    """Whether a run has both a lower L0 and a lower MSE than the reference."""
    return l0 < reference_l0 and mse < reference_mse
