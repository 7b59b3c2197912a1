"""Shares of seeds: the share of runs with an outcome and its 95% Wilson interval for several outcomes at once
(`shares_of`) or for each group of a table of runs (`shares_by`), and how far apart two such intervals lie
(`interval_gap`)."""

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from saelib.ledger import Measured, share_with_interval


def shares_by(runs: pd.DataFrame, by: Sequence[str], success: str, **means: str) -> pd.DataFrame:
    """One row per group of `runs` (groups in order of appearance): the number of runs whose bool column `success`
    holds (`successes`), the group's size `n`, their `share` with the Wilson interval's `low` and `high` ends, and
    the mean of each column named in `means` (new name = column)."""
    table = (runs.groupby(list(by), sort=False)
             .agg(successes=(success, "sum"), n=(success, "size"), **{k: (v, "mean") for k, v in means.items()})
             .reset_index())
    bounds = [share_with_interval(success, int(k), int(n)) for k, n in zip(table.successes, table.n, strict=True)]
    for end in ("share", "low", "high"):
        table[end] = [b[f"{success}_{end}"].value for b in bounds]
    return table


def interval_gap(measured: Mapping[str, Measured], first: str, second: str) -> float:
    """The gap between the intervals of two measured shares (names with _low and _high entries): positive when they
    do not overlap (the distance between them), negative or zero when they do."""
    def end(name: str, side: str) -> float:
        return measured[f"{name}_{side}"].value

    return max(end(first, "low") - end(second, "high"), end(second, "low") - end(first, "high"))


def shares_of(**outcomes: Sequence[bool]) -> dict[str, Measured]:
    """`share_with_interval` of each named outcome of a set of runs (one bool per run): the share of runs where it
    holds with its Wilson interval, as {name}_share, {name}_low, {name}_high and {name}_n for every name."""
    measured = {}
    for name, holds in outcomes.items():
        flags = np.asarray(holds, dtype=bool)
        measured.update(share_with_interval(name, int(flags.sum()), len(flags)))
    return measured
