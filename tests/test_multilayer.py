import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from saelib.figures.multilayer import (  # noqa: E402
    plot_capacity,
    plot_datapoint_curves,
    plot_grad_norms,
    plot_loss_by_layer,
    plot_loss_curves,
    plot_size_trend,
)
from saelib.multilayer import (  # noqa: E402
    POST,
    PRE_LN,
    StackRun,
    TrainingSpec,
    TrainResult,
    _keep_runs,
    best_layer_share,
    cell_table,
    correct_logit_grad_norms,
    embed_pairs,
    forward,
    init_params,
    learned_by_layer,
    learned_layer,
    learned_sizes,
    lens_measures,
    logit_lens_loss,
    main_run_index,
    mean_lens_curves,
    peak_measures,
    random_pair_dataset,
    readout,
    size_trends,
    stack_datasets,
    train_and_measure,
    train_to_threshold,
    worst_learned_measures,
)
from saelib.params import ParameterError  # noqa: E402

V, D, L = 7, 6, 3


def params_of(arch, n_runs=2, seed=0, d_mlp=D):
    return {k: v.double() for k, v in init_params(arch, n_runs, V, D, L, d_mlp, D,
                                                 torch.Generator().manual_seed(seed)).items()}


def pairs(n_runs, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, V, (n_runs, n), generator=g), torch.randint(0, V, (n_runs, n), generator=g),
            torch.randint(0, D, (n_runs, n), generator=g))


def reference_logits(p, arch, run, a, b):
    """One run's network written out with nn.functional, one datapoint batch at a time."""
    two_hot = torch.zeros(len(a), 2 * V, dtype=torch.float64)
    two_hot[torch.arange(len(a)), a] = 1
    two_hot[torch.arange(len(a)), V + b] = 1
    x = two_hot @ p["embed"][run] + p["embed_bias"][run]
    act = torch.relu if arch.activation == "relu" else torch.nn.functional.gelu
    for layer in range(L):
        u = x
        if arch.layernorm:
            u = torch.nn.functional.layer_norm(x, (D,), p["ln_gain"][run, layer], p["ln_bias"][run, layer])
        x = x + act(u @ p["w_in"][run, layer] + p["b_in"][run, layer]) @ p["w_out"][run, layer] + p["b_out"][run, layer]
    if arch.readout == "direct":
        return x
    x = torch.nn.functional.layer_norm(x, (D,), p["final_gain"][run], p["final_bias"][run])
    return x @ p["unembed"][run] + p["unembed_bias"][run]


@pytest.mark.parametrize("arch", [POST, PRE_LN], ids=["post", "pre_ln"])
def test_stacked_forward_matches_each_network_written_out(arch):
    p = params_of(arch, n_runs=3)
    a, b, _ = pairs(3, 10)
    streams, _ = forward(p, arch, a, b)
    logits = readout(p, arch, streams[-1])
    for run in range(3):
        torch.testing.assert_close(logits[run], reference_logits(p, arch, run, a[run], b[run]))


def test_embedding_is_the_linear_projection_of_the_two_hot_input():
    p = params_of(POST, n_runs=1)
    a, b = torch.tensor([[0, 3, 6]]), torch.tensor([[2, 2, 5]])
    two_hot = torch.zeros(3, 2 * V, dtype=torch.float64)
    two_hot[torch.arange(3), a[0]] = 1
    two_hot[torch.arange(3), V + b[0]] = 1
    torch.testing.assert_close(embed_pairs(p, a, b)[0], two_hot @ p["embed"][0] + p["embed_bias"][0])


