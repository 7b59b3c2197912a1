"""Post 001's L1 reference: registered, the reference's untied initialisation, unit-norm rows, the geometric median
against a brute-force minimiser, and b_dec set from the training activations by the run cache."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

import saelib.runs as runs_mod
from saelib.params import ParameterError
from saelib.runs import (
    ActivationSpec,
    SAERunSpec,
    TrainerSpec,
    initial_b_dec,
    load_or_train,
    set_data_dependent_init,
)
from saelib.saes.l0_approx import L0ApproxTrainingSAE, L0ApproxTrainingSAEConfig
from saelib.saes.reference_l1 import (
    ReferenceL1TrainingSAE,
    ReferenceL1TrainingSAEConfig,
    geometric_median,
)
from saelib.saes.unit_norm import UnitNormTrainingSAE
from saelib.training.fast import train_fast
from tests.helpers import round_trip

HOOK = "blocks.1.hook_resid_pre"


def reference_sae(d_in: int = 8, d_sae: int = 64, **cfg) -> ReferenceL1TrainingSAE:
    torch.manual_seed(0)
    return ReferenceL1TrainingSAE(ReferenceL1TrainingSAEConfig(d_in=d_in, d_sae=d_sae, l1_coefficient=0.1, **cfg))


def test_reference_init_is_untied_kaiming_with_unit_decoder_rows_and_zero_biases():
    sae = reference_sae()
    assert sae.W_enc.abs().max() <= (6 / 64) ** 0.5  # kaiming_uniform_ on [d_in, d_sae]: fan_in = d_sae
    assert sae.W_enc.abs().max() > 0.8 * (6 / 64) ** 0.5  # and it fills its range
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(64))
    cosines = torch.nn.functional.cosine_similarity(sae.W_enc.T, sae.W_dec, dim=1)
    assert cosines.abs().max() < 0.99  # untied
    assert not sae.b_enc.any() and not sae.b_dec.any()
    assert sae.cfg.apply_b_dec_to_input and sae.cfg.b_dec_init == "geometric_median"
    assert isinstance(sae, UnitNormTrainingSAE)  # unit-norm decoder and plain L1 penalty


def summed_distance(points: torch.Tensor, centre: torch.Tensor) -> float:
    """Σ_i ‖points_i − centre‖: what the geometric median minimises."""
    return float(torch.linalg.vector_norm(points.double() - centre.double(), dim=1).sum())


def test_geometric_median_matches_a_brute_force_minimiser():
    points = torch.as_tensor(np.random.default_rng(0).standard_t(2, size=(300, 3)), dtype=torch.float64)
    median = geometric_median(points, max_iter=1000, tol=1e-12)
    best = minimize(lambda c: summed_distance(points, torch.as_tensor(c)), points.mean(0).numpy(),
                    method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-10, maxiter=20000))
    np.testing.assert_allclose(median.numpy(), best.x, atol=1e-4)
    assert summed_distance(points, median) <= best.fun + 1e-9
    assert summed_distance(points, median) < summed_distance(points, points.mean(0))


def test_geometric_median_known_answers():
    square = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    torch.testing.assert_close(geometric_median(square), torch.tensor([1.0, 1.0]))
    # on a line the geometric median is the median, however far the outlier
    line = torch.tensor([[0.0], [1.0], [2.0], [3.0], [1000.0]])
    assert geometric_median(line, max_iter=500).item() == pytest.approx(2.0, abs=1e-3)


def test_bad_b_dec_init_is_rejected():
    with pytest.raises(ParameterError, match="b_dec_init"):
        ReferenceL1TrainingSAEConfig(d_in=4, d_sae=8, b_dec_init="mean")
    with pytest.raises(ParameterError, match="init"):
        L0ApproxTrainingSAEConfig(d_in=4, d_sae=8, init="xavier")


def test_l0_approx_can_start_from_the_reference_draw():
    torch.manual_seed(0)
    sae = L0ApproxTrainingSAE(L0ApproxTrainingSAEConfig(d_in=8, d_sae=64, init="reference"))
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(64))
    assert not sae.cfg.apply_b_dec_to_input  # still no pre-encoder bias
    torch.manual_seed(0)
    tied = L0ApproxTrainingSAE(L0ApproxTrainingSAEConfig(d_in=8, d_sae=64))
    torch.testing.assert_close(tied.W_dec.norm(dim=1), torch.full((64,), 0.1))


def test_fast_trainer_trains_it_and_it_round_trips(tmp_path):
    sae = reference_sae()
    generator = torch.Generator().manual_seed(1)
    batches = (torch.relu(torch.randn(32, 8, generator=generator)) + 1.0 for _ in range(10))
    train_fast([sae], batches, TrainerSpec(steps=10, batch_size=32, lr=1e-2, record_every=5), torch.device("cpu"))
    loaded = round_trip(sae, tmp_path / "sae")  # saved rows are normalised (the last step's drift removed)
    torch.testing.assert_close(loaded.W_dec.norm(dim=1), torch.ones(64))
    assert type(loaded) is ReferenceL1TrainingSAE and loaded.cfg.b_dec_init == "geometric_median"
    torch.testing.assert_close(loaded.b_dec, sae.b_dec)


def test_data_dependent_init_sets_b_dec_only_where_asked():
    train = np.random.default_rng(0).normal(size=(5000, 8)).astype(np.float32) + 3.0
    asked, left = reference_sae(), reference_sae(b_dec_init="zeros")
    set_data_dependent_init([asked, left], train, scale=0.5)
    torch.testing.assert_close(asked.b_dec, geometric_median(torch.as_tensor(train * 0.5)))
    assert not left.b_dec.any()


def test_run_cache_starts_b_dec_at_the_scaled_geometric_median(tiny_target):
    # one step at a negligible learning rate: the cached SAE's b_dec is still its initial value
    data = ActivationSpec(HOOK, n_train_tokens=1024, n_eval_tokens=256, input_scale="unit_rms")
    run = load_or_train(SAERunSpec(ReferenceL1TrainingSAEConfig(d_in=32, d_sae=16, l1_coefficient=0.1), data,
                                   TrainerSpec(steps=1, batch_size=64, lr=1e-12, record_every=1)), device="cpu")
    train = np.asarray(runs_mod.training_activations(tiny_target, data))
    expected = geometric_median(torch.as_tensor(train * run.input_scale))
    torch.testing.assert_close(run.sae.b_dec, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(initial_b_dec(train, run.input_scale), expected)
