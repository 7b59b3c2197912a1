"""Stacked SAEs: each run's loss and gradient equal sae-lens's (plus the decoder-cosine penalty), runs independent,
sae-lens's initialisation, every latent alive after the redraw."""

import pytest
import torch
from sae_lens.saes.sae import TrainStepInput
from sae_lens.saes.standard_sae import StandardTrainingSAE, StandardTrainingSAEConfig

from saelib.saes.orthogonal import OrthogonalTrainingSAE, OrthogonalTrainingSAEConfig, decoder_cosine_penalty
from saelib.training.stacked import redraw_dead_stacked, stacked_encode, stacked_init, stacked_loss, train_stacked


def random_params(n_runs: int, d_in: int, d_sae: int, seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {"W_enc": torch.randn(n_runs, d_in, d_sae, generator=generator).requires_grad_(),
            "W_dec": torch.randn(n_runs, d_sae, d_in, generator=generator).requires_grad_(),
            "b_enc": (0.3 * torch.randn(n_runs, 1, d_sae, generator=generator)).requires_grad_()}


def sae_lens_loss(sae: StandardTrainingSAE, params: dict[str, torch.Tensor], run: int, x: torch.Tensor,
                  l1: float) -> torch.Tensor:
    """sae-lens's training loss of `sae` loaded with run `run` of `params` (decoder bias 0)."""
    with torch.no_grad():
        sae.W_enc.copy_(params["W_enc"][run])
        sae.W_dec.copy_(params["W_dec"][run])
        sae.b_enc.copy_(params["b_enc"][run, 0])
        sae.b_dec.zero_()
    step = TrainStepInput(sae_in=x, coefficients={"l1": l1}, dead_neuron_mask=None, n_training_steps=0,
                          is_logging_step=False)
    return sae.training_forward_pass(step).loss


def test_each_runs_loss_and_gradient_equal_sae_lens_standard_sae():
    n_runs, d_in, d_sae = 3, 4, 5
    params = random_params(n_runs, d_in, d_sae, seed=0)
    x = torch.randn(n_runs, 16, d_in, generator=torch.Generator().manual_seed(1))
    l1 = torch.tensor([0.0, 0.3, 1.7])
    loss = stacked_loss(params, x, l1, {})
    loss.sum().backward()
    sae = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=d_in, d_sae=d_sae, l1_coefficient=1.0))
    for run in range(n_runs):
        sae.zero_grad()
        expected = sae_lens_loss(sae, params, run, x[run], float(l1[run]))
        torch.testing.assert_close(loss[run], expected)
        expected.backward()
        torch.testing.assert_close(params["W_enc"].grad[run], sae.W_enc.grad)
        torch.testing.assert_close(params["W_dec"].grad[run], sae.W_dec.grad)
        torch.testing.assert_close(params["b_enc"].grad[run, 0], sae.b_enc.grad)


def test_loss_matches_hand_computation_on_one_sample():
    params = {"W_enc": torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]), "W_dec": torch.tensor([[[2.0, 0.0], [0.0, 1.0]]]),
              "b_enc": torch.tensor([[[0.0, -1.0]]])}
    x = torch.tensor([[[1.0, 3.0]]])
    # f = relu([1, 3] + [0, -1]) = [1, 2]; reconstruction [2, 2]; MSE 1 + 1 = 2; L1 = 1 * 2 + 2 * 1 = 4
    torch.testing.assert_close(stacked_encode(params, x), torch.tensor([[[1.0, 2.0]]]))
    torch.testing.assert_close(stacked_loss(params, x, torch.tensor([0.5]), {}), torch.tensor([2.0 + 0.5 * 4]))


@pytest.mark.parametrize("penalty", ["abs", "log_barrier"])
def test_ortho_term_is_weight_times_decoder_cosine_penalty_and_matches_orthogonal_sae(penalty):
    params = random_params(2, 3, 4, seed=2)
    x = torch.randn(2, 8, 3, generator=torch.Generator().manual_seed(3))
    l1, weight = torch.tensor([0.2, 0.2]), torch.tensor([0.0, 0.7])
    with torch.no_grad():
        plain = stacked_loss(params, x, l1, {})
        penalised = stacked_loss(params, x, l1, {penalty: weight})
        torch.testing.assert_close(penalised - plain, weight * decoder_cosine_penalty(params["W_dec"], penalty))
    sae = OrthogonalTrainingSAE(OrthogonalTrainingSAEConfig(d_in=3, d_sae=4, l1_coefficient=1.0,
                                                            ortho_coefficient=0.7, ortho_penalty=penalty))
    torch.testing.assert_close(penalised[1], sae_lens_loss(sae, params, 1, x[1], 0.2).detach())


