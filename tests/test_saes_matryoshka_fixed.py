"""The fixed-prefix Matryoshka L1 SAE: loss against a hand computation, config checks, registry and save/load."""

import pytest
import torch
from sae_lens.registry import get_sae_training_class
from sae_lens.saes.sae import TrainStepInput

from saelib.params import ParameterError
from saelib.saes.matryoshka_fixed import MatryoshkaFixedTrainingSAE, MatryoshkaFixedTrainingSAEConfig
from saelib.training.sae_lens_trainer import train_sae
from tests.helpers import round_trip


def test_loss_matches_hand_computation():
    sae = MatryoshkaFixedTrainingSAE(MatryoshkaFixedTrainingSAEConfig(
        d_in=2, d_sae=3, l1_coefficient=0.5, matryoshka_widths=[1, 3], apply_b_dec_to_input=False))
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(2, 3))  # latent i reads x_i (latent 2 reads nothing)
        sae.b_enc.zero_()
        sae.b_enc[2] = 1.0  # latent 2 always fires at 1
        sae.W_dec.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]))
        sae.b_dec.copy_(torch.tensor([0.5, 0.0]))
    x = torch.tensor([[1.0, 1.0]])
    out = sae.training_forward_pass(TrainStepInput(sae_in=x, coefficients={"l1": 0.5}, dead_neuron_mask=None,
                                                   n_training_steps=0, is_logging_step=False))
    # acts = (1, 1, 1); prefix [0]: b_dec + (1, 0) = (1.5, 0) -> error (0.5, -1) -> 1.25
    # full: b_dec + (1,0) + (0,2) + (1,1) = (2.5, 3) -> error (1.5, 2) -> 6.25
    # L1: 0.5 * (1*1 + 1*2 + 1*sqrt(2))
    assert out.losses["inner_mse_loss_1"].item() == pytest.approx(1.25)
    assert out.losses["mse_loss"].item() == pytest.approx(6.25)
    assert out.losses["l1_loss"].item() == pytest.approx(0.5 * (3 + 2**0.5))
    assert out.loss.item() == pytest.approx(1.25 + 6.25 + 0.5 * (3 + 2**0.5))


@pytest.mark.parametrize("widths", [[], [2, 1, 3], [1, 2], [0, 3], [1.5, 3]])
def test_bad_widths_name_the_parameter(widths):
    with pytest.raises(ParameterError, match="matryoshka_widths"):
        MatryoshkaFixedTrainingSAEConfig(d_in=2, d_sae=3, matryoshka_widths=widths)


def test_registered_trains_and_round_trips(tmp_path):
    assert get_sae_training_class("matryoshka_fixed")[0] is MatryoshkaFixedTrainingSAE
    torch.manual_seed(0)
    sae = MatryoshkaFixedTrainingSAE(MatryoshkaFixedTrainingSAEConfig(d_in=4, d_sae=3, l1_coefficient=0.01,
                                                                      matryoshka_widths=[1, 3]))

    def batches():
        generator = torch.Generator().manual_seed(1)
        while True:
            yield torch.relu(torch.randn(32, 4, generator=generator))

    trained = train_sae(sae, batches(), n_samples=32 * 30, batch_size=32, lr=1e-2, device="cpu", record_every=10)
    assert "inner_mse_loss_1" in trained.history.columns
    loaded = round_trip(trained.sae, tmp_path / "m")
    assert isinstance(loaded, MatryoshkaFixedTrainingSAE) and loaded.cfg.matryoshka_widths == [1, 3]
