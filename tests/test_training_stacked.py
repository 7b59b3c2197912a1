"""Stacked SAEs: each run's loss and gradient equal the registered sae-lens classes' (standard, tied, Matryoshka,
orthogonal), a few steps equal sae-lens's own SAETrainer, runs independent, per-run clipping, redraws, resampling."""

import pytest
import torch
from sae_lens.saes.sae import TrainingSAE, TrainStepInput
from sae_lens.saes.standard_sae import StandardTrainingSAE, StandardTrainingSAEConfig

from saelib.params import ParameterError
from saelib.saes.matryoshka_fixed import MatryoshkaFixedTrainingSAE, MatryoshkaFixedTrainingSAEConfig
from saelib.saes.orthogonal import OrthogonalTrainingSAE, OrthogonalTrainingSAEConfig
from saelib.saes.tied import TiedTrainingSAE, TiedTrainingSAEConfig
from saelib.toy_data import run_streams
from saelib.training.sae_lens_trainer import train_sae
from saelib.training.stacked import (
    StackedSAEs,
    StackSpec,
    clip_per_run_,
    loss_and_gradients,
    named_end_changes,
    redraw_dead,
    stacked_encode,
    stacked_init,
    train_on_generator,
    train_penalty_conditions,
    train_stacked,
)


def random_params(n_runs: int, d_in: int, d_sae: int, seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {"W_enc": torch.randn(n_runs, d_in, d_sae, generator=generator).requires_grad_(),
            "W_dec": torch.randn(n_runs, d_sae, d_in, generator=generator).requires_grad_(),
            "b_enc": (0.3 * torch.randn(n_runs, 1, d_sae, generator=generator)).requires_grad_(),
            "b_dec": (0.3 * torch.randn(n_runs, 1, d_in, generator=generator)).requires_grad_()}


def load_run(sae: TrainingSAE, params: dict[str, torch.Tensor], run: int) -> None:
    """Copy run `run` of `params` into `sae` (W_enc only where it is a parameter)."""
    with torch.no_grad():
        for name in ("W_dec", "b_enc", "b_dec", "W_enc"):
            target = getattr(sae, name)
            if isinstance(target, torch.nn.Parameter):
                target.copy_(params[name][run].reshape(target.shape))


def sae_lens_loss(sae: TrainingSAE, x: torch.Tensor, l1: float) -> torch.Tensor:
    step = TrainStepInput(sae_in=x, coefficients={"l1": l1}, dead_neuron_mask=None, n_training_steps=0,
                          is_logging_step=False)
    return sae.training_forward_pass(step).loss


SPEC = dict(steps=1, batch_size=16, lr=1e-3)
CASES = {
    "standard": (StackSpec(4, 5, **SPEC), {}, lambda: StandardTrainingSAE(StandardTrainingSAEConfig(4, 5))),
    "tied": (StackSpec(4, 5, tied=True, **SPEC), {}, lambda: TiedTrainingSAE(TiedTrainingSAEConfig(4, 5))),
    "matryoshka": (StackSpec(4, 5, inner_widths=(1, 3), **SPEC), {}, lambda: MatryoshkaFixedTrainingSAE(
        MatryoshkaFixedTrainingSAEConfig(4, 5, matryoshka_widths=[1, 3, 5]))),
    "orthogonal abs": (StackSpec(4, 5, **SPEC), {"abs": 0.7}, lambda: OrthogonalTrainingSAE(
        OrthogonalTrainingSAEConfig(4, 5, ortho_coefficient=0.7))),
    "orthogonal log_barrier, active pairs": (
        StackSpec(4, 5, ortho_scope="active", **SPEC), {"log_barrier": 0.7}, lambda: OrthogonalTrainingSAE(
            OrthogonalTrainingSAEConfig(4, 5, ortho_coefficient=0.7, ortho_penalty="log_barrier",
                                        ortho_scope="active"))),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_runs_loss_and_gradient_equal_the_registered_sae_lens_class(case):
    spec, ortho, make_sae = CASES[case]
    n_runs = 3
    params = random_params(n_runs, spec.d_in, spec.d_sae, seed=0)
    with torch.no_grad():
        params["b_enc"][1] = -5.0  # run 1: latents mostly silent, so "active" pairs differ from "all" pairs
    x = torch.randn(n_runs, 16, spec.d_in, generator=torch.Generator().manual_seed(1))
    l1 = torch.tensor([0.0, 0.3, 1.7])
    weights = {form: torch.full((n_runs,), weight) for form, weight in ortho.items()}
    loss, _, grads = loss_and_gradients(params, x.transpose(1, 2), l1, weights, spec)
    sae = make_sae()
    for run in range(n_runs):
        load_run(sae, params, run)
        sae.zero_grad()
        expected = sae_lens_loss(sae, x[run], float(l1[run]))
        torch.testing.assert_close(loss[run], expected)
        expected.backward()
        for name in ("W_dec", "b_enc", "b_dec") + (() if spec.tied else ("W_enc",)):
            torch.testing.assert_close(grads[name][run], getattr(sae, name).grad.reshape(grads[name][run].shape))


def test_loss_matches_hand_computation_on_one_sample():
    params = {"W_enc": torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]), "W_dec": torch.tensor([[[2.0, 0.0], [0.0, 1.0]]]),
              "b_enc": torch.tensor([[[0.0, -1.0]]]), "b_dec": torch.zeros(1, 1, 2)}
    x = torch.tensor([[[1.0, 3.0]]])
    # f = relu([1, 3] + [0, -1]) = [1, 2]; reconstruction [2, 2]; MSE 1 + 1 = 2; L1 = 1 * 2 + 2 * 1 = 4
    torch.testing.assert_close(stacked_encode(params, x), torch.tensor([[[1.0, 2.0]]]))
    loss, fired, _ = loss_and_gradients(params, x.transpose(1, 2), torch.tensor([0.5]), {}, StackSpec(2, 2, **SPEC))
    torch.testing.assert_close(loss, torch.tensor([2.0 + 0.5 * 4]))
    assert fired.tolist() == [[True, True]]
    # Matryoshka with inner width 1: the prefix reconstruction [2, 0] adds (2 - 1)^2 + (0 - 3)^2 = 10
    spec = StackSpec(2, 2, inner_widths=(1,), **SPEC)
    loss, _, _ = loss_and_gradients(params, x.transpose(1, 2), torch.tensor([0.5]), {}, spec)
    torch.testing.assert_close(loss, torch.tensor([2.0 + 10.0 + 0.5 * 4]))