def test_init_is_sae_lens_init_with_tied_encoder_and_zero_bias():
    params = stacked_init(4, 3, 5, torch.Generator().manual_seed(7))
    assert params["W_dec"].shape == (4, 5, 3) and params["W_enc"].shape == (4, 3, 5)
    assert params["b_enc"].shape == (4, 1, 5) and not params["b_enc"].any()
    torch.testing.assert_close(params["W_enc"], params["W_dec"].transpose(1, 2))
    torch.testing.assert_close(params["W_dec"].norm(dim=-1), torch.full((4, 5), 0.1))
    torch.manual_seed(7)  # the default generator seeded alike draws the same kaiming-uniform rows in sae-lens
    sae = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=3, d_sae=20))
    torch.testing.assert_close(params["W_dec"].detach().reshape(20, 3), sae.W_dec.detach())


def test_redraw_revives_dead_latents_and_leaves_live_ones():
    params = stacked_init(2, 3, 4, torch.Generator().manual_seed(0))
    probe = torch.rand(2, 64, 3) + 0.1  # positive orthant
    with torch.no_grad():
        params["W_enc"][0, :, 1] = -0.1  # dead on every probe row
        params["W_enc"][1, :, 3] = -0.1
        params["W_enc"][:, :, [0, 2]] = 0.1  # live
    before = {name: value.detach().clone() for name, value in params.items()}
    redraw_dead_stacked(params, probe, torch.Generator().manual_seed(1))
    assert ((stacked_encode(params, probe) > 0).float().mean(1) > 0).all()
    torch.testing.assert_close(params["W_enc"][:, :, [0, 2]], before["W_enc"][:, :, [0, 2]], rtol=0, atol=0)
    torch.testing.assert_close(params["W_dec"][:, [0, 2]], before["W_dec"][:, [0, 2]], rtol=0, atol=0)
    torch.testing.assert_close(params["W_enc"][0, :, 1], params["W_dec"][0, 1])  # redrawn rows stay tied at init
    assert not torch.equal(params["W_enc"][0, :, 1], before["W_enc"][0, :, 1])


def make_sampler(scale_run_1: float):
    generator = torch.Generator().manual_seed(5)
    directions = torch.eye(3)

    def sample(batch_size: int) -> torch.Tensor:
        codes = (torch.rand(2, batch_size, 3, generator=generator) < 0.3).float()
        x = codes @ directions
        return torch.cat([x[:1], scale_run_1 * x[1:]])

    return sample


def train_two_runs(scale_run_1: float, l1_run_1: float, ortho_run_1: float) -> dict[str, torch.Tensor]:
    return train_stacked(make_sampler(scale_run_1), 2, 3, 3, torch.tensor([0.1, l1_run_1]),
                         {"abs": torch.tensor([0.0, ortho_run_1])}, steps=30, batch_size=32, lr=0.01,
                         generator=torch.Generator().manual_seed(0))


def test_runs_are_independent_and_training_is_deterministic():
    reference = train_two_runs(1.0, 0.1, 0.0)
    again = train_two_runs(1.0, 0.1, 0.0)
    other = train_two_runs(2.5, 0.5, 0.3)  # run 1 gets different data, L1 weight and penalty
    for name in reference:
        assert torch.equal(reference[name], again[name])
        assert torch.equal(reference[name][0], other[name][0])  # run 0 bit-identical
        assert not torch.equal(reference[name][1], other[name][1])


def test_training_lowers_the_loss():
    sample = make_sampler(1.0)
    l1 = torch.tensor([0.05, 0.05])
    start = stacked_init(2, 3, 3, torch.Generator().manual_seed(0))
    trained = train_stacked(sample, 2, 3, 3, l1, {}, steps=200, batch_size=64, lr=0.01,
                            generator=torch.Generator().manual_seed(0))
    x = make_sampler(1.0)(2048)
    with torch.no_grad():
        assert (stacked_loss(trained, x, l1, {}) < 0.5 * stacked_loss(start, x, l1, {})).all()
