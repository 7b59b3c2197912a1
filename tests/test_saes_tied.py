"""The tied SAE: W_enc is W_dec.T at all times, one parameter gets both gradients, registry and save/load."""

import torch
from sae_lens.registry import get_sae_training_class
from sae_lens.saes.sae import TrainStepInput

from saelib.saes.tied import TiedTrainingSAE, TiedTrainingSAEConfig
from saelib.training.sae_lens_trainer import train_sae
from tests.helpers import round_trip


def small_tied() -> TiedTrainingSAE:
    torch.manual_seed(0)
    return TiedTrainingSAE(TiedTrainingSAEConfig(d_in=5, d_sae=4, l1_coefficient=0.05))


def batches():
    generator = torch.Generator().manual_seed(1)
    while True:
        yield torch.relu(torch.randn(32, 5, generator=generator))


def test_encoder_is_a_view_of_the_decoder_and_has_no_parameter_of_its_own():
    sae = small_tied()
    assert sorted(name for name, _ in sae.named_parameters()) == ["W_dec", "b_dec", "b_enc"]
    assert sae.W_enc.shape == (5, 4)
    torch.testing.assert_close(sae.W_enc, sae.W_dec.T)
    assert sae.W_enc.data_ptr() == sae.W_dec.data_ptr()
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.full((4,), 0.1))  # sae-lens's decoder_init_norm


def test_gradient_through_encoder_and_decoder_lands_on_one_tensor():
    sae = small_tied()
    x = torch.randn(6, 5)
    acts = torch.relu(x @ sae.W_enc + sae.b_enc)
    out = sae.training_forward_pass(TrainStepInput(sae_in=x, coefficients={"l1": 0.0}, dead_neuron_mask=None,
                                                   n_training_steps=0, is_logging_step=False))
    torch.testing.assert_close(out.feature_acts, acts)
    out.loss.backward()
    # the same loss with an untied copy: the tied gradient is the sum of the encoder's (transposed) and decoder's
    W_enc = sae.W_dec.detach().T.clone().requires_grad_()
    W_dec = sae.W_dec.detach().clone().requires_grad_()
    f = torch.relu(x @ W_enc + sae.b_enc.detach())
    ((f @ W_dec + sae.b_dec.detach() - x).pow(2).sum(-1).mean()).backward()
    torch.testing.assert_close(sae.W_dec.grad, W_dec.grad + W_enc.grad.T)


def test_still_tied_after_training_and_round_trips(tmp_path):
    assert get_sae_training_class("tied")[0] is TiedTrainingSAE
    trained = train_sae(small_tied(), batches(), n_samples=32 * 40, batch_size=32, lr=1e-2, device="cpu",
                        record_every=20)
    torch.testing.assert_close(trained.sae.W_enc, trained.sae.W_dec.T)
    loaded = round_trip(trained.sae, tmp_path / "tied")
    assert isinstance(loaded, TiedTrainingSAE)
    torch.testing.assert_close(loaded.W_enc, trained.sae.W_dec.T)
    x = next(batches())
    torch.testing.assert_close(loaded.encode(x), trained.sae.encode(x))
