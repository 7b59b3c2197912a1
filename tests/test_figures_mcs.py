"""Each figure of notebook 05 draws from small made-up values: the right panels, artists and titles."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from saelib.figures.mcs import (  # noqa: E402
    plot_ablation,
    plot_emd_and_null,
    plot_focus_histogram,
    plot_high_low_counts,
    plot_low_histograms,
    plot_low_mcs_explanations,
    plot_mcs_scatter,
    plot_training_curves,
)
from saelib.metrics.mcs import HIGH_MCS, LOW_MCS_CAUSES, high_low_counts  # noqa: E402

RNG = np.random.default_rng(0)
ARMS = ("post recipe", "sae-lens recipe, contrast")


def sample(n: int = 200) -> np.ndarray:
    return np.concatenate([RNG.uniform(0.1, 0.5, n // 2), RNG.uniform(0.8, 1.0, n - n // 2)])


def test_training_curves_draw_one_line_per_run_and_axis():
    history = pd.DataFrame({"step": [1, 2, 3], "l0": [5.0, 4.0, 3.0], "mse": [8.0, 4.0, 2.0]})
    fig = plot_training_curves({(arm, s): history for arm in ARMS for s in (4, 8)}, [4, 8], ARMS[0], d_in=2)
    assert [len(ax.lines) for ax in fig.axes] == [4, 5]  # the second carries the contrast legend entry
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), [4.0, 2.0, 1.0])  # MSE per dimension
    plt.close("all")


def test_focus_histogram_titles_the_shares_below_the_cutoff():
    post, contrast = sample(), np.full(10, 0.9)
    fig = plot_focus_histogram(post, post, contrast, sample(), [0.3, 0.9], 16, (10, 40), 0.5, 0.05)
    ax = fig.axes[0]
    assert "post recipe: 50% below 0.5; contrast: 0%" in ax.get_title()
    assert len(ax.lines) == 2 + 2 + 1  # law, KDE, two modes, cutoff
    plt.close("all")


def test_emd_and_null_figure_has_the_heatmap_and_one_point_per_recipe_and_size():
    frame = pd.DataFrame({"n_low": [30, 40], "ratio": [1.2, 3.0], "null median": [0.01, 0.02],
                          "null": [RNG.uniform(0.005, 0.02, 50), RNG.uniform(0.01, 0.04, 50)]}, index=[8, 16])
    samples = {"learned": sample()[:100], "rand 1": sample()[:100]}
    fig = plot_emd_and_null(samples, dict(zip(ARMS, (frame, frame), strict=True)), "EMD")
    assert len(fig.axes[1].collections) == 4  # two sizes x two recipes
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["8\n(n = 30 / 30)", "16\n(n = 40 / 40)"]
    plt.close("all")


def test_low_histograms_one_panel_per_size():
    fig = plot_low_histograms({8: sample(), 16: sample()}, {8: sample(), 16: sample()}, 16, 64, 0.5)
    assert [ax.get_title() for ax in fig.axes] == [f"{s} vs 64: 100 features below 0.5" for s in (8, 16)]
    plt.close("all")


def test_scatter_and_counts_figures():
    fig = plot_mcs_scatter({arm: (sample(), sample()) for arm in ARMS}, dict.fromkeys(ARMS, 0.5), [16, 32], 8)
    assert [ax.get_title() for ax in fig.axes] == [f"{arm}: 8 features, Pearson r = 0.50" for arm in ARMS]
    counts = pd.concat({arm: high_low_counts({200: sample(200), 400: sample(400)}, 0.5) for arm in ARMS})
    fig = plot_high_low_counts(counts, 32, 0.5)
    assert [len(ax.lines) for ax in fig.axes] == [4, 2]
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), [0.5, 0.5])
    plt.close("all")


def test_ablation_and_explanations_figures():
    ablation = pd.DataFrame({name: {"mcs": sample(), "low mode": name.startswith("u"), "dead share": 0.1,
                                    "never fire at init": 0.2, "share below cutoff": 0.5}
                             for name in ("centred, a", "centred, b", "uncentred, a", "uncentred, b")}).T
    fig = plot_ablation(ablation, 16, 64, 0.5, 0.05)
    assert fig.axes[3].get_title() == "uncentred, b: dead 10% (at init 20%), 50% below 0.5"
    classes = (*LOW_MCS_CAUSES, HIGH_MCS)
    labels = np.array(classes)[RNG.integers(0, 5, 100)]
    shares = pd.DataFrame([[0.25] * 4] * 2, index=list(ARMS), columns=list(LOW_MCS_CAUSES))
    fig = plot_low_mcs_explanations(shares, labels, RNG.uniform(size=100), RNG.uniform(size=100), classes, 8, 64, 0.5)
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert legend == [f"{c} ({(labels == c).sum()})" for c in classes]
    plt.close("all")
