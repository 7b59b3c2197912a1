"""Has a training curve flattened? The package's one flatness measure: the relative change of a recorded metric
(L0 and MSE, or a training objective or loss, measured on samples the run has not trained on) per 10% of training,
fitted over the last stretch of training: about 0 once the curve has stopped moving, negative while it still falls.
The tolerance and the stretch (`[convergence]` in saelib/claims.toml) are read by the claims that need it."""

from collections.abc import Mapping

import numpy as np
import pandas as pd

from saelib.metrics.fits import line_slopes


def end_changes(steps: np.ndarray, values: np.ndarray, fraction: float) -> np.ndarray:
    """Per column of values [points, runs] (or one curve [points]) recorded at `steps`: the relative change per 10%
    of training over the last `fraction` of the steps, from a least-squares line through log10(value) against
    step / last step, as 10^(0.1 · slope) − 1."""
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    last = steps.max()
    tail = steps >= (1 - fraction) * last
    if tail.sum() < 3:
        raise ValueError(f"need at least 3 recorded points in the last {fraction:.0%} of training, got {tail.sum()}")
    x = steps[tail] / last
    y = np.log10(np.clip(values[tail], 1e-12, None))
    slope = line_slopes(x, y.reshape(len(x), -1))
    changes = 10 ** (0.1 * slope) - 1
    return changes.reshape(values.shape[1:]) if values.ndim > 1 else changes[0]


def end_change(history: pd.DataFrame, column: str, fraction: float) -> float:
    """`end_changes` of one recorded history's `column` (a DataFrame with a `step` column)."""
    return float(end_changes(history["step"].to_numpy(), history[column].to_numpy(), fraction))


def worst_change(changes: Mapping[str, float]) -> tuple[float, str]:
    """(the largest |change|, its name) among named end changes: the run that decides whether all are flat."""
    if not changes:
        raise ValueError("no curves to judge")
    name = max(changes, key=lambda k: abs(changes[k]))
    return abs(float(changes[name])), name