def test_init_is_sae_lens_init_with_tied_encoder_and_zero_biases():
    params = stacked_init(4, 3, 5, torch.Generator().manual_seed(7))
    assert params["W_dec"].shape == (4, 5, 3) and params["W_enc"].shape == (4, 3, 5)
    assert not params["b_enc"].any() and not params["b_dec"].any()
    torch.testing.assert_close(params["W_enc"], params["W_dec"].transpose(1, 2))
    torch.testing.assert_close(params["W_dec"].norm(dim=-1), torch.full((4, 5), 0.1))
    torch.manual_seed(7)  # the default generator seeded alike draws the same kaiming-uniform rows in sae-lens
    sae = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=3, d_sae=20))
    torch.testing.assert_close(params["W_dec"].detach().reshape(20, 3), sae.W_dec.detach())


def positive_batches(n_runs: int, d_in: int, seed: int):
    generator = torch.Generator().manual_seed(seed)

    def sample(batch_size: int) -> torch.Tensor:
        return (torch.rand(n_runs, batch_size, d_in, generator=generator) < 0.3).float() * 2.0

    return sample


@pytest.mark.parametrize("tied, train_b_dec", [(False, False), (False, True), (True, True)])
def test_training_equals_sae_lens_trainer_step_for_step(tied, train_b_dec):
    spec = StackSpec(3, 4, steps=25, batch_size=32, lr=0.01, tied=tied, train_b_dec=train_b_dec, probe_size=64)
    sample = positive_batches(1, 3, seed=2)
    stack = train_stacked(sample, spec, torch.tensor([0.2]), torch.Generator().manual_seed(0))
    replay = positive_batches(1, 3, seed=2)
    params = stacked_init(1, 3, 4, torch.Generator().manual_seed(0))
    redraw_dead(params, replay(64), torch.Generator().manual_seed(0), tied)  # the same start (nothing is redrawn)
    sae = (TiedTrainingSAE(TiedTrainingSAEConfig(3, 4, l1_coefficient=0.2)) if tied
           else StandardTrainingSAE(StandardTrainingSAEConfig(3, 4, l1_coefficient=0.2)))
    load_run(sae, params, 0)
    sae.b_dec.requires_grad_(train_b_dec)
    batches = (replay(32)[0] for _ in range(spec.steps))
    trained = train_sae(sae, batches, n_samples=spec.steps * 32, batch_size=32, lr=0.01, device="cpu").sae
    torch.testing.assert_close(stack.W_dec[0], trained.W_dec.detach(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(stack.params["b_dec"][0, 0], trained.b_dec.detach(), rtol=1e-4, atol=1e-5)
    assert train_b_dec == bool(stack.params["b_dec"].any())


def test_per_run_clipping_equals_torch_clip_grad_norm_on_each_run():
    params = random_params(3, 4, 5, seed=3)
    for p in params.values():
        p.grad = torch.randn_like(p) * torch.tensor([0.01, 1.0, 10.0]).view(-1, *([1] * (p.dim() - 1)))
    expected = []
    for run in range(3):
        copies = [p.grad[run].clone().requires_grad_() for p in params.values()]
        for c in copies:
            c.grad = c.detach().clone()
        torch.nn.utils.clip_grad_norm_(copies, 1.0)
        expected.append([c.grad for c in copies])
    clip_per_run_(params, 1.0)
    for run in range(3):
        for p, e in zip(params.values(), expected[run], strict=True):
            torch.testing.assert_close(p.grad[run], e)


def test_redraw_revives_dead_latents_and_leaves_live_ones():
    params = stacked_init(2, 3, 4, torch.Generator().manual_seed(0))
    probe = torch.rand(2, 64, 3) + 0.1  # positive orthant
    with torch.no_grad():
        params["W_enc"][0, :, 1] = -0.1  # dead on every probe row
        params["W_enc"][1, :, 3] = -0.1
        params["W_enc"][:, :, [0, 2]] = 0.1  # live
    before = {name: value.detach().clone() for name, value in params.items()}
    redrawn = redraw_dead(params, probe, torch.Generator().manual_seed(1), tied=False)
    assert redrawn.tolist() == [[False, True, False, False], [False, False, False, True]]
    assert ((stacked_encode(params, probe) > 0).float().mean(1) > 0).all()
    torch.testing.assert_close(params["W_enc"][:, :, [0, 2]], before["W_enc"][:, :, [0, 2]], rtol=0, atol=0)
    torch.testing.assert_close(params["W_dec"][:, [0, 2]], before["W_dec"][:, [0, 2]], rtol=0, atol=0)
    torch.testing.assert_close(params["W_enc"][0, :, 1], params["W_dec"][0, 1])  # redrawn rows tied at init


def make_sampler(scale_run_1: float):
    generator = torch.Generator().manual_seed(5)

    def sample(batch_size: int) -> torch.Tensor:
        x = (torch.rand(2, batch_size, 3, generator=generator) < 0.3).float()
        return torch.cat([x[:1], scale_run_1 * x[1:]])

    return sample


def train_two_runs(scale_run_1: float, l1_run_1: float, ortho_run_1: float, **options) -> StackedSAEs:
    spec = StackSpec(3, 3, steps=30, batch_size=32, lr=0.01, **options)
    return train_stacked(make_sampler(scale_run_1), spec, torch.tensor([0.1, l1_run_1]),
                         torch.Generator().manual_seed(0), {"abs": torch.tensor([0.0, ortho_run_1])})


@pytest.mark.parametrize("options", [{}, {"tied": True, "train_b_dec": True, "inner_widths": (1,)}])
def test_runs_are_independent_and_training_is_deterministic(options):
    reference, again = train_two_runs(1.0, 0.1, 0.0, **options), train_two_runs(1.0, 0.1, 0.0, **options)
    other = train_two_runs(2.5, 0.5, 0.3, **options)  # run 1 gets other data, L1 weight and penalty
    for name in ("W_dec", "b_enc", "b_dec"):
        assert torch.equal(reference.params[name], again.params[name])
        assert torch.equal(reference.params[name][0], other.params[name][0])  # run 0 bit-identical
    assert not torch.equal(reference.W_dec[1], other.W_dec[1])


def test_copies_share_initialisation_and_batches_and_equal_separate_runs():
    def sampler():
        generator = torch.Generator().manual_seed(4)
        return lambda batch_size: (torch.rand(2, batch_size, 3, generator=generator) < 0.3).float()

    spec = StackSpec(3, 3, steps=20, batch_size=16, lr=0.01, probe_size=32)
    alone = train_stacked(sampler(), spec, torch.tensor([0.1, 0.1]), torch.Generator().manual_seed(0))
    paired = train_stacked(sampler(), spec, torch.tensor([0.1, 0.1, 0.1, 0.4]), torch.Generator().manual_seed(0),
                           {"abs": torch.tensor([0.0, 0.0, 0.0, 0.3])}, copies=2)
    torch.testing.assert_close(paired.W_dec[:2], alone.W_dec, rtol=0, atol=0)  # copy 0 = the runs trained alone
    torch.testing.assert_close(paired.W_dec[2], alone.W_dec[0], rtol=0, atol=0)  # copy 1, same weights: identical
    assert not torch.equal(paired.W_dec[3], alone.W_dec[1])  # copy 1, other weights: its own path
    with pytest.raises(ParameterError, match="l1"):
        train_stacked(sampler(), spec, torch.ones(2), torch.Generator(), copies=2)


def test_resampling_redraws_latents_silent_since_the_last_check_and_they_fire_again():
    def sample(batch_size: int) -> torch.Tensor:  # e0 only, for both runs
        return torch.zeros(2, batch_size, 2).index_fill_(2, torch.tensor([0]), 1.0)

    # run 0 has no L1 and keeps both latents; run 1's L1 of 5 silences both within 3 steps (they fire on the first
    # steps, so a check at step 5 finds them alive and the one at step 10, silent since step 5, redraws them)
    spec = StackSpec(2, 2, steps=10, batch_size=8, lr=0.05, probe_size=8)
    plain = train_stacked(sample, spec, torch.tensor([0.0, 5.0]), torch.Generator().manual_seed(0))
    assert plain.firing_rates(sample(8)).tolist() == [[1.0, 1.0], [0.0, 0.0]] and not plain.resampled.any()
    resampled = train_stacked(sample, StackSpec(2, 2, steps=10, batch_size=8, lr=0.05, probe_size=8,
                                                resample_at=(5, 10)), torch.tensor([0.0, 5.0]),
                              torch.Generator().manual_seed(0))
    assert resampled.resampled.tolist() == [0.0, 2.0]
    assert (resampled.firing_rates(sample(8)) > 0).all()
    torch.testing.assert_close(resampled.W_dec[0], plain.W_dec[0], rtol=0, atol=0)  # live run untouched
    torch.testing.assert_close(resampled.W_dec[1].norm(dim=-1), torch.full((2,), 0.1))  # fresh sae-lens rows


def test_firing_rates_and_explained_variance_known_answers():
    params = {"W_enc": torch.eye(2).unsqueeze(0), "W_dec": torch.eye(2).unsqueeze(0),
              "b_enc": torch.zeros(1, 1, 2), "b_dec": torch.zeros(1, 1, 2)}
    x = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0], [0.0, 0.0]]])
    stack = StackedSAEs(params, tied=False)
    torch.testing.assert_close(stack.firing_rates(x), torch.tensor([[0.25, 0.25]]))
    # reconstruction misses only the -1 row: error 1; deviations from the mean row (0, 0.5): 1+.25, 2.25, 1.25, .25
    torch.testing.assert_close(stack.explained_variance(x), torch.tensor([1 - 1 / 5.0]))


