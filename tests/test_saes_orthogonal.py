"""The decoder-cosine penalty SAE: penalty value and gradient against a brute-force loop, registry, loss term."""

import itertools
import math

import pytest
import torch
from sae_lens.registry import get_sae_training_class
from sae_lens.saes.sae import TrainStepInput

from saelib.params import ParameterError
from saelib.saes.orthogonal import (
    OrthogonalTrainingSAE,
    OrthogonalTrainingSAEConfig,
    active_pairs,
    decoder_cosine_penalty,
    pair_cosines,
)
from saelib.training.sae_lens_trainer import train_sae
from tests.helpers import round_trip


def brute_force_penalty(W: torch.Tensor, penalty: str) -> torch.Tensor:
    total = W.new_zeros(())
    for i, j in itertools.combinations(range(W.shape[0]), 2):
        cos = torch.dot(W[i], W[j]) / (W[i].norm() * W[j].norm())
        total = total + (cos.abs() if penalty == "abs" else -torch.log(1 - cos**2))
    return total


@pytest.mark.parametrize("penalty", ["abs", "log_barrier"])
def test_penalty_value_and_gradient_match_brute_force(penalty):
    torch.manual_seed(0)
    W = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    W_ref = W.detach().clone().requires_grad_()
    value = decoder_cosine_penalty(W, penalty)
    expected = brute_force_penalty(W_ref, penalty)
    torch.testing.assert_close(value, expected)
    value.backward()
    expected.backward()
    torch.testing.assert_close(W.grad, W_ref.grad)


def test_penalty_known_values_and_stacking():
    orthonormal = torch.eye(3)
    composite = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert decoder_cosine_penalty(orthonormal, "abs").item() == pytest.approx(0.0, abs=1e-7)
    assert decoder_cosine_penalty(composite, "abs").item() == pytest.approx(math.sqrt(2))
    assert decoder_cosine_penalty(composite, "log_barrier").item() == pytest.approx(2 * math.log(2))
    stacked = torch.stack([orthonormal[:, :2] * 0 + composite, composite * 3])  # scale-invariant, leading dims kept
    torch.testing.assert_close(decoder_cosine_penalty(stacked, "abs"), torch.full((2,), math.sqrt(2)))
    assert pair_cosines(composite).shape == (3,)


def test_log_barrier_is_finite_for_parallel_rows():
    W = torch.tensor([[1.0, 0.0], [2.0, 0.0]], requires_grad=True)
    value = decoder_cosine_penalty(W, "log_barrier")
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(W.grad).all()


def test_unknown_penalty_names_the_parameter():
    with pytest.raises(ParameterError, match="penalty"):
        decoder_cosine_penalty(torch.eye(2), "cubic")
    with pytest.raises(ParameterError, match="ortho_penalty"):
        OrthogonalTrainingSAEConfig(d_in=2, d_sae=2, ortho_penalty="cubic")
    with pytest.raises(ParameterError, match="ortho_coefficient"):
        OrthogonalTrainingSAEConfig(d_in=2, d_sae=2, ortho_coefficient=-1.0)


def test_loss_term_penalises_decoder_not_encoder():
    torch.manual_seed(0)
    sae = OrthogonalTrainingSAE(OrthogonalTrainingSAEConfig(d_in=4, d_sae=3, l1_coefficient=0.0, ortho_coefficient=0.5))
    x = torch.randn(8, 4)
    output = sae.training_forward_pass(TrainStepInput(sae_in=x, coefficients={"l1": 0.0}, dead_neuron_mask=None,
                                                      n_training_steps=0, is_logging_step=False))
    torch.testing.assert_close(output.losses["ortho_loss"], 0.5 * brute_force_penalty(sae.W_dec.detach(), "abs"))
    sae.zero_grad()
    output.losses["ortho_loss"].backward()
    assert sae.W_dec.grad.abs().sum() > 0 and (sae.W_enc.grad is None or sae.W_enc.grad.abs().sum() == 0)


def test_registered_trains_and_round_trips(tmp_path):
    assert get_sae_training_class("orthogonal")[0] is OrthogonalTrainingSAE
    torch.manual_seed(0)
    sae = OrthogonalTrainingSAE(OrthogonalTrainingSAEConfig(d_in=4, d_sae=3, l1_coefficient=0.01,
                                                            ortho_coefficient=1.0, ortho_penalty="log_barrier"))
    start = decoder_cosine_penalty(sae.W_dec.detach(), "log_barrier")

    def batches():
        generator = torch.Generator().manual_seed(1)
        while True:
            yield torch.relu(torch.randn(32, 4, generator=generator))

    trained = train_sae(sae, batches(), n_samples=32 * 60, batch_size=32, lr=1e-2, device="cpu", record_every=20)
    assert "ortho_loss" in trained.history.columns
    assert decoder_cosine_penalty(trained.sae.W_dec.detach(), "log_barrier") < start
    loaded = round_trip(trained.sae, tmp_path / "sae")
    assert isinstance(loaded, OrthogonalTrainingSAE) and loaded.cfg.ortho_penalty == "log_barrier"
    torch.testing.assert_close(loaded.W_dec, trained.sae.W_dec)


def test_active_pairs_keep_pairs_of_two_firing_latents_and_the_penalty_sums_only_those():
    fired = torch.tensor([True, False, True, True])
    # pairs in pair_cosines' order: (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    assert active_pairs(fired).tolist() == [False, True, True, False, False, True]
    torch.manual_seed(1)
    W = torch.randn(4, 3)
    kept = [(i, j) for i, j in itertools.combinations(range(4), 2) if fired[i] and fired[j]]
    expected = sum(abs(torch.dot(W[i], W[j]) / (W[i].norm() * W[j].norm())) for i, j in kept)
    torch.testing.assert_close(decoder_cosine_penalty(W, "abs", active_pairs(fired)), expected)
    with pytest.raises(ParameterError, match="ortho_scope"):
        OrthogonalTrainingSAEConfig(d_in=2, d_sae=2, ortho_scope="nearest")