def test_post_network_reads_the_residual_stream_directly():
    p = params_of(POST, n_runs=2)
    a, b, y = pairs(2, 12)
    streams, _ = forward(p, POST, a, b)
    lens = logit_lens_loss(p, POST, a, b, y, budget=50)  # a small budget: several chunks
    assert lens.shape == (2, L + 1, 12)
    for layer, stream in enumerate(streams):
        expected = torch.nn.functional.cross_entropy(stream.reshape(-1, D), y.reshape(-1), reduction="none")
        torch.testing.assert_close(lens[:, layer].reshape(-1), expected)
    torch.testing.assert_close(logit_lens_loss(p, POST, a, b, y, output_only=True)[:, 0], lens[:, -1])


def test_initialisations_follow_xavier_and_torch_defaults():
    p = init_params(POST, 4, 500, 32, 2, 32, 32, torch.Generator().manual_seed(0))
    assert p["w_in"].abs().max() <= math.sqrt(6 / 64) and p["w_in"].abs().max() > 0.9 * math.sqrt(6 / 64)
    assert p["w_in"].std().item() == pytest.approx(math.sqrt(2 / 64), rel=0.05)  # Xavier: var = 2/(fan_in+fan_out)
    assert all(not p[k].any() for k in ("b_in", "b_out", "embed_bias"))
    q = init_params(PRE_LN, 4, 500, 32, 2, 32, 32, torch.Generator().manual_seed(0))
    assert q["w_in"].abs().max() <= 1 / math.sqrt(32) and q["b_in"].abs().max() > 0  # nn.Linear: U(±1/√fan_in)
    assert (q["ln_gain"] == 1).all() and "unembed" in q and "unembed" not in p


def test_direct_readout_needs_as_many_targets_as_the_width():
    with pytest.raises(ParameterError, match="n_targets"):
        init_params(POST, 1, V, D, L, D, D + 1, torch.Generator())


@pytest.mark.parametrize("arch", [POST, PRE_LN], ids=["post", "pre_ln"])
def test_grad_norms_agree_with_per_datapoint_autograd(arch):
    p = params_of(arch, n_runs=2, d_mlp=5)
    a, b, y = pairs(2, 4, seed=1)
    norms = correct_logit_grad_norms(p, arch, a, b, y)
    assert norms.shape == (2, 4, L)
    for run in range(2):
        for i in range(4):  # brute force: one run, one datapoint, the gradient of its correct logit
            single = {k: v[run:run + 1].clone().requires_grad_() for k, v in p.items()}
            streams, _ = forward(single, arch, a[run:run + 1, i:i + 1], b[run:run + 1, i:i + 1])
            logit = readout(single, arch, streams[-1])[0, 0, y[run, i]]
            g_in, g_out = torch.autograd.grad(logit, [single["w_in"], single["w_out"]])
            expected = (g_in[0].pow(2).sum((-1, -2)) + g_out[0].pow(2).sum((-1, -2))).sqrt()
            torch.testing.assert_close(norms[run, i], expected)


def test_a_run_leaving_the_stack_keeps_the_others_adam_moments():
    g = torch.Generator().manual_seed(0)
    full = {"w": torch.randn(3, 4, generator=g).requires_grad_()}
    optimizer = torch.optim.Adam(full.values(), lr=1e-2)
    gradients = [torch.randn(3, 4, generator=g) for _ in range(4)]
    for gradient in gradients[:3]:
        full["w"].grad = gradient.clone()
        optimizer.step()
    keep = torch.tensor([True, False, True])
    kept, carried = _keep_runs(full, optimizer, keep, lr=1e-2)
    kept["w"].grad = gradients[3][keep].clone()
    carried.step()
    full["w"].grad = gradients[3].clone()
    optimizer.step()
    assert torch.equal(kept["w"].detach(), full["w"].detach()[keep])


def test_stack_datasets_pads_and_keeps_sizes():
    a, b, y, sizes = stack_datasets([random_pair_dataset(5, V, D, seed=0), random_pair_dataset(3, V, D, seed=1)])
    assert a.shape == (2, 5) and sizes.tolist() == [5, 3]
    assert torch.equal(y[1, :3], random_pair_dataset(3, V, D, seed=1)[2]) and not a[1, 3:].any()


