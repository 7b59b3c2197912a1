"""The unit-norm-decoder SAE: registered, unit-norm rows through training and save/load, plain L1 penalty."""

import importlib

import torch
from sae_lens import SAE
from sae_lens.registry import get_sae_class, get_sae_training_class
from sae_lens.saes.sae import TrainStepInput

import saelib.saes.unit_norm as unit_norm
from saelib.saes.unit_norm import UnitNormSAE, UnitNormTrainingSAE, UnitNormTrainingSAEConfig
from saelib.training.sae_lens_trainer import train_sae
from tests.helpers import round_trip


def small_sae(d_in: int = 8, d_sae: int = 16, l1: float = 0.1) -> UnitNormTrainingSAE:
    torch.manual_seed(0)
    return UnitNormTrainingSAE(UnitNormTrainingSAEConfig(d_in=d_in, d_sae=d_sae, l1_coefficient=l1))


def batches(d_in: int, batch_size: int):
    generator = torch.Generator().manual_seed(1)
    while True:
        yield torch.relu(torch.randn(batch_size, d_in, generator=generator))


def test_registered_and_reimport_does_not_register_twice():
    importlib.reload(unit_norm)
    assert get_sae_training_class("unit_norm")[0].__name__ == "UnitNormTrainingSAE"
    assert get_sae_class("unit_norm")[0].__name__ == "UnitNormSAE"


def test_decoder_rows_start_at_unit_norm():
    torch.testing.assert_close(small_sae().W_dec.norm(dim=1), torch.ones(16))


def test_training_keeps_unit_rows_and_save_load_round_trips(tmp_path):
    sae = small_sae()
    trained = train_sae(sae, batches(8, 32), n_samples=32 * 30, batch_size=32, lr=1e-2, device="cpu",
                        record_every=10)
    # the trainer's last optimizer step moves the rows off the sphere by at most one step; saving normalises
    assert (trained.sae.W_dec.norm(dim=1) - 1).abs().max() < 0.05
    assert trained.history["l1_loss"].iloc[-1] > 0
    loaded = round_trip(trained.sae, tmp_path / "sae")
    assert isinstance(loaded, UnitNormTrainingSAE)
    torch.testing.assert_close(loaded.W_dec.norm(dim=1), torch.ones(16))
    inference = SAE.load_from_disk(tmp_path / "sae")
    assert isinstance(inference, UnitNormSAE)
    x = next(batches(8, 5))
    torch.testing.assert_close(inference(x), loaded(x).detach())


def test_aux_loss_is_plain_l1_of_the_codes_and_decode_uses_unit_rows():
    sae = small_sae(l1=0.5)
    with torch.no_grad():
        sae.W_dec.mul_(3.0)  # stored rows off the sphere: decode must still use unit rows
    acts = torch.rand(4, 16)
    expected = acts @ (sae.W_dec / sae.W_dec.norm(dim=1, keepdim=True)) + sae.b_dec
    torch.testing.assert_close(sae.decode(acts), expected)
    step = TrainStepInput(sae_in=torch.rand(4, 8), coefficients={"l1": 0.5}, dead_neuron_mask=None,
                          n_training_steps=0, is_logging_step=False)
    losses = sae.calculate_aux_loss(step, acts, acts, acts)
    torch.testing.assert_close(losses["l1_loss"], 0.5 * acts.sum(dim=1).mean())
    sae.training_forward_pass(step)
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(16))
