import numpy as np
import pytest
import torch
from sae_lens import StandardTrainingSAE, StandardTrainingSAEConfig

from saelib.metrics.density import (
    context_text,
    floor_counts,
    latent_activations,
    log10_density,
    log10_density_histogram,
    power_law_fit,
    rarest_live,
    token_context,
    top_activating_rows,
)


def identity_sae(d: int = 3) -> StandardTrainingSAE:
    """An SAE whose codes are relu(x): latent i fires when input column i is positive."""
    sae = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=d, d_sae=d, apply_b_dec_to_input=False))
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(d))
        sae.W_dec.copy_(torch.eye(d))
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    return sae


ACTS = np.array([[1.0, -1.0, 0.0], [2.0, 3.0, -1.0], [0.5, -2.0, -1.0], [-1.0, 0.1, -3.0],
                 [4.0, -1.0, -1.0]], dtype=np.float32)


def test_log10_density_and_histogram():
    density = np.array([0.0, 1e-3, 1e-2, 0.1])
    np.testing.assert_allclose(log10_density(density), [-10, -3, -2, -1], atol=1e-6)
    counts, edges = log10_density_histogram(density, np.arange(-10.5, 0.5, 1.0))
    assert counts.sum() == 4 and counts[0] == 1 and counts[-2] == 1
    assert len(edges) == 11


def test_power_law_fit_recovers_known_slope():
    # counts per log10 bin = 10^(c + slope · centre) with slope -0.9
    edges = np.arange(-5.0, 0.01, 0.5)
    centres = (edges[:-1] + edges[1:]) / 2
    rng = np.random.default_rng(0)
    density = np.concatenate([10 ** rng.uniform(lo, hi, size=int(round(10 ** (0.5 - 0.9 * c))))
                              for lo, hi, c in zip(edges[:-1], edges[1:], centres, strict=True)])
    fit = power_law_fit(np.concatenate([density, np.zeros(7)]), edges)
    assert fit.slope == pytest.approx(-0.9, abs=0.02)
    assert fit.r_squared > 0.99
    assert fit.n_bins == len(centres)


def test_power_law_fit_needs_three_bins():
    with pytest.raises(ValueError, match="3 non-empty bins"):
        power_law_fit(np.array([0.1, 0.1]), np.array([-3.0, -2.0, -1.0, 0.0]))


def test_top_activating_rows_match_brute_force():
    rng = np.random.default_rng(1)
    acts = rng.normal(size=(50, 3)).astype(np.float32)
    values, rows = top_activating_rows(identity_sae(), acts, features=[2, 0], k=4, batch_size=7)
    for i, f in enumerate([2, 0]):
        order = np.argsort(-np.maximum(acts[:, f], 0), kind="stable")[:4]
        np.testing.assert_array_equal(np.sort(rows[i]), np.sort(order))
        np.testing.assert_allclose(values[i], np.maximum(acts[order, f], 0), rtol=1e-6)


def test_token_context_stays_in_its_window():
    tokens = np.arange(20).reshape(2, 10)
    decode = lambda t: ",".join(map(str, t))  # noqa: E731
    assert token_context(tokens, 12, decode, before=5, after=2) == ("10,11", "12", "13,14")
    assert token_context(tokens, 9, decode, before=2, after=3) == ("7,8", "9", "")


def test_rarest_live_skips_dead_latents_across_arrays():
    assert rarest_live([np.array([0.0, 0.3]), np.array([0.05, 0.0, 0.9])]) == 0.05


def test_floor_counts_half_a_decade_each_side():
    floor = 1e-3
    density = np.array([0.0, 2e-4, 5e-4, 9e-4, 1e-3, 3e-3, 3.2e-3, 0.5])
    counts = floor_counts(density, floor)
    # below: [3.16e-4, 1e-3) holds 5e-4 and 9e-4; above: [1e-3, 3.16e-3) holds 1e-3 and 3e-3
    assert (counts["below"], counts["above"], counts["below_over_above"]) == (2, 2, 1.0)
    assert counts["near_floor"] == 6 and counts["near_floor_share"] == pytest.approx(6 / 8)
    assert floor_counts(np.array([5e-4]), floor)["below_over_above"] == 1.0  # no latent above: divided by 1


def test_latent_activations_are_the_chosen_codes():
    np.testing.assert_allclose(latent_activations(identity_sae(), ACTS, [2, 0]), np.maximum(ACTS[:, [2, 0]], 0))


def test_context_text_marks_the_token_and_breaks_whitespace_and_paths():
    tokens = np.array([[0, 1, 2, 3]])
    pieces = {0: "see /home/", 1: "x\n", 2: "\t", 3: "y"}
    text = context_text(tokens, 1, lambda t: "".join(pieces[int(i)] for i in t))
    assert text == "…see ∕home∕[x⏎]⇥y…"