def test_random_pair_dataset_has_distinct_pairs_and_is_seeded():
    a, b, y = random_pair_dataset(40, V, 5, seed=3)
    assert len(set(zip(a.tolist(), b.tolist(), strict=True))) == 40
    assert int(y.min()) >= 0 and int(y.max()) < 5
    assert all(torch.equal(u, v) for u, v in zip((a, b, y), random_pair_dataset(40, V, 5, seed=3), strict=True))
    with pytest.raises(ParameterError, match="n_pairs"):
        random_pair_dataset(50, V, 5, seed=0)


@pytest.fixture
def one_thread():
    # tiny networks train faster on one thread than with inter-thread synchronisation on every small op
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_training_stops_each_run_when_it_meets_the_rule(one_thread):
    data = stack_datasets([random_pair_dataset(20, 10, 8, seed=0), random_pair_dataset(90, 10, 8, seed=1)])
    params = init_params(POST, 2, 10, 8, 2, 8, 8, torch.Generator().manual_seed(0))
    result = train_to_threshold(params, POST, data, batch_size=32, lr=1e-2, max_steps=3000, eval_every=10,
                                loss_threshold=0.1, stop_fraction=0.9, generator=torch.Generator().manual_seed(0))
    assert result.learned.all() and result.steps[0] < result.steps[1] < 3000
    assert (result.steps % 10 == 0).all()  # the rule is checked every eval_every steps
    a, b, y, sizes = data
    output = logit_lens_loss(result.params, POST, a, b, y)[:, -1]
    for run in range(2):  # each run's returned parameters are those of the step it met the rule at
        assert (output[run, :sizes[run]] < 0.1).float().mean() >= 0.9
    for run in range(2):  # its loss curve: one point per check, ending where it stopped, falling overall
        steps, losses = zip(*result.curves[run], strict=True)
        assert steps[-1] == result.steps[run] and losses[-1] < losses[0]
        assert losses[-1] == pytest.approx(float(output[run, :sizes[run]].mean()), rel=1e-4)


def test_a_run_that_misses_the_rule_stops_at_the_cap_unlearned(one_thread):
    data = stack_datasets([random_pair_dataset(100, 10, 8, seed=0)])
    params = init_params(POST, 1, 10, 8, 1, 8, 8, torch.Generator().manual_seed(0))
    result = train_to_threshold(params, POST, data, batch_size=16, lr=1e-3, max_steps=20, eval_every=7,
                                loss_threshold=0.1, stop_fraction=0.99, generator=torch.Generator().manual_seed(0))
    assert result.steps.tolist() == [20] and not result.learned.any()
    assert [step for step, _ in result.curves[0]] == [7, 14, 20]


def test_a_curve_too_short_to_judge_counts_as_not_flat():
    result = TrainResult({}, torch.tensor([20, 100]), torch.tensor([True, True]),
                         [[(10, 1.0), (20, 0.5)], [(step, 0.3) for step in range(10, 101, 10)]])
    assert math.isnan(result.end_change(0, 0.2))
    assert result.end_change(1, 0.2) == pytest.approx(0.0, abs=1e-12)


def test_learned_layer_is_where_the_loss_stays_below_the_threshold():
    losses = np.array([[1.0, 1.0, 1.0], [0.05, 1.0, 1.0], [1.0, 0.05, 1.0], [0.05, 0.05, 1.0]])  # [L + 1, n]
    assert learned_layer(losses, 0.1).tolist() == [3, 2, 4]


def test_best_layer_share_is_the_largest_gain_over_the_total():
    p = np.array([[0.1, 0.1], [0.2, 0.05], [1.0, 1.0]])  # p(correct) by layer for two datapoints
    shares = best_layer_share(-np.log(p))
    assert shares == pytest.approx([0.8 / 0.9, 0.95 / 0.9])  # the second dips first: one layer gains > total
    assert np.isnan(best_layer_share(-np.log(np.array([[0.5], [0.4]])))[0])


