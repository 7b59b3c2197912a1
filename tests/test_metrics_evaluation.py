"""The one implementation of firing rates, L0, MSE and explained variance: known answers and a brute-force check."""

import numpy as np
import pytest
import torch
from sae_lens import StandardTrainingSAE, StandardTrainingSAEConfig

from saelib.metrics.evaluation import evaluate_sae, explained_variance, firing_rates


def identity_sae(d: int = 3) -> StandardTrainingSAE:
    """An SAE whose codes are relu(x) and whose reconstruction is relu(x): latent i fires when column i is > 0."""
    sae = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=d, d_sae=d, apply_b_dec_to_input=False))
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(d))
        sae.W_dec.copy_(torch.eye(d))
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    return sae


ACTS = np.array([[1.0, -1.0, 0.0], [2.0, 3.0, -1.0], [0.5, -2.0, -1.0], [-1.0, 0.1, -3.0],
                 [4.0, -1.0, -1.0]], dtype=np.float32)


def test_firing_rates_count_positive_codes_across_chunks():
    np.testing.assert_allclose(firing_rates(identity_sae(), ACTS, batch_size=2), [4 / 5, 2 / 5, 0.0])


def test_evaluation_matches_a_brute_force_computation():
    result = evaluate_sae(identity_sae(), ACTS, batch_size=2)
    recon = np.maximum(ACTS, 0)
    mse = ((recon - ACTS) ** 2).sum(1).mean()
    variance = ((ACTS - ACTS.mean(0)) ** 2).sum(1).mean()
    assert result.l0 == pytest.approx((ACTS > 0).sum(1).mean())
    assert result.mse == pytest.approx(mse, rel=1e-6)
    assert result.explained_variance == pytest.approx(1 - mse / variance, rel=1e-6)
    assert result.dead_share == pytest.approx(1 / 3)
    assert set(result.summary()) == {"l0", "mse", "explained_variance", "dead_share"}


def test_explained_variance_of_a_batch():
    x = torch.tensor([[1.0, 0.0], [3.0, 2.0]])
    assert explained_variance(x, x) == pytest.approx(1.0)
    assert explained_variance(x, x.mean(0).expand_as(x)) == pytest.approx(0.0, abs=1e-7)


def test_never_firing_share_counts_latents_without_a_positive_code():
    from saelib.metrics.evaluation import never_firing_share

    assert never_firing_share(identity_sae(), ACTS, batch_size=2) == pytest.approx(1 / 3)  # column 3 is never > 0
    assert never_firing_share(identity_sae(), np.abs(ACTS) + 1) == 0.0
