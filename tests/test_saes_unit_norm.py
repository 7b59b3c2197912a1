"""The unit-norm-decoder SAE: registered, unit-norm rows through training and save/load, plain L1 penalty."""

import importlib

import pytest
import torch
from sae_lens import SAE
from sae_lens.registry import get_sae_class, get_sae_training_class
from sae_lens.saes.sae import TrainStepInput

import saelib.saes.unit_norm as unit_norm
from saelib.params import ParameterError
from saelib.runs import TrainerSpec
from saelib.saes.unit_norm import UnitNormSAE, UnitNormTrainingSAE, UnitNormTrainingSAEConfig
from saelib.training.fast import train_fast
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


def sparse_coding_sae(d_in: int = 8, d_sae: int = 16, decoder_bias: bool = False) -> UnitNormTrainingSAE:
    torch.manual_seed(0)
    return UnitNormTrainingSAE(UnitNormTrainingSAEConfig(d_in=d_in, d_sae=d_sae, l1_coefficient=0.1,
                                                         init="sparse_coding", decoder_bias=decoder_bias,
                                                         apply_b_dec_to_input=decoder_bias))


def test_sae_lens_init_is_tied_at_norm_one_tenth_with_zero_biases():
    sae = small_sae()
    torch.testing.assert_close(sae.W_enc, 0.1 * sae.W_dec.T)
    assert not sae.b_enc.any() and not sae.b_dec.any() and sae.b_dec.requires_grad


def test_sparse_coding_init_is_untied_with_a_random_encoder_bias_and_no_decoder_bias():
    sae = sparse_coding_sae()
    bound = 1 / 8**0.5  # nn.Linear(8, 16): uniform on ±1/√fan_in
    assert sae.W_enc.abs().max() <= bound and sae.b_enc.abs().max() <= bound and sae.b_enc.abs().min() > 0
    cosines = torch.nn.functional.cosine_similarity(sae.W_enc.T, sae.W_dec, dim=1)
    assert cosines.abs().max() < 0.99  # untied: tied rows would have cosine 1
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(16))
    assert not sae.b_dec.any() and not sae.b_dec.requires_grad
    assert sparse_coding_sae(decoder_bias=True).b_dec.requires_grad


def test_bad_init_options_raise_parameter_errors():
    with pytest.raises(ParameterError, match="init"):
        UnitNormTrainingSAEConfig(d_in=4, d_sae=8, init="xavier")
    with pytest.raises(ParameterError, match="apply_b_dec_to_input"):
        UnitNormTrainingSAEConfig(d_in=4, d_sae=8, decoder_bias=False)


def test_options_survive_save_and_load_and_the_frozen_bias_stays_zero_in_training(tmp_path):
    sae = sparse_coding_sae()
    trained = train_sae(sae, (b + 1.0 for b in batches(8, 32)), n_samples=32 * 20, batch_size=32, lr=1e-2,
                        device="cpu", record_every=10).sae
    assert not trained.b_dec.any()
    loaded = round_trip(trained, tmp_path / "sae")
    assert loaded.cfg.init == "sparse_coding" and loaded.cfg.decoder_bias is False
    assert not loaded.b_dec.requires_grad and not loaded.cfg.apply_b_dec_to_input
    torch.testing.assert_close(loaded.W_enc, trained.W_enc)


def test_the_fast_trainer_trains_the_post_recipe_without_a_decoder_bias():
    sae = sparse_coding_sae()
    start = sae.W_enc.detach().clone()
    spec = TrainerSpec(steps=5, batch_size=32, lr=1e-2)
    train_fast([sae], (b + 1.0 for b in batches(8, 32)), spec, torch.device("cpu"))
    assert not sae.b_dec.any() and not sae.b_dec.requires_grad
    assert not torch.equal(sae.W_enc, start)
    assert (sae.W_dec.norm(dim=1) - 1).abs().max() < 0.05  # unit rows up to the last step's drift
