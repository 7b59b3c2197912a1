import numpy as np
import pytest

from saelib.metrics.fits import line_fit, line_slopes


def test_line_fit_gives_the_slope_and_the_squared_correlation():
    xs = np.arange(5.0)
    assert line_fit(xs, 2 - 0.5 * xs) == pytest.approx((-0.5, 1.0))
    ys = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    assert line_fit(xs, ys) == pytest.approx((np.polyfit(xs, ys, 1)[0], np.corrcoef(xs, ys)[0, 1] ** 2))
    assert line_fit(xs, np.ones(5)) == (0.0, 0.0)


def test_line_slopes_fits_every_column_as_line_fit_does():
    xs = np.linspace(0, 1, 6)
    ys = np.stack([3 * xs, -xs + np.sin(7 * xs), np.ones(6)], axis=1)
    expected = [line_fit(xs, ys[:, k])[0] for k in range(3)]
    assert line_slopes(xs, ys) == pytest.approx(expected, abs=1e-12)
