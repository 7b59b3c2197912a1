"""Comparing SAE sweeps on the L0–MSE plane (post 001's Pareto plot): a table of runs' L0 and MSE, log–log
interpolation along a sweep, the coefficient at which a sweep reaches a target L0 (notebook 04's calibration of
λ0), dominance, and where runs lie against a sweep's frontier."""

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from saelib.metrics.evaluation import evaluate_sae


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


def run_table(runs: Mapping[Hashable, Any], train_rows: np.ndarray) -> pd.DataFrame:
    """One row per run (a `saelib.runs.SAERun`, keyed as in `runs`): held-out L0 and MSE (its evaluation), the same
    on `train_rows` (unscaled training tokens, scaled by each run's input scale), explained variance, dead share,
    and held-out over training-token L0."""
    rows = {}
    for key, run in runs.items():
        held, train = run.evaluation, evaluate_sae(run.sae, train_rows * run.input_scale)
        rows[key] = {"L0 held out": held.l0, "L0 train": train.l0, "MSE held out": held.mse, "MSE train": train.mse,
                     "expl. var.": held.explained_variance, "dead share": held.dead_share}
    table = pd.DataFrame(rows).T
    table["L0 held out / train"] = table["L0 held out"] / table["L0 train"]
    return table


def frontier_counts(rows: pd.DataFrame, sweep: pd.DataFrame, reference: pd.Series, l0: str = "L0 held out",
                    mse: str = "MSE held out") -> dict:
    """Runs (`rows`) against a sweep's frontier (its MSE log–log interpolated at the same L0) and against the
    sweep's reference run: n, how many dominate the reference, how many lie inside the sweep's L0 range, the share
    of those below the frontier (0 when none) and their median MSE over the frontier's (1 when none)."""
    frontier = [log_log_interp(sweep[l0], sweep[mse], x) for x in rows[l0]]
    in_range = [(y, edge) for y, edge in zip(rows[mse], frontier, strict=True) if not math.isnan(edge)]
    below_edge = sum(y < edge for y, edge in in_range)
    return {"n": len(rows), "in_range": len(in_range), "below_share": below_edge / len(in_range) if in_range else 0.0,
            "dominating": sum(dominates(x, y, reference[l0], reference[mse])
                              for x, y in zip(rows[l0], rows[mse], strict=True)),
            "mse_over_frontier": float(np.median([y / edge for y, edge in in_range])) if in_range else 1.0}
