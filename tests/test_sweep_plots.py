import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from saelib.sweep_plots import (  # noqa: E402
    arm_colours,
    bars_by_arm,
    density_histograms,
    l0_mse_planes,
    power_law_panel,
    training_curves,
)

INDEX = pd.MultiIndex.from_tuples([("L1", 1.0), ("L1", 2.0), ("ours", 0.5), ("grid", 3.0)], names=["arm", "c"])
TABLE = pd.DataFrame({"L0": [10.0, 5.0, 4.0, 6.0], "MSE": [1.0, 2.0, 1.5, 1.2]}, index=INDEX)


def test_arm_colours_follow_first_appearance():
    assert arm_colours(INDEX) == {"L1": "C0", "ours": "C1", "grid": "C2"}


def test_l0_mse_planes_draw_each_arm_sorted_by_l0_and_circle_the_reference():
    fig = l0_mse_planes(TABLE, [("L0", "MSE", "here")], ("L1", 2.0), {"ours": "our arm"}, joined=("L1",),
                        unjoined=("grid",), reference_label="ref", ylabel="MSE")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["L1", "our arm", "grid"]
    assert list(ax.lines[0].get_xdata()) == [5.0, 10.0]  # sorted by L0
    assert [line.get_linestyle() for line in ax.lines] == ["-", ":", "None"]
    assert np.allclose(ax.collections[0].get_offsets(), [[5.0, 2.0]])
    plt.close("all")


def test_training_curves_one_panel_per_column_one_line_per_run():
    history = pd.DataFrame({"samples": [0, 1e6, 2e6], "l0": [5.0, 3.0, 2.0], "mse": [1.0, 0.5, 0.4]})
    fig = training_curves({"a": ({1.0: history, 2.0: history}, plt.cm.Blues), "b": ({0.1: history}, plt.cm.Reds)},
                          {"l0": "L0", "mse": "MSE"}, (1.5, 2.0))
    assert len(fig.axes) == 2 and all(len(ax.lines) == 3 for ax in fig.axes)
    assert [ax.get_ylabel() for ax in fig.axes] == ["L0", "MSE"]
    assert list(fig.axes[0].lines[0].get_xdata()) == [0.0, 1.0, 2.0]  # millions of tokens
    plt.close("all")


def test_bars_by_arm_one_bar_per_run_coloured_by_arm():
    fig, ax = plt.subplots()
    bars_by_arm(ax, TABLE["L0"])
    assert [p.get_height() for p in ax.patches] == [10.0, 5.0, 4.0, 6.0]
    assert ax.patches[0].get_facecolor() == ax.patches[1].get_facecolor() != ax.patches[2].get_facecolor()
    assert ax.get_xticklabels()[2].get_text() == "ours\n0.5"
    plt.close("all")


def test_density_histograms_count_every_latent_of_every_run():
    edges = np.arange(-10.125, 0.126, 0.25)
    densities = {"a": {1.0: np.array([0.0, 0.01, 0.1]), 2.0: np.array([0.5, 0.5])}, "b": {3.0: np.array([0.2])}}
    fig = density_histograms(densities, {"a": "C0", "b": "C1"}, edges, 1e-3, xlim=(-10.5, 0.2))
    assert [[p.get_data().values.sum() for p in ax.patches] for ax in fig.axes] == [[3, 2], [1]]
    assert fig.axes[0].get_xlim() == (-10.5, 0.2) and fig.axes[0].get_ylabel() == "latents per 0.25-decade bin"
    plt.close("all")


def test_power_law_panel_returns_the_fit_it_draws_and_none_below_three_bins():
    edges = np.arange(-3.0, 0.01, 0.5)
    counts = [40, 20, 10, 5, 3, 2]
    density = np.concatenate([np.full(n, 10 ** (lo + 0.25)) for lo, n in zip(edges[:-1], counts, strict=True)])
    fig, ax = plt.subplots()
    fit = power_law_panel(ax, density, edges, "C0", "sweep")
    assert fit is not None and fit.n_bins == 6 and fit.slope < 0
    assert np.allclose(ax.lines[0].get_ydata(), 10 ** (fit.intercept + fit.slope * (edges[:-1] + 0.25)))
    assert power_law_panel(ax, np.array([0.5, 0.5, 0.01]), edges, "C1", "few") is None
    assert len(ax.lines) == 1 and len(ax.collections) == 2
    plt.close("all")
