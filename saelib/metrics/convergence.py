"""Has a training curve flattened? The relative change of a recorded metric per 10% of training, fitted over the
last stretch of training: about 0 once the curve has stopped moving, negative while it still falls."""

import numpy as np
import pandas as pd


def end_change(history: pd.DataFrame, column: str, fraction: float) -> float:
    """The relative change of `column` per 10% of training over the last `fraction` of the recorded steps: a
    least-squares line through log10(column) against step / last step, as 10^(0.1 · slope) − 1."""
    last = history["step"].max()
    tail = history[history["step"] >= (1 - fraction) * last]
    if len(tail) < 3:
        raise ValueError(f"need at least 3 recorded points in the last {fraction:.0%} of training, got {len(tail)}")
    slope = np.polyfit(tail["step"] / last, np.log10(tail[column].clip(lower=1e-12)), 1)[0]
    return float(10 ** (0.1 * slope) - 1)
