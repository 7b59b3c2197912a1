"""L0–MSE frontier helpers: log–log interpolation, the calibration coefficient, dominance, end-of-training slope."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from sae_lens import StandardTrainingSAE, StandardTrainingSAEConfig

from saelib.metrics.evaluation import evaluate_sae
from saelib.metrics.frontier import coefficient_for_target, dominates, frontier_counts, log_log_interp, run_table


def test_log_log_interp_is_exact_on_a_power_law_and_nan_outside():
    xs = [1.0, 4.0, 16.0]
    ys = [3 * x**-0.5 for x in xs]
    assert log_log_interp(xs[::-1], ys[::-1], 2.0) == pytest.approx(3 * 2.0**-0.5)
    assert log_log_interp(xs, ys, 16.0) == pytest.approx(ys[-1])
    assert math.isnan(log_log_interp(xs, ys, 0.5)) and math.isnan(log_log_interp(xs, ys, 17.0))


def test_coefficient_for_target_inverts_a_power_law_inside_and_outside_the_grid():
    def l0(c):
        return 50 * c**-0.7

    grid = [10.0, 100.0, 1000.0]
    for target_c in (31.6, 500.0, 3000.0, 2.0):  # inside, inside, above and below the grid
        found = coefficient_for_target(grid, [l0(c) for c in grid], l0(target_c))
        assert found == pytest.approx(target_c, rel=1e-9)


def test_coefficient_for_target_takes_the_first_bracketing_segment_of_a_non_monotone_curve():
    found = coefficient_for_target([1.0, 2.0, 4.0], [10.0, 5.0, 6.0], 5.5)
    assert 1.0 < found < 2.0
    with pytest.raises(ValueError):
        coefficient_for_target([1.0, 1.0], [3.0, 4.0], 3.5)
    with pytest.raises(ValueError):
        coefficient_for_target([1.0, 2.0], [3.0, 3.0], 5.0)


def test_dominates_needs_both_strictly_lower():
    assert dominates(1.0, 1.0, 2.0, 2.0)
    assert not dominates(1.0, 2.0, 2.0, 2.0) and not dominates(3.0, 1.0, 2.0, 2.0)


def test_frontier_counts_against_a_power_law_sweep():
    sweep = pd.DataFrame({"L0 held out": [1.0, 10.0, 100.0], "MSE held out": [1.0, 0.1, 0.01]})  # MSE = 1 / L0
    reference = sweep.iloc[1]
    rows = pd.DataFrame({"L0 held out": [5.0, 20.0, 0.5, 200.0], "MSE held out": [0.1, 0.1, 0.05, 0.001]})
    counts = frontier_counts(rows, sweep, reference)
    # in range: L0 5 (frontier 0.2, below) and 20 (frontier 0.05, above); only (0.5, 0.05) beats (10, 0.1) on both
    assert (counts["n"], counts["in_range"], counts["below_share"], counts["dominating"]) == (4, 2, 0.5, 1)
    assert counts["mse_over_frontier"] == pytest.approx(np.median([0.1 / 0.2, 0.1 / 0.05]))
    outside = frontier_counts(rows.iloc[2:], sweep, reference)
    assert (outside["in_range"], outside["below_share"], outside["mse_over_frontier"]) == (0, 0.0, 1.0)


def test_run_table_evaluates_training_rows_at_each_runs_input_scale():
    torch.manual_seed(0)
    sae = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=3, d_sae=4))
    held_out, train = torch.randn(20, 3).numpy(), torch.randn(30, 3).numpy()
    runs = {("a", 1.0): SimpleNamespace(sae=sae, input_scale=1.0, evaluation=evaluate_sae(sae, held_out)),
            ("a", 2.0): SimpleNamespace(sae=sae, input_scale=2.0, evaluation=evaluate_sae(sae, held_out))}
    table = run_table(runs, train)
    assert list(table.index) == list(runs)
    for key, run in runs.items():
        on_train = evaluate_sae(sae, train * run.input_scale)
        assert table.loc[key, "L0 train"] == on_train.l0 and table.loc[key, "MSE train"] == on_train.mse
        assert table.loc[key, "L0 held out"] == run.evaluation.l0
        assert table.loc[key, "dead share"] == run.evaluation.dead_share
        assert table.loc[key, "L0 held out / train"] == pytest.approx(run.evaluation.l0 / on_train.l0)
