"""Toy generators: exact orthonormal dictionaries, Till's pair law, Riggs's data, exact exclusive children."""

import itertools

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

from saelib.params import ParameterError
from saelib.toy_data import (
    _win_probabilities,
    composite_cheaper_p3,
    composite_pair_activations,
    composite_pair_streams,
    mutually_exclusive_firing_probabilities,
    orthonormal_feature_dictionary,
    parent_children_generator,
    riggs_activations,
    run_streams,
)


def test_orthonormal_dictionary_is_exactly_orthonormal_and_seeded():
    fd = orthonormal_feature_dictionary(5, 8, seed=3)
    F = fd.feature_vectors.detach().double()
    torch.testing.assert_close(F @ F.T, torch.eye(5, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(fd.feature_vectors, orthonormal_feature_dictionary(5, 8, seed=3).feature_vectors)
    assert not torch.allclose(fd.feature_vectors, orthonormal_feature_dictionary(5, 8, seed=4).feature_vectors)


def test_orthonormal_dictionary_rejects_more_features_than_dimensions():
    with pytest.raises(ParameterError, match="num_features"):
        orthonormal_feature_dictionary(4, 3, seed=0)


def test_composite_pair_law_and_per_stream_f3_rates():
    generator = torch.Generator().manual_seed(0)
    acts = composite_pair_activations(200_000, 0.15, 0.1, 0.4, torch.tensor([0.01, 0.3]), generator=generator)
    assert acts.shape == (2, 200_000, 3)
    f1, f2, f3 = (acts[..., i] > 0 for i in range(3))
    for stream in range(2):
        assert abs((f1 & f2)[stream].float().mean() - 0.4) < 0.005
        assert abs((f1 & ~f2)[stream].float().mean() - 0.15) < 0.005
        assert abs((~f1 & f2)[stream].float().mean() - 0.1) < 0.005
    assert abs(f3[0].float().mean() - 0.01) < 0.002 and abs(f3[1].float().mean() - 0.3) < 0.005
    # f3 is independent of the pair: its rate is the same when both fire
    assert abs(f3[1][(f1 & f2)[1]].float().mean() - 0.3) < 0.01
    assert set(acts.unique().tolist()) == {0.0, 1.0}


def test_composite_pair_fixed_proportions_when_both_fire():
    acts = composite_pair_activations(1000, 0.0, 0.0, 1.0, 0.0, magnitudes=(2.0, 1.0, 1.0))
    torch.testing.assert_close(acts[:, 0] / acts[:, 1], torch.full((1000,), 2.0))


@pytest.mark.parametrize("kwargs, name", [
    (dict(p_f1_only=-0.1, p_f2_only=0.1, p_both=0.4, p_f3=0.1), "p_f1_only"),
    (dict(p_f1_only=0.5, p_f2_only=0.5, p_both=0.4, p_f3=0.1), "p_f1_only\\+p_f2_only\\+p_both"),
    (dict(p_f1_only=0.1, p_f2_only=0.1, p_both=0.4, p_f3=-0.01), "p_f3"),
])
def test_composite_pair_rejects_bad_probabilities(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        composite_pair_activations(10, **kwargs)


def test_riggs_activations_frequencies():
    acts = riggs_activations(100_000, 0.25, 0.25, 0.25, generator=torch.Generator().manual_seed(0))
    a, b = acts[:, 0] > 0, acts[:, 1] > 0
    for event in (a & ~b, a & b, ~a & b, ~a & ~b):
        assert abs(event.float().mean() - 0.25) < 0.006


def test_win_probabilities_brute_force():
    # enumerate every firing pattern of three children with a uniformly random winner
    q = [0.3, 0.6, 0.8]
    expected = [0.0, 0.0, 0.0]
    for pattern in itertools.product([0, 1], repeat=3):
        p = 1.0
        for fire, qi in zip(pattern, q, strict=True):
            p *= qi if fire else 1 - qi
        for i, fire in enumerate(pattern):
            if fire:
                expected[i] += p / sum(pattern)
    assert _win_probabilities(np.array(q)) == pytest.approx(expected, abs=1e-12)


def test_exclusive_firing_probabilities_closed_form_and_rejection():
    # two equal children: q - q^2/2 = c  =>  q = 1 - sqrt(1 - 2c)
    q = mutually_exclusive_firing_probabilities([0.4, 0.4])
    assert q == pytest.approx([1 - 0.2**0.5] * 2, abs=1e-9)
    with pytest.raises(ParameterError, match="conditional"):
        mutually_exclusive_firing_probabilities([0.6, 0.5])
    with pytest.raises(ParameterError, match="conditional\\[1\\]"):
        mutually_exclusive_firing_probabilities([0.3, -0.1])


def test_parent_children_generator_exact_conditional_rates():
    torch.manual_seed(0)
    generator = parent_children_generator(0.3, [0.5, 0.3], parent_magnitude=2.0, child_magnitudes=[10.0, 1.0])
    acts = generator.sample(300_000)
    parent, c1, c2 = (acts[:, i] > 0 for i in range(3))
    assert abs(parent.float().mean() - 0.3) < 0.005
    assert abs(c1[parent].float().mean() - 0.5) < 0.01 and abs(c2[parent].float().mean() - 0.3) < 0.01
    assert not (c1 & c2).any() and not ((c1 | c2) & ~parent).any()
    assert set(acts[:, 0].unique().tolist()) <= {0.0, 2.0} and set(acts[:, 1].unique().tolist()) <= {0.0, 10.0}


def test_parent_children_generator_rejects_bad_magnitudes():
    with pytest.raises(ParameterError, match="child_magnitudes"):
        parent_children_generator(0.3, [0.4, 0.4], child_magnitudes=[1.0])
    with pytest.raises(ParameterError, match="parent_p"):
        parent_children_generator(1.3, [0.4, 0.4])


def test_run_streams_are_independent_per_run_and_mapped_through_the_directions():
    directions = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    generator = torch.Generator().manual_seed(0)
    sample = run_streams(lambda n: (torch.rand(n, 2, generator=generator) < 0.5).float(), 3, directions)
    x = sample(1000)
    assert x.shape == (3, 1000, 3) and not x[..., 2].any()
    assert set(x[..., 1].unique().tolist()) == {0.0, 2.0}
    assert not torch.equal(x[0], x[1])  # each run its own draws
    assert abs(float((x[..., 0] > 0).float().mean()) - 0.5) < 0.03
    calls = []
    pooled = run_streams(lambda n: calls.append(n) or torch.arange(float(n)).unsqueeze(1), 2, torch.ones(1, 2),
                         pool_size=10, generator=torch.Generator().manual_seed(0))
    y = pooled(500)
    assert calls == [10] and y.shape == (2, 500, 2)  # the pool is drawn once
    assert set(y[..., 0].unique().tolist()) == set(range(10)) and not torch.equal(y[0], y[1])


def test_parent_with_a_single_child_fires_it_with_its_conditional_rate():
    torch.manual_seed(0)
    acts = parent_children_generator(0.3, [0.5], parent_magnitude=2.0, child_magnitudes=[10.0]).sample(200_000)
    parent, child = acts[:, 0] > 0, acts[:, 1] > 0
    assert not (child & ~parent).any()
    assert abs(float(child.float().mean()) - 0.15) < 0.005  # 0.3 x 0.5, the comment's "child p = 0.15"
    assert set(acts[:, 0].unique().tolist()) == {0.0, 2.0} and set(acts[:, 1].unique().tolist()) == {0.0, 10.0}


def test_composite_pair_streams_are_seeded_per_run_streams_mapped_onto_the_features():
    directions = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    sample = composite_pair_streams(0.15, 0.4, directions, np.array([0.0, 1.0]), seed=3)
    x = sample(5000)
    assert x.shape == (2, 5000, 4) and bool((x[..., 2] == 0).all())
    assert bool((x[0, :, 3] == 0).all()) and bool((x[1, :, 3] == 1).all())  # f3 never / always
    codes = composite_pair_activations(5000, 0.15, 0.15, 0.4, torch.tensor([0.0, 1.0]),
                                       generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(x, codes @ directions)  # the same draws as the pair law with that seed


def test_composite_cheaper_p3_is_where_both_solutions_cost_the_same():
    def latent_cost(m: float, l1: float) -> float:  # the best (m - z)² + l1·z over z >= 0, brute force
        return minimize_scalar(lambda z: (m - z) ** 2 + l1 * z, bounds=(0, m), method="bounded").fun

    p_only, p_both = 0.15, 0.4
    for l1 in (0.01, 0.1, 0.3, 1.0):
        p3 = composite_cheaper_p3(l1, p_both)
        atom, pair = latent_cost(1.0, l1), latent_cost(2**0.5, l1)
        atomic = 2 * p_only * atom + p_both * 2 * atom + p3 * atom
        composite = 2 * p_only * atom + p_both * pair + p3 * 1.0  # f3 dropped: its full squared norm
        assert atomic == pytest.approx(composite, abs=1e-7)
    np.testing.assert_allclose(composite_cheaper_p3(np.array([0.1, 0.3]), p_both),
                               [composite_cheaper_p3(0.1, p_both), composite_cheaper_p3(0.3, p_both)])
