"""Toy-training helpers: seeded pool batches, sae-lens's initial rows, dead-latent redraw, firing rates, train_toy."""

import math

import numpy as np
import torch
from sae_lens.saes.standard_sae import StandardTrainingSAE, StandardTrainingSAEConfig

from saelib.metrics.evaluation import firing_rates
from saelib.saes.init import sae_lens_decoder_rows
from saelib.saes.tied import TiedTrainingSAE, TiedTrainingSAEConfig
from saelib.training.toy import pool_batches, redraw_dead_latents, train_toy


def test_pool_batches_are_rows_of_the_pool_and_deterministic_per_seed():
    pool = torch.arange(100.0).unsqueeze(1) * torch.ones(1, 3)
    a, b, c = pool_batches(pool, 16, seed=0), pool_batches(pool, 16, seed=0), pool_batches(pool, 16, seed=1)
    first_a, first_b, first_c = [next(a) for _ in range(5)], [next(b) for _ in range(5)], [next(c) for _ in range(5)]
    assert all(torch.equal(x, y) for x, y in zip(first_a, first_b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(first_a, first_c, strict=True))
    assert first_a[0].shape == (16, 3)
    assert all(torch.isin(batch[:, 0], pool[:, 0]).all() for batch in first_a)


def test_init_rows_have_init_norm_and_equal_sae_lens_kaiming_uniform():
    rows = sae_lens_decoder_rows(50, 6, torch.Generator().manual_seed(3), init_norm=0.25)
    torch.testing.assert_close(rows.norm(dim=-1), torch.full((50,), 0.25))
    raw = torch.empty(50, 6)
    torch.nn.init.kaiming_uniform_(raw, generator=torch.Generator().manual_seed(3))  # what sae-lens calls
    assert raw.abs().max() <= math.sqrt(6 / 6)  # kaiming-uniform bound sqrt(6 / d_in)
    torch.testing.assert_close(rows, raw / raw.norm(dim=-1, keepdim=True) * 0.25)
    torch.manual_seed(3)
    sae = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=6, d_sae=50))  # default decoder_init_norm 0.1
    torch.testing.assert_close(sae_lens_decoder_rows(50, 6, torch.Generator().manual_seed(3)), sae.W_dec.detach())


def dead_sae(tied: bool):
    cfg_cls, sae_cls = (TiedTrainingSAEConfig, TiedTrainingSAE) if tied else (StandardTrainingSAEConfig,
                                                                             StandardTrainingSAE)
    torch.manual_seed(0)
    sae = sae_cls(cfg_cls(d_in=3, d_sae=4))
    with torch.no_grad():
        sae.W_dec[[0, 2]] = 0.1 * torch.ones(2, 3)  # live on a positive-orthant probe
        sae.W_dec[[1, 3]] = -0.1 * torch.ones(2, 3)  # dead on it
        if not tied:
            sae.W_enc.copy_(sae.W_dec.T)
    return sae


def test_redraw_revives_dead_latents_and_leaves_live_ones():
    probe = torch.rand(64, 3) + 0.1
    for tied in (False, True):
        sae = dead_sae(tied)
        np.testing.assert_array_equal(firing_rates(sae, probe), [1.0, 0.0, 1.0, 0.0])
        W_dec, W_enc = sae.W_dec.detach().clone(), sae.W_enc.detach().clone()
        redraw_dead_latents(sae, probe, seed=0)
        assert (firing_rates(sae, probe) > 0).all()
        assert torch.equal(sae.W_dec[[0, 2]], W_dec[[0, 2]]) and torch.equal(sae.W_enc[:, [0, 2]], W_enc[:, [0, 2]])
        assert not torch.equal(sae.W_dec[[1, 3]], W_dec[[1, 3]])
        torch.testing.assert_close(sae.W_dec[[1, 3]].norm(dim=-1), torch.full((2,), 0.1))  # sae-lens's init norm
        torch.testing.assert_close(sae.W_enc, sae.W_dec.T)


def test_train_toy_freezes_decoder_bias_is_seeded_and_learns():
    generator = torch.Generator().manual_seed(0)
    pool = (torch.rand(4096, 3, generator=generator) < 0.3).float()

    def run():
        torch.manual_seed(1)
        sae = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=3, d_sae=3, l1_coefficient=0.01))
        return train_toy(sae, pool, seed=4, steps=60, batch_size=64, lr=0.01, device="cpu")

    first, second = run(), run()
    assert not first.sae.b_dec.any()
    torch.testing.assert_close(first.sae.W_dec, second.sae.W_dec, rtol=0, atol=0)
    assert first.history.loss.iloc[-1] < first.history.loss.iloc[0]
