"""How much of a latent's activation its position in the context window explains (post 001's positional
high-density features): the mean activation at each position and η², the correlation ratio."""

import numpy as np
import pandas as pd


def position_profile(activations: np.ndarray, positions: np.ndarray) -> tuple[pd.Series, float]:
    """A latent's mean activation at each position (indexed by position) and η², the share of its activation's
    variance that the position explains (0 for a constant latent)."""
    a = pd.Series(activations)
    by_position = a.groupby(positions).mean()
    between = (a.groupby(positions).size() * (by_position - a.mean()) ** 2).sum()
    return by_position, float(between / max(((a - a.mean()) ** 2).sum(), 1e-12))
