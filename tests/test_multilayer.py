import math

import numpy as np
import pytest
import torch

from saelib.multilayer import (
    POST,
    PRE_LN,
    TrainingSpec,
    adam_step,
    best_layer_share,
    correct_logit_grad_norms,
    embed_pairs,
    forward,
    init_params,
    learned_layer,
    lens_measures,
    line_fit,
    logit_lens_loss,
    peak_measures,
    random_pair_dataset,
    readout,
    stack_datasets,
    train_and_measure,
    train_to_threshold,
)
from saelib.params import ParameterError

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


def test_adam_step_is_torch_adam():
    g = torch.Generator().manual_seed(0)
    ours = torch.randn(3, 4, generator=g, dtype=torch.float64)
    theirs = ours.clone().requires_grad_()
    optimizer = torch.optim.Adam([theirs], lr=1e-2)
    moments = (torch.zeros_like(ours), torch.zeros_like(ours))
    for step in range(1, 6):
        gradient = torch.randn(3, 4, generator=g, dtype=torch.float64)
        adam_step(ours, gradient, *moments, step, lr=1e-2)
        theirs.grad = gradient.clone()
        optimizer.step()
    torch.testing.assert_close(ours, theirs.detach())


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


def test_a_run_that_misses_the_rule_stops_at_the_cap_unlearned(one_thread):
    data = stack_datasets([random_pair_dataset(100, 10, 8, seed=0)])
    params = init_params(POST, 1, 10, 8, 1, 8, 8, torch.Generator().manual_seed(0))
    result = train_to_threshold(params, POST, data, batch_size=16, lr=1e-3, max_steps=20, eval_every=7,
                                loss_threshold=0.1, stop_fraction=0.99, generator=torch.Generator().manual_seed(0))
    assert result.steps.tolist() == [20] and not result.learned.any()


def test_learned_layer_is_where_the_loss_stays_below_the_threshold():
    losses = np.array([[1.0, 1.0, 1.0], [0.05, 1.0, 1.0], [1.0, 0.05, 1.0], [0.05, 0.05, 1.0]])  # [L + 1, n]
    assert learned_layer(losses, 0.1).tolist() == [3, 2, 4]


def test_best_layer_share_is_the_largest_gain_over_the_total():
    p = np.array([[0.1, 0.1], [0.2, 0.05], [1.0, 1.0]])  # p(correct) by layer for two datapoints
    shares = best_layer_share(-np.log(p))
    assert shares == pytest.approx([0.8 / 0.9, 0.95 / 0.9])  # the second dips first: one layer gains > total
    assert np.isnan(best_layer_share(-np.log(np.array([[0.5], [0.4]])))[0])


def test_line_fit_against_numpy():
    xs = np.arange(5.0)
    assert line_fit(xs, 2 - 0.5 * xs) == pytest.approx((-0.5, 1.0))
    ys = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    r = np.corrcoef(xs, ys)[0, 1]
    assert line_fit(xs, ys)[1] == pytest.approx(r**2)
    assert line_fit(xs, np.ones(5))[1] == 0.0


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
    import pandas as pd

    from saelib.multilayer import MEASURES, cell_table, size_trends

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
