import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from saelib.figures.sweeps import (  # noqa: E402
    arm_colours,
    bars_by_arm,
    calibration_plot,
    dead_latent_bars,
    density_histograms,
    l0_mse_planes,
    positional_profiles,
    power_law_figure,
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


def test_calibration_plot_draws_the_grid_both_lines_and_the_chosen_run():
    fig = calibration_plot([100.0, 1000.0], [20.0, 4.0], (10.0, 2.0), (9.4, 0.94), (300.0, 9.0), xlabel="c")
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and len(ax.lines) == 3
    assert list(ax.lines[0].get_xdata()) == [100.0, 1000.0] and list(ax.lines[0].get_ydata()) == [20.0, 4.0]
    assert [list(line.get_ydata()) for line in ax.lines[1:]] == [[10.0, 10.0], [9.4, 9.4]]
    assert np.allclose(ax.collections[0].get_offsets(), [[300.0, 9.0]])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[1:3] == ["L1 reference (λ1 = 2)", "target: 0.94 × the reference's L0"]
    assert ax.get_xlabel() == "c" and ax.get_xscale() == ax.get_yscale() == "log"
    plt.close("all")


def test_dead_latent_bars_one_bar_per_run_and_the_threshold():
    fig = dead_latent_bars(100 * TABLE["MSE"], 5, "floor", title="dead")
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [100.0, 200.0, 150.0, 120.0]
    assert list(ax.lines[0].get_ydata()) == [5, 5] and ax.get_legend().get_texts()[0].get_text() == "floor"
    assert ax.get_title() == "dead" and ax.get_ylabel() == "dead latents (% of width, held out)"
    plt.close("all")


def test_power_law_figure_returns_one_fit_per_distribution_in_order():
    edges = np.arange(-3.0, 0.01, 0.5)
    counts = [40, 20, 10, 5, 3, 2]
    density = np.concatenate([np.full(n, 10 ** (lo + 0.25)) for lo, n in zip(edges[:-1], counts, strict=True)])
    fig, fits = power_law_figure({"a": (density, "C0"), "b": (np.array([0.5, 0.5]), "C1")}, edges, 1e-3, "t")
    ax = fig.axes[0]
    assert fits[0] is not None and fits[0].n_bins == 6 and fits[1] is None
    assert len(ax.collections) == 2 and len(ax.lines) == 2  # the fit of "a", then the s_min line
    assert list(ax.lines[1].get_xdata()) == [-3.0, -3.0]
    assert ax.get_ylabel() == "latents per 0.5-decade bin" and ax.get_yscale() == "log" and ax.get_title() == "t"
    plt.close("all")


def test_positional_profiles_one_line_per_latent_with_its_profile():
    profiles = {7: (pd.Series([1.0, 2.0, 3.0]), 0.9), 2: (pd.Series([0.5, 0.5, 0.5]), 0.0)}
    density = np.linspace(0, 1, 11)
    fig = positional_profiles(profiles, density, 3, run="λ0 = 7e-05 × c")
    ax = fig.axes[0]
    assert [list(line.get_ydata()) for line in ax.lines] == [[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]]
    assert [line.get_label() for line in ax.lines] == ["latent 7: density 0.70, η² 0.90",
                                                       "latent 2: density 0.20, η² 0.00"]
    assert ax.get_title() == "The 2 densest latents of the λ0 = 7e-05 × c run, by position"
    assert ax.get_xlabel() == "position in the 3-token window"
    plt.close("all")
