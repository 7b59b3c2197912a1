"""Each figure of notebook 01 draws from small made-up values: the right panels, cells, artists and titles."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from saelib.figures.composites import (  # noqa: E402
    plot_chanin_cosines,
    plot_feature_splitting,
    plot_nearest_neighbour_cosines,
    plot_objective_curves,
    plot_ortho_sweep,
    plot_phase_diagrams,
    plot_riggs_encoder_decoder,
    plot_tied_vs_untied,
)
from saelib.ledger import share_with_interval  # noqa: E402
from saelib.training.stacked import StackedSAEs  # noqa: E402

GEN = torch.Generator().manual_seed(0)
RIGGS_ENCODER = torch.tensor([[-1.0, 1.0], [1.0, 1.0], [1.0, -1.0]])


def heatmap_cells(ax: plt.Axes) -> np.ndarray:
    """The values of the seaborn heatmap drawn on `ax`."""
    return np.asarray(ax.collections[0].get_array())


def test_phase_diagrams_draw_one_cell_per_grid_cell_with_the_boundary():
    cells = pd.MultiIndex.from_product([[0.1, 0.3], [0.001, 0.01, 0.1], range(2)], names=["l1", "p3", "seed"])
    grid = cells.to_frame(index=False).assign(composite_solution=lambda g: g.p3 == 0.001, f3_recovered=True,
                                              live_latents=lambda g: 3 - g.seed)
    fig = plot_phase_diagrams(grid, 0.4, 2)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["Composite solution {f1, f2, f1+f2}", "f3 recovered (a live f3 atom)",
                                                 "All 3 latents live"]
    np.testing.assert_allclose(heatmap_cells(panels[0]), [[0, 0], [0, 0], [1, 1]])  # rows p₃, rarest at the bottom
    np.testing.assert_allclose(heatmap_cells(panels[1]), np.ones((3, 2)))
    np.testing.assert_allclose(heatmap_cells(panels[2]), np.full((3, 2), 0.5))
    for ax in panels:
        assert len(ax.lines) == 1  # the analytic boundary crosses the p₃ range at both λ
    assert panels[0].get_legend() is not None
    assert fig._suptitle.get_text() == "Till's toy, no penalty: 2 seeds per cell"
    plt.close("all")


def test_ortho_sweep_annotates_every_penalty_weight_and_draws_the_criterion_lines():
    summary = pd.DataFrame({"remedy": ["none", "none", "none", "resampling", "resampling"],
                            "form": ["none", "abs", "abs", "none", "abs"], "weight": [0.0, 0.1, 0.3, 0.0, 0.1],
                            "share": [0.1, 0.4, 0.6, 0.2, 0.5], "low": [0.0, 0.2, 0.4, 0.1, 0.3],
                            "high": [0.3, 0.6, 0.8, 0.4, 0.7], "ev_drop": [0.0, 0.01, 0.08, 0.0, 0.02]})
    ax = plot_ortho_sweep(summary, max_ev_drop=0.05, min_share=0.5).axes[0]
    assert [t.get_text() for t in ax.texts] == ["0.1", "0.3", "0.1"]
    assert len(ax.containers) == 2 + 2  # two penalty series, two no-penalty points
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert labels == {"abs penalty", "abs penalty, resampling", "no penalty", "no penalty, resampling",
                      "cost line (0.05)", "most runs (0.5)"}
    plt.close("all")


def test_riggs_panels_show_the_abs_cosines_of_each_weight_matrix():
    trained = {3: {"encoder": RIGGS_ENCODER, "decoder": torch.eye(3, 2)}}
    fig = plot_riggs_encoder_decoder(RIGGS_ENCODER, torch.eye(3, 2), trained)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["Riggs's weights: encoder rows", "Riggs's weights: exact decoder rows",
                                                 "Trained SAE (seed 3): encoder rows",
                                                 "Trained SAE (seed 3): decoder rows"]
    np.testing.assert_allclose(heatmap_cells(panels[0]).reshape(3, 3), [[1, 0, 1], [0, 1, 0], [1, 0, 1]], atol=1e-6)
    assert [t.get_text() for t in panels[0].get_xticklabels()] == ["A∧¬B", "A∧B", "¬A∧B"]
    fig = plot_riggs_encoder_decoder(RIGGS_ENCODER, torch.eye(3, 2), {})
    assert sum(ax.get_title() != "" for ax in fig.axes) == 2
    assert sum(not ax.axison for ax in fig.axes) == 2  # no trained run: the bottom row is switched off
    plt.close("all")


def test_nearest_neighbour_cosines_one_panel_per_rank_one_histogram_per_set():
    def cosines() -> dict[int, torch.Tensor]:
        return {k: torch.rand(50, generator=GEN) for k in (1, 10)}

    fig = plot_nearest_neighbour_cosines({"SAE decoder": cosines(), "random": cosines()}, "blocks.5.hook", 64)
    assert [ax.get_title() for ax in fig.axes] == ["k = 1", "k = 10"]
    assert [len(ax.patches) for ax in fig.axes] == [2 * 70, 2 * 70]  # 70 bins per direction set
    assert fig.axes[0].get_xlabel() == "cosine with the 1st nearest neighbour"
    assert fig._suptitle.get_text().startswith("50 live decoder directions (blocks.5.hook, d = 64)")
    plt.close("all")


def test_feature_splitting_heatmaps_per_width_and_mean_counts():
    features = torch.eye(3, 4)
    decoders = {2: torch.randn(2, 4, generator=GEN), 9: torch.randn(9, 4, generator=GEN)}
    splitting = pd.DataFrame({"width": [2, 2, 9, 9], "seed": [0, 1, 0, 1], "atoms": [1, 2, 3, 3],
                              "composites": [0, 0, 4, 6], "unexplained": [1, 0, 0, 0]})
    fig = plot_feature_splitting(decoders, features, ["a", "b", "c"], splitting)
    assert [heatmap_cells(ax).size for ax in fig.axes[:2]] == [2 * 3, 9 * 3]
    assert [len(ax.texts) for ax in fig.axes[:2]] == [6, 0]  # numbers only on the narrow SAE's cells
    assert [line.get_label() for line in fig.axes[2].lines] == ["atoms (live latents)", "composites (live latents)",
                                                                 "unexplained (live latents)", "width"]
    np.testing.assert_allclose(fig.axes[2].lines[1].get_ydata(), [0, 5])
    plt.close("all")


def test_chanin_cosines_one_row_per_model_with_its_features():
    def stack(d_sae: int, tied: bool) -> StackedSAEs:
        return StackedSAEs({"W_enc": torch.randn(2, 5, d_sae, generator=GEN),
                            "W_dec": torch.randn(2, d_sae, 5, generator=GEN)}, tied)

    features = torch.eye(3, 5)
    fig = plot_chanin_cosines({"untied": stack(3, False), "tied": stack(2, True)},
                              {"untied": features, "tied": features[:2]})
    assert [ax.get_title() for ax in fig.axes] == ["untied, seed 0: encoder", "untied, seed 0: decoder",
                                                   "tied, seed 0: encoder", "tied, seed 0: decoder"]
    assert [heatmap_cells(ax).size for ax in fig.axes] == [9, 9, 4, 4]
    assert [t.get_text() for t in fig.axes[3].get_xticklabels()] == ["parent", "child 1"]
    np.testing.assert_allclose(heatmap_cells(fig.axes[2]), heatmap_cells(fig.axes[3]), atol=1e-6)  # tied: same rows
    plt.close("all")


def test_tied_vs_untied_bars_are_the_measured_shares():
    measured = {**share_with_interval("absorption_untied", 3, 4), **share_with_interval("absorption_tied", 0, 4),
                **share_with_interval("composite_untied", 4, 4), **share_with_interval("composite_tied", 1, 4)}
    fig = plot_tied_vs_untied(measured, 0.3, 0.003)
    assert [[bar.get_height() for bar in ax.patches] for ax in fig.axes] == [[0.75, 0.0], [1.0, 0.25]]
    assert fig.axes[1].get_title() == "Composite solution, Till's toy (λ=0.3, p₃=0.003)"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["untied", "tied"]
    plt.close("all")


def test_objective_curves_one_panel_per_stack_each_run_ending_at_one():
    steps = np.array([10, 20, 30, 40])
    curve = np.array([[4.0, 2.0], [2.0, 1.5], [1.5, 1.2], [1.0, 1.0]])
    stacks = {name: StackedSAEs({}, False, curve_steps=steps, curve=curve) for name in ("a", "b", "c")}
    fig = plot_objective_curves(stacks, 0.25)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["a", "b", "c"]
    np.testing.assert_allclose(visible[0].lines[0].get_ydata(), [4.0, 2.0, 1.5, 1.0])
    assert all(line.get_ydata()[-1] == 1.0 for line in visible[1].lines)
    assert visible[0].patches[0].get_x() == pytest.approx(30.0)
    plt.close("all")