@pytest.mark.parametrize("bad, name", [(dict(inner_widths=(3,)), "inner_widths"), (dict(inner_widths=(2, 1)),
                                       "inner_widths"), (dict(resample_at=(0,)), "resample_at"),
                                      (dict(ortho_scope="some"), "ortho_scope"), (dict(lr=0.0), "lr")])
def test_bad_settings_name_the_parameter(bad, name):
    with pytest.raises(ParameterError, match=name):
        StackSpec(**{**dict(d_in=2, d_sae=3, steps=5, batch_size=4, lr=0.1), **bad})


def test_bad_weights_name_the_parameter():
    spec = StackSpec(2, 2, steps=1, batch_size=4, lr=0.1)
    with pytest.raises(ParameterError, match="l1"):
        train_stacked(lambda b: torch.ones(2, b, 2), spec, torch.ones(3), torch.Generator())
    with pytest.raises(ParameterError, match="ortho"):
        train_stacked(lambda b: torch.ones(2, b, 2), spec, torch.ones(2), torch.Generator(), {"cubic": torch.ones(2)})


def test_train_on_generator_seeds_the_global_generator_and_equals_the_explicit_recipe():
    directions = torch.eye(3, 4)
    spec = StackSpec(4, 2, steps=5, batch_size=8, lr=0.01, probe_size=16, train_b_dec=True)

    def codes(n: int) -> torch.Tensor:  # draws from torch's global generator, as sae-lens's generators do
        return (torch.rand(n, 3) < 0.4).float()

    torch.manual_seed(123)  # a different global state before each call must not matter
    trained = train_on_generator(codes, directions, spec, torch.tensor([0.1, 0.2]), seed=7, pool_size=64)
    torch.manual_seed(7)
    sample = run_streams(codes, 2, directions, 64, torch.Generator().manual_seed(7))
    explicit = train_stacked(sample, spec, torch.tensor([0.1, 0.2]), torch.Generator().manual_seed(7))
    for name in ("W_enc", "W_dec", "b_enc", "b_dec"):
        assert torch.equal(trained.params[name], explicit.params[name])


