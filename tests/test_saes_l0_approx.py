import math

import pytest
import torch
from sae_lens import SAE, StandardTrainingSAE, StandardTrainingSAEConfig
from sae_lens.saes.jumprelu_sae import JumpReLUTrainingSAE
from sae_lens.saes.sae import TrainingSAE, TrainStepInput

from saelib.saes.l0_approx import (
    FREQUENCY_FLOOR,
    L0ApproxSAE,
    L0ApproxTrainingSAE,
    L0ApproxTrainingSAEConfig,
    frequency_floor_penalty,
    post_recipe_config,
    soft_firing,
    straight_through,
    tanh_arm_config,
)
from saelib.training.sae_lens_trainer import train_sae
from tests.helpers import round_trip


def tiny_sae(**cfg) -> L0ApproxTrainingSAE:
    """A 2-in, 3-latent SAE with fixed weights."""
    settings = dict(d_in=2, d_sae=3, l0_coefficient=0.5, frequency_coefficient=0.1, min_frequency=0.6,
                    frequency_window=4)
    settings.update(cfg)
    sae = L0ApproxTrainingSAE(L0ApproxTrainingSAEConfig(**settings))
    with torch.no_grad():
        sae.W_enc.copy_(torch.tensor([[1.0, -1.0, 0.5], [0.5, 2.0, -1.0]]))
        sae.b_enc.copy_(torch.tensor([0.0, -0.5, 0.1]))
        sae.W_dec.copy_(torch.tensor([[2.0, 0.0], [0.0, 0.5], [1.0, 1.0]]))
        sae.b_dec.copy_(torch.tensor([0.3, -0.2]))
    return sae


def step(sae: TrainingSAE, x: torch.Tensor, **coefficients: float):
    """One training forward pass with the SAE's own coefficients (overridable)."""
    coeffs = {name: (c.value if hasattr(c, "value") else c) for name, c in sae.get_coefficients().items()}
    coeffs.update(coefficients)
    return sae.training_forward_pass(TrainStepInput(sae_in=x, coefficients=coeffs, dead_neuron_mask=None,
                                                    n_training_steps=0, is_logging_step=False))


X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [-1.0, 0.5]])


def hand_losses(x: torch.Tensor, eps: float = 0.2, lam0: float = 0.5, lam_min: float = 0.1,
                s_min: float = 0.6):
    """The post's loss on one batch written out element by element (first step: running = batch estimate)."""
    W_enc = [[1.0, -1.0, 0.5], [0.5, 2.0, -1.0]]
    b_enc = [0.0, -0.5, 0.1]
    W_dec = [[2.0, 0.0], [0.0, 0.5], [1.0, 1.0]]
    b_dec = [0.3, -0.2]
    norms = [math.hypot(*row) for row in W_dec]
    mse, l0, freq = 0.0, 0.0, [0.0, 0.0, 0.0]
    for row in x.tolist():
        a = [max(0.0, row[0] * W_enc[0][f] + row[1] * W_enc[1][f] + b_enc[f]) for f in range(3)]
        out = [sum(a[f] * W_dec[f][d] for f in range(3)) + b_dec[d] for d in range(2)]
        mse += sum((out[d] - row[d]) ** 2 for d in range(2))
        for f in range(3):
            w = a[f] * norms[f]
            l0 += w / (w + eps)
            freq[f] += w / (w + eps) / len(x)
    n = len(x)
    floor = sum(max(0.0, math.log10(s_min) - math.log10(max(s, FREQUENCY_FLOOR))) for s in freq)
    return mse / n, lam0 * l0 / n, lam_min * floor


def test_loss_matches_hand_computation():
    out = step(tiny_sae(), X)
    mse, l0, floor = hand_losses(X)
    assert out.losses["mse_loss"].item() == pytest.approx(mse, rel=1e-5)
    assert out.losses["l0_approx_loss"].item() == pytest.approx(l0, rel=1e-5)
    assert out.losses["frequency_loss"].item() == pytest.approx(floor, rel=1e-5)
    assert out.loss.item() == pytest.approx(mse + l0 + floor, rel=1e-5)


