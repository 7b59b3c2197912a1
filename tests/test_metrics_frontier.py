"""L0–MSE frontier helpers: log–log interpolation, the calibration coefficient, dominance, end-of-training slope."""

import math

import pytest

from saelib.metrics.frontier import coefficient_for_target, dominates, log_log_interp


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