def test_peak_measures():
    norms = np.array([[1.0, 1.0, 1.0, 5.0], [1.0, 2.0, 1.0, 1.0]])
    share, ratio = peak_measures(norms, factor=3.0)
    assert share == 0.5  # only the first datapoint has a layer above 3x its median
    assert ratio == pytest.approx(3.0 / 1.25)  # mean profile [1, 1.5, 1, 3]: max 3 over median 1.25


def test_lens_measures_on_a_known_curve():
    # L = 4; every datapoint's loss falls by 0.5 a layer from 2 to 0, so the mean is exactly linear
    losses = np.repeat(np.array([2.0, 1.5, 1.0, 0.5, 0.0])[:, None], 3, axis=1) + np.array([0.0, 0.01, 0.02])
    m = lens_measures(losses, threshold=0.1)
    assert m["slope"] == pytest.approx(-0.5) and m["r2_line"] == pytest.approx(1.0)
    assert m["output_learned"] == 1.0 and m["median_learned_depth"] == 1.0 and m["intermediate_learned"] == 0.0
    assert m["layer0_loss"] == pytest.approx(2.01)


def test_train_and_measure_returns_one_row_per_run(one_thread):
    spec = TrainingSpec(batch_size=16, lr=1e-2, max_steps=60, eval_every=20, loss_threshold=0.1, stop_fraction=0.9)
    run = train_and_measure(POST, 10, 4, 2, [(20, 0), (40, 0), (20, 1)], spec, n_grad=8, peak_factor=3.0, seed=0)
    assert len(run.table) == 3 and run.norms.shape == (3, 8, 2)
    assert [loss.shape for loss in run.losses] == [(3, 20), (3, 40), (3, 20)]
    assert (run.table.epochs == run.table.steps * 16 / run.table["size"]).all()


def test_cells_take_seed_medians_and_trends_read_learned_sizes():
    from saelib.multilayer import MEASURES

    rows = []
    for size, learned, fraction in ((100, [True, True], [0.1, 0.3]), (200, [True, True], [0.4, 0.4]),
                                    (400, [True, False], [0.9, 0.9])):
        for seed in range(2):
            rows.append({"arch": "x", "d_model": 4, "n_layers": 3, "size": size, "seed": seed,
                         "learned": learned[seed], **dict.fromkeys(MEASURES, 1.0),
                         "intermediate_learned": fraction[seed]})
    cells = cell_table(pd.DataFrame(rows))
    assert cells.learned.tolist() == [True, True, False]  # one unlearned seed makes the size unlearned
    assert cells.intermediate_learned.tolist() == pytest.approx([0.2, 0.4, 0.9]) and (cells.seeds == 2).all()
    trend = size_trends(cells).iloc[0]
    assert trend.n_learned == 2 and trend.capacity_reached and trend.spearman == pytest.approx(1.0)
    falling = cells.assign(intermediate_learned=[0.5, 0.4, 0.9])
    assert size_trends(falling).iloc[0].spearman == pytest.approx(-1.0)  # the unlearned 400 is not read


def hand_stack(learned_by_size):
    """A StackRun of POST (d = 4, L = 2) with two seeds per size, lens losses written out and a cell table saying
    which sizes are learned."""
    runs = [(size, seed) for size in learned_by_size for seed in (0, 1)]
    losses = [np.full((3, size), 1.0 + seed) * np.array([[1.0], [0.5], [0.0]]) for size, seed in runs]
    stack = StackRun(POST, 4, 2, runs, None, losses, np.ones((len(runs), 5, 2)), pd.DataFrame())
    cells = pd.DataFrame([{"arch": POST.name, "d_model": 4, "n_layers": 2, "size": size, "learned": learned}
                          for size, learned in learned_by_size.items()])
    return stack, cells


