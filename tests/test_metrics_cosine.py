"""Cosine metrics: matrices against true features, k-th nearest neighbours (brute force), random baseline."""

import numpy as np
import pytest
import torch

from saelib.metrics.cosine import (
    best_match,
    cosine_matrix,
    covariance_directions,
    kth_neighbour_cosines,
    random_directions_like,
)
from saelib.params import ParameterError


def test_cosine_matrix_known_values_and_scale_invariance():
    learned = torch.tensor([[2.0, 0.0], [1.0, 1.0], [0.0, -3.0]])
    true = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = torch.tensor([[1.0, 0.0], [2**-0.5, 2**-0.5], [0.0, -1.0]])
    torch.testing.assert_close(cosine_matrix(learned, true), expected)
    values, index = best_match(learned, true)
    torch.testing.assert_close(values, torch.tensor([1.0, 2**-0.5]))
    assert index.tolist() == [0, 1]
    with pytest.raises(ValueError):
        cosine_matrix(torch.ones(2, 3), torch.ones(2, 2))


def test_kth_neighbour_matches_brute_force():
    torch.manual_seed(0)
    W = torch.randn(30, 6)
    result = kth_neighbour_cosines(W, [1, 5, 29])
    unit = (W / W.norm(dim=1, keepdim=True)).numpy()
    for i in range(30):
        others = sorted((float(unit[i] @ unit[j]) for j in range(30) if j != i), reverse=True)
        for k in (1, 5, 29):
            assert result[k][i].item() == pytest.approx(others[k - 1], abs=1e-5)


def test_kth_neighbour_rejects_ranks_beyond_the_dictionary():
    with pytest.raises(ParameterError, match="ranks"):
        kth_neighbour_cosines(torch.randn(10, 3), [1, 10])


def test_random_baseline_shape_unit_norm_and_known_spread():
    W = torch.randn(2000, 64)
    R = random_directions_like(W, torch.Generator().manual_seed(0))
    assert R.shape == W.shape
    torch.testing.assert_close(R.norm(dim=1), torch.ones(2000))
    # cosines of independent isotropic directions in d dims have variance 1/d
    cos = (R[:1000] * R[1000:]).sum(1).numpy()
    assert np.var(cos) == pytest.approx(1 / 64, rel=0.15)


def test_covariance_directions_follow_the_data_shape():
    generator = torch.Generator().manual_seed(0)
    # data spread 10x more along the first axis than the others: the directions crowd around it
    data = torch.randn(20000, 4, generator=generator) * torch.tensor([10.0, 1.0, 1.0, 1.0]) + 5.0
    directions = covariance_directions(data, 2000, torch.Generator().manual_seed(1))
    torch.testing.assert_close(directions.norm(dim=-1), torch.ones(2000))
    assert directions[:, 0].abs().median() > 0.9
    isotropic = covariance_directions(torch.randn(20000, 4, generator=generator), 2000, generator)
    assert 0.3 < isotropic[:, 0].abs().median() < 0.5  # ~0.42 for a uniform direction in 4-d
