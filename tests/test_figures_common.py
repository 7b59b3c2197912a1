import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from saelib.figures.common import save_figure, set_theme  # noqa: E402


def make_figure():
    set_theme()
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1, 3, 2])
    ax.set_xlabel("x (units)")
    return fig


def test_same_figure_gives_same_bytes(isolated_dirs):
    png = save_figure(make_figure(), "fig_a")
    first_png, first_svg = png.read_bytes(), png.with_suffix(".svg").read_bytes()
    save_figure(make_figure(), "fig_a")
    assert png.read_bytes() == first_png
    assert png.with_suffix(".svg").read_bytes() == first_svg
    assert b"Date" not in first_svg and b"matplotlib.org" not in first_png
    plt.close("all")


def test_bad_names_are_refused(isolated_dirs):
    with pytest.raises(ValueError, match="figure name"):
        save_figure(make_figure(), "../escape")
    plt.close("all")


def test_curve_on_heatmap_passes_through_cell_centres_and_drops_the_outside():
    import numpy as np
    import pandas as pd

    from saelib.figures.common import curve_on_heatmap

    table = pd.DataFrame(np.zeros((3, 3)), index=[100.0, 10.0, 1.0], columns=[1.0, 10.0, 100.0])
    fig, ax = plt.subplots()
    curve_on_heatmap(ax, table, lambda x: x)  # y = x: the diagonal from bottom left to top right
    xs, ys = ax.lines[0].get_data()
    assert np.allclose(xs[[0, -1]], [0.5, 2.5]) and np.allclose(ys[[0, -1]], [2.5, 0.5])
    assert np.allclose(xs + ys, 3.0)  # log-linear in both axes: a straight line in cells
    curve_on_heatmap(ax, table, lambda x: 10 * x)  # leaves the table above y = 100
    xs, ys = ax.lines[1].get_data()
    assert 1.45 < xs.max() <= 1.5 + 1e-9 and ys.min() >= 0.5 - 1e-9
    plt.close("all")


def test_interval_bars_and_errorbars_reach_the_interval_ends():
    import numpy as np

    from saelib.figures.common import interval_bars, interval_errorbar

    fig, ax = plt.subplots()
    interval_bars(ax, ["untied", "tied"], [0.5, 0.2], [0.3, 0.1], [0.6, 0.5])
    assert [p.get_height() for p in ax.patches] == [0.5, 0.2]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["untied", "tied"]
    segments = [c.get_segments()[0] for c in ax.collections]  # one error bar per bar
    assert np.allclose([s[:, 1] for s in segments], [[0.3, 0.6], [0.1, 0.5]])
    bars = interval_errorbar(ax, [0.0], 0.4, 0.25, 0.9)
    assert np.allclose(bars.lines[2][0].get_segments()[0][:, 1], [0.25, 0.9])
    plt.close("all")


def test_save_and_show_saves_both_files_lays_out_only_when_asked_and_returns_nothing(isolated_dirs):
    from saelib.figures.common import save_and_show

    fig = make_figure()
    left = fig.subplotpars.left
    assert save_and_show(fig, "fig_loose", tight_layout=False) is None
    assert fig.subplotpars.left == left
    save_and_show(fig, "fig_tight")
    assert fig.subplotpars.left != left  # tight_layout moved the axes
    saved = isolated_dirs / "figures"
    assert all((saved / f"{name}.{ext}").exists() for name in ("fig_loose", "fig_tight") for ext in ("png", "svg"))
    plt.close("all")


def test_ramp_lines_and_stairs_darken_along_the_sweep():
    import numpy as np

    from saelib.figures.common import ramp_lines, ramp_stairs

    fig, ax = plt.subplots()
    ramp_lines(ax, [([0, 1], [1, 2], "a"), ([0, 1], [2, 3], "b")], plt.cm.Blues, low=0.5)
    assert [line.get_label() for line in ax.lines] == ["a", "b"]
    assert np.allclose([line.get_color() for line in ax.lines], [plt.cm.Blues(0.75), plt.cm.Blues(1.0)])
    ramp_stairs(ax, [([1, 2], "x"), ([3, 4], "y"), ([5, 6], "z")], [0, 1, 2], "C0", low=0.4)
    assert np.allclose([p.get_alpha() for p in ax.patches], [0.6, 0.8, 1.0])
    plt.close("all")


def test_heatmap_panels_draw_one_titled_heatmap_per_panel_and_switch_off_the_rest():
    import numpy as np
    import pandas as pd
    from matplotlib.font_manager import FontProperties

    from saelib.figures.common import heatmap_panels

    fig, axes = plt.subplots(2, 2)
    panels = [("first", np.eye(2)), ("second", pd.DataFrame(np.ones((3, 2)), columns=["a", "b"])),
              ("third", np.zeros((1, 2)))]
    heatmap_panels(axes, panels, title_size="small", xlabel="x", cbar=False)
    assert [ax.get_title() for ax in axes.flat[:3]] == ["first", "second", "third"]
    assert axes[0, 0].title.get_fontsize() == FontProperties(size="small").get_size_in_points()
    assert [t.get_text() for t in axes[0, 1].get_xticklabels()] == ["a", "b"] and axes[0, 1].get_xlabel() == "x"
    assert axes[0, 0].collections[0].get_array().reshape(2, 2).tolist() == [[1, 0], [0, 1]]
    assert axes[1, 0].axison and not axes[1, 1].axison
    with pytest.raises(ValueError, match="panels"):
        heatmap_panels(axes[0], panels)
    plt.close("all")