def test_learned_sizes_and_the_main_run():
    stack, cells = hand_stack({10: True, 20: True, 40: False})
    other_shape = cells.assign(n_layers=3, learned=True)  # another depth's cells are not read
    assert learned_sizes(pd.concat([cells, other_shape]), stack) == [10, 20]
    assert main_run_index(stack, cells) == 2  # first seed of size 20
    assert main_run_index(stack, cells.assign(learned=False)) == 0


def test_mean_lens_curves_and_learned_by_layer_average_over_seeds():
    stack, _ = hand_stack({10: True, 20: True})
    curves = mean_lens_curves(stack)
    assert list(curves) == [10, 20] and curves[10] == pytest.approx([1.5, 0.75, 0.0])
    # seed 0 is below 0.6 at layers 1 and 2, seed 1 (twice the loss) only at layer 2
    assert learned_by_layer(stack, 20, 0.6) == pytest.approx([0.0, 0.5, 1.0])


def test_worst_learned_measures_read_the_worst_learned_cell():
    cells = pd.DataFrame({"arch": POST.name, "learned": [True, True, False], "r2_line": [0.95, 0.8, 0.1],
                          "slope": [-0.5, -0.2, 1.0], "r2_log": [0.5, 0.7, 0.0], "median_best_share": [0.3, 0.4, 2.0],
                          "median_learned_depth": [0.9, 0.7, 0.0], "share_with_peak": [0.0, 0.05, 1.0],
                          "profile_ratio": [1.2, 1.5, 9.0]})
    trends = pd.DataFrame({"arch": [POST.name] * 2, "spearman": [1.0, 0.5], "n_learned": [3, 2],
                           "capacity_reached": [True, False]})
    m = {name: v.value for name, v in worst_learned_measures(cells, trends, POST).items()}
    assert m == pytest.approx({"learned_cells": 2, "min_r2_line": 0.8, "max_slope": -0.2, "median_r2_log": 0.6,
                               "max_best_share": 0.4, "min_learned_depth": 0.7, "max_share_with_peak": 0.05,
                               "max_profile_ratio": 1.5, "min_spearman": 0.5, "min_learned_sizes": 2,
                               "capacity_reached": 0})
    nothing = worst_learned_measures(cells.assign(learned=False), trends, POST)
    assert nothing["learned_cells"].value == 0 and nothing["min_r2_line"].value == 0


def test_notebook_figures_draw_every_stack(one_thread):
    spec = TrainingSpec(batch_size=16, lr=1e-2, max_steps=40, eval_every=20, loss_threshold=0.1, stop_fraction=0.9)
    runs_of = [(size, seed) for size in (16, 32) for seed in (0, 1)]
    stacks = [train_and_measure(arch, 10, 4, 2, runs_of, spec, n_grad=8, peak_factor=3.0, seed=0)
              for arch in (POST, PRE_LN)]
    runs = pd.concat([stack.table for stack in stacks], ignore_index=True)
    cells = cell_table(runs)
    assert len(plot_capacity(runs, 0.9, 0.1, 40).axes[0].collections) == 2
    assert len(plot_loss_by_layer(stacks, cells).axes) == 2
    curves = plot_loss_curves(stacks, 0.2)
    assert len(curves.axes) == 2 and [len(ax.lines) for ax in curves.axes] == [len(s.runs) for s in stacks]
    assert list(curves.axes[0].lines[0].get_ydata()) == [loss for _, loss in stacks[0].result.curves[0]]
    fig = plot_datapoint_curves(*stacks, cells, [16, 32], 3, 0.1, np.random.default_rng(0))
    assert len(fig.axes[0].lines) == 3 + 1 and len(fig.axes[1].lines) == 4
    assert len(plot_grad_norms(*stacks, cells, 3.0).axes[1].lines) == 2 + 1
    assert len(plot_size_trend(runs, cells, 0.1).axes[0].lines) == 2
    assert len(size_trends(cells)) == 2
    plt.close("all")
