"""Each figure of notebook 00 draws from small made-up values: the right panels, artists and labels."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from saelib.figures.target_model import plot_activation_stats, plot_loss_curve  # noqa: E402

HOOKS = ("blocks.1.hook_resid_pre", "blocks.2.mlp.hook_post")


def test_loss_curve_draws_train_held_out_and_the_unigram_baseline():
    history = pd.DataFrame({"step": [0, 10, 20], "train_loss": [5.0, 3.0, 2.5], "val_loss": [5.1, 3.2, 2.8]})
    fig = plot_loss_curve(history, 4.0, "loss")
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and len(ax.lines) == 3 and ax.get_title() == "loss"
    assert [list(line.get_ydata()) for line in ax.lines[:2]] == [[5.0, 3.0, 2.5], [5.1, 3.2, 2.8]]
    assert list(ax.lines[0].get_xdata()) == [0, 10, 20] and list(ax.lines[2].get_ydata()) == [4.0, 4.0]
    assert [t.get_text() for t in ax.get_legend().get_texts()][2] == "unigram baseline (4.00)"
    assert ax.get_ylabel() == "cross-entropy (nats / token)"
    shaded = plot_loss_curve(history, 4.0, "loss", last_fraction=0.2).axes[0]
    assert len(shaded.patches) == 1 and shaded.patches[0].get_x() == pytest.approx(16.0)  # the last 20% of 20 steps
    plt.close("all")


def test_activation_stats_histogram_every_token_norm_and_every_neuron():
    residual = np.array([[3.0, 4.0], [0.0, 1.0], [6.0, 8.0]])  # norms 5, 1, 10
    mlp = np.array([[1.0, -1.0, 0.5], [1.0, -1.0, -0.5]])  # positive on 100%, 0% and 50% of the tokens
    fig = plot_activation_stats({HOOKS[0]: residual, HOOKS[1]: mlp}, HOOKS)
    left, right = fig.axes
    assert [left.get_title(), right.get_title()] == [HOOKS[0], HOOKS[1] + " (GELU output)"]
    assert sum(p.get_height() for p in left.patches) == 3 and len(left.patches) == 60
    assert sum(p.get_height() for p in right.patches) == 3 and len(right.patches) == 40
    heights = [p.get_height() for p in left.patches]
    assert heights[0] == heights[-1] == 1  # the smallest (1) and largest (10) norms bound the bins
    assert left.patches[0].get_x() == 1.0 and np.isclose(right.patches[0].get_x(), -6.0)  # never positive: log10 1e-6
    assert [ax.get_ylabel() for ax in fig.axes] == ["tokens", "neurons"]
    plt.close("all")