def test_penalty_conditions_are_copies_with_their_own_penalty_weights():
    def sampler():
        generator = torch.Generator().manual_seed(5)
        return lambda batch_size: (torch.rand(2, batch_size, 3, generator=generator) < 0.3).float()

    spec = StackSpec(3, 3, steps=10, batch_size=16, lr=0.01, probe_size=32)
    conditions = [("none", 0.0), ("abs", 0.3), ("log_barrier", 0.1)]
    trained = train_penalty_conditions(sampler(), spec, torch.tensor([0.1, 0.2]), conditions,
                                       torch.Generator().manual_seed(0))
    explicit = train_stacked(sampler(), spec, torch.tensor([0.1, 0.2] * 3), torch.Generator().manual_seed(0),
                             {"abs": torch.tensor([0.0, 0.0, 0.3, 0.3, 0.0, 0.0]),
                              "log_barrier": torch.tensor([0.0, 0.0, 0.0, 0.0, 0.1, 0.1])}, copies=3)
    assert torch.equal(trained.W_dec, explicit.W_dec) and trained.W_dec.shape[0] == 6


def test_the_held_out_objective_is_recorded_and_flattens_once_training_has_converged():
    generator = torch.Generator().manual_seed(0)

    def sample(batch: int) -> torch.Tensor:
        return (torch.rand(2, batch, 3, generator=generator) < 0.3).float()

    long = train_stacked(sample, StackSpec(3, 3, steps=2000, batch_size=64, lr=0.01, curve_points=40),
                         torch.tensor([0.1, 0.1]), torch.Generator().manual_seed(0))
    short = train_stacked(sample, StackSpec(3, 3, steps=40, batch_size=64, lr=0.01, curve_points=40),
                          torch.tensor([0.1, 0.1]), torch.Generator().manual_seed(0))
    assert long.curve.shape == (40, 2) and long.curve_steps[-1] == 2000 and (long.curve[-1] < long.curve[0]).all()
    assert (abs(long.end_changes(0.2)) < 0.01).all() and (short.end_changes(0.2) < -0.01).all()
    assert set(named_end_changes({"toy": long}, 0.2)) == {"toy, run 0", "toy, run 1"}