def test_no_pre_encoder_bias_by_default():
    sae = tiny_sae()
    assert sae.cfg.apply_b_dec_to_input is False
    assert torch.equal(sae.process_sae_in(X), X)


def test_frequency_value_from_running_average_and_gradient_from_batch():
    sae = tiny_sae(frequency_window=3, min_frequency=0.9)
    batches = [X, X * 0.5, X[:2]]
    for batch in batches[:-1]:
        step(sae, batch)
    sae.zero_grad()
    out = step(sae, batches[-1], l0=0.0)
    estimates = [soft_firing(sae.encode(b) * sae.W_dec.norm(dim=1), 0.2).mean(0) for b in batches]
    running = torch.stack(estimates).mean(0).detach()
    # value: the ReLU sees the mean over the window, not the current batch
    assert torch.allclose(sae.running_frequency(), running)
    expected_value = 0.1 * torch.relu(math.log10(0.9) - torch.log10(running)).sum()
    assert out.losses["frequency_loss"].item() == pytest.approx(expected_value.item(), rel=1e-5)
    assert out.losses["frequency_loss"].item() != pytest.approx(
        0.1 * frequency_floor_penalty(estimates[-1], 0.9).item(), rel=1e-3)
    # gradient: d/dθ of λ Σ_f ReLU(log10 s_min − log10 s_f) with s_f's derivative taken from the batch term
    out.losses["frequency_loss"].backward()
    grad = sae.W_enc.grad.clone()
    sae.zero_grad()
    active = (math.log10(0.9) > torch.log10(running)).float()
    surrogate = (-0.1 * active / (running * math.log(10)) * estimates[-1]).sum()
    surrogate.backward()
    assert torch.allclose(grad, sae.W_enc.grad, atol=1e-6)
    assert grad.abs().sum() > 0


def test_no_frequency_gradient_when_running_average_is_above_floor():
    sae = tiny_sae(min_frequency=0.05)
    with torch.no_grad():
        sae.frequency_history.fill_(0.5)
        sae.frequency_steps.fill_(4)
    sae.zero_grad()
    out = step(sae, X * 0, l0=0.0)  # this batch alone never fires: its estimate would be far below s_min
    out.losses["frequency_loss"].backward()
    assert out.losses["frequency_loss"].item() == 0.0
    assert sae.W_enc.grad.abs().sum() == 0


def test_running_average_window():
    sae = tiny_sae(frequency_window=2)
    assert sae.frequency_history.shape == (2, 3)
    estimates = []
    for scale in (1.0, 2.0, 3.0):
        batch = X * scale
        estimates.append(soft_firing(sae.encode(batch) * sae.W_dec.norm(dim=1), 0.2).mean(0).detach())
        step(sae, batch)
    assert int(sae.frequency_steps) == 3
    assert torch.allclose(sae.running_frequency(), (estimates[1] + estimates[2]) / 2)
    assert not torch.allclose(sae.running_frequency(), torch.stack(estimates).mean(0))
    one = tiny_sae(frequency_window=1)
    for scale in (1.0, 3.0):
        step(one, X * scale)
    assert torch.allclose(one.running_frequency(), estimates[2])


def test_eval_mode_does_not_record():
    sae = tiny_sae()
    step(sae, X)
    sae.eval()
    step(sae, X * 2)
    assert int(sae.frequency_steps) == 1


def test_straight_through_value_and_gradient():
    source = torch.tensor([1.0, 2.0], requires_grad=True)
    out = straight_through(torch.tensor([5.0, 7.0]), source * 3)
    assert torch.equal(out.detach(), torch.tensor([5.0, 7.0]))
    out.sum().backward()
    assert torch.equal(source.grad, torch.tensor([3.0, 3.0]))


