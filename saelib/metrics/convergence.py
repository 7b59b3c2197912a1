"""Has a training curve flattened? The relative change of a recorded metric between the last stretch of training
and the stretch just before it: small when the curve has stopped moving, large while it still falls or rises."""

import numpy as np
from numpy.typing import ArrayLike


def final_relative_change(values: ArrayLike, fraction: float = 0.2) -> float:
    """(mean of the stretch before the last `fraction` of the records − mean of the last `fraction`) / |mean of
    the last|: positive while the metric still falls, negative while it rises, ~0 once flat."""
    values = np.asarray(values, dtype=np.float64)
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction={fraction} must lie in (0, 0.5]")
    window = int(round(fraction * len(values)))
    if window < 1:
        raise ValueError(f"{len(values)} records are too few for a final stretch of {fraction:.0%}")
    last, before = values[-window:].mean(), values[-2 * window:-window].mean()
    if last == 0:
        raise ValueError("the metric's final stretch averages 0; its relative change is undefined")
    return float((before - last) / abs(last))


def has_flattened(values: ArrayLike, tolerance: float, fraction: float = 0.2) -> bool:
    """Whether the metric moved by at most `tolerance` (relative) between the last two stretches of `fraction`."""
    return abs(final_relative_change(values, fraction)) <= tolerance
