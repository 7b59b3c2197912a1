"""Cosine metrics: matrices against true features, k-th nearest neighbours (brute force), random baseline."""

import numpy as np
import pytest
import torch

from saelib.metrics.cosine import (
    abs_cosines,
    cosine_matrix,
    covariance_directions,
    kth_neighbour_cosines,
    largest_pair_abs_cos,
    mean_abs_cos_with_others,
    random_directions_like,
    stacked_cosine_matrix,
    summed_pair_abs_cos,
)
from saelib.params import ParameterError


def test_cosine_matrix_known_values_and_scale_invariance():
    learned = torch.tensor([[2.0, 0.0], [1.0, 1.0], [0.0, -3.0]])
    true = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = torch.tensor([[1.0, 0.0], [2**-0.5, 2**-0.5], [0.0, -1.0]])
    torch.testing.assert_close(cosine_matrix(learned, true), expected)
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


def test_stacked_cosine_matrix_is_cosine_matrix_per_run():
    learned = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(1))
    true = torch.randn(2, 5, generator=torch.Generator().manual_seed(2))
    stacked = stacked_cosine_matrix(learned, true)
    assert stacked.shape == (3, 4, 2)
    for run in range(3):
        torch.testing.assert_close(stacked[run], cosine_matrix(learned[run], true))


def test_row_abs_cosines_on_riggs_encoder():
    rows = torch.tensor([[-1.0, 1.0], [1.0, 1.0], [1.0, -1.0]])  # Riggs's encoder: rows 0 and 2 antiparallel
    torch.testing.assert_close(abs_cosines(rows), torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]))
    assert mean_abs_cos_with_others(rows, 1) == pytest.approx(0.0)
    assert mean_abs_cos_with_others(rows, 0) == pytest.approx(0.5)
    assert largest_pair_abs_cos(rows) == pytest.approx(1.0)
    assert summed_pair_abs_cos(rows) == pytest.approx(1.0)
    diagonal = torch.tensor([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])  # two axes and their diagonal
    assert largest_pair_abs_cos(diagonal) == pytest.approx(2**-0.5)
    assert summed_pair_abs_cos(diagonal) == pytest.approx(2 * 2**-0.5)