def test_l1_arm_uses_standard_l1_penalty():
    sae = tiny_sae(sparsity_penalty="l1", l1_coefficient=0.7)
    assert set(sae.get_coefficients()) == {"l1", "frequency"}
    out = step(sae, X)
    standard = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=2, d_sae=3, l1_coefficient=0.7,
                                                             apply_b_dec_to_input=False))
    standard.load_state_dict({k: v for k, v in sae.state_dict().items() if not k.startswith("frequency")})
    reference = step(standard, X)
    assert "l0_approx_loss" not in out.losses
    assert out.losses["l1_loss"].item() == pytest.approx(reference.losses["l1_loss"].item(), rel=1e-6)
    assert out.losses["frequency_loss"].item() == pytest.approx(hand_losses(X)[2], rel=1e-5)


def test_tanh_arm_is_sae_lens_jumprelu_tanh():
    cfg = tanh_arm_config(d_in=2, d_sae=3, l0_coefficient=0.5)
    sae = JumpReLUTrainingSAE(cfg)
    assert cfg.jumprelu_sparsity_loss_mode == "tanh" and cfg.apply_b_dec_to_input is False
    out = step(sae, X)
    weighted = out.feature_acts * sae.W_dec.norm(dim=1)
    expected = 0.5 * torch.tanh(cfg.jumprelu_tanh_scale * weighted).sum(-1).mean()
    assert out.losses["l0_loss"].item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("field, value", [("epsilon", 0.0), ("epsilon", -1.0), ("min_frequency", 0.0),
                                          ("min_frequency", 1.0), ("frequency_window", 0),
                                          ("sparsity_penalty", "tanh")])
def test_bad_config_is_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        L0ApproxTrainingSAEConfig(d_in=2, d_sae=3, **{field: value})


def test_trains_with_sae_lens_trainer_and_reloads_identically(tmp_path):
    torch.manual_seed(0)
    sae = L0ApproxTrainingSAE(L0ApproxTrainingSAEConfig(d_in=4, d_sae=8, l0_coefficient=1e-2,
                                                        frequency_coefficient=1e-3, frequency_window=5))
    batches = iter(lambda: torch.randn(32, 4), None)
    trained = train_sae(sae, batches, n_samples=32 * 10, batch_size=32, lr=1e-2, device="cpu", record_every=5)
    assert {"l0_approx_loss", "frequency_loss", "mse_loss"} <= set(trained.history.columns)
    assert int(trained.sae.frequency_steps) == 10
    loaded = round_trip(trained.sae, tmp_path / "sae")
    assert isinstance(loaded, L0ApproxTrainingSAE)
    assert loaded.cfg.frequency_window == 5 and loaded.cfg.l0_coefficient == 1e-2
    x = torch.randn(64, 4)
    assert torch.equal(loaded(x), trained.sae(x))
    assert torch.equal(loaded.encode(x), trained.sae.encode(x))
    assert torch.equal(loaded.frequency_history, trained.sae.frequency_history)
    trained.sae.save_inference_model(tmp_path / "inference")
    inference = SAE.load_from_disk(tmp_path / "inference")
    assert isinstance(inference, L0ApproxSAE)
    assert torch.allclose(inference(x), trained.sae(x))


def test_post_recipe_config_is_the_posts_setup_with_either_penalty():
    l0 = post_recipe_config(4, 16, 0.05, 1e-3, min_frequency=0.01, frequency_window=7, epsilon=0.8)
    assert (l0.sparsity_penalty, l0.l0_coefficient, l0.epsilon) == ("l0_approx", 0.05, 0.8)
    assert l0.frequency_coefficient == 1e-3
    assert (l0.init, l0.b_dec_init, l0.apply_b_dec_to_input) == ("reference", "geometric_median", False)
    assert (l0.min_frequency, l0.frequency_window, l0.d_in, l0.d_sae) == (0.01, 7, 4, 16)
    l1 = post_recipe_config(4, 16, 0.0, 1e-3, min_frequency=0.01, frequency_window=7, l1_coefficient=0.5)
    assert (l1.sparsity_penalty, l1.l1_coefficient, l1.frequency_coefficient) == ("l1", 0.5, 1e-3)
    assert l1.l0_coefficient == L0ApproxTrainingSAEConfig(d_in=4, d_sae=16).l0_coefficient  # left at its default
