"""The NNLS composite detector on constructed atoms, composites and unexplained directions."""

import numpy as np
import pytest
import torch

from saelib.metrics.composites import (
    decompose,
    decompose_all,
    kind_counts,
    latents_with_atoms,
    refinements,
    signature,
    signature_text,
    signatures,
)
from saelib.params import ParameterError


@pytest.fixture
def features():
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    return q.T[:4]  # four orthonormal true features in 8-d


def test_a_scaled_feature_is_an_atom(features):
    result = decompose(3.0 * features[2], features)
    assert result.kind == "atom" and result.atoms == (2,) and result.shares == pytest.approx((1.0,))
    assert result.residual == pytest.approx(0.0, abs=1e-9)


def test_a_weighted_sum_is_a_composite_with_its_weights(features):
    result = decompose(0.6 * features[0] + 0.3 * features[3] + 0.1 * features[1], features)
    assert result.kind == "composite" and result.atoms == (0, 3)  # feature 1 carries only 10% < min_share
    assert result.shares == pytest.approx((0.6, 0.3))
    assert sorted(decompose(features[0] + features[1] + features[2], features).atoms) == [0, 1, 2]


def test_negative_components_and_orthogonal_directions_are_unexplained(features):
    assert decompose(features[0] - features[1], features).kind == "unexplained"  # residual 1/sqrt(2)
    outside = torch.zeros(8, dtype=torch.float64)
    outside[:] = torch.linalg.svd(features, full_matrices=True).Vh[-1]  # orthogonal to every feature
    assert decompose(outside, features).kind == "unexplained"
    assert decompose(torch.zeros(8), features).kind == "unexplained"
    # a small negative component stays within the residual tolerance
    assert decompose(features[0] - 0.2 * features[1], features).kind == "atom"


def test_non_orthogonal_features_are_decomposed_by_nnls():
    F = np.array([[1.0, 0.0], [np.sqrt(0.5), np.sqrt(0.5)]])
    direction = 2 * F[0] + 1 * F[1]
    result = decompose(torch.tensor(direction), torch.tensor(F))
    assert result.kind == "composite" and result.shares == pytest.approx((2 / 3, 1 / 3))


def test_decompose_all_and_parameter_checks(features):
    rows = torch.stack([features[0], features[1] + features[2], -features[3]])
    assert [d.kind for d in decompose_all(rows, features)] == ["atom", "composite", "unexplained"]
    with pytest.raises(ParameterError, match="max_residual"):
        decompose(features[0], features, max_residual=1.5)
    with pytest.raises(ParameterError, match="min_share"):
        decompose(features[0], features, min_share=0.0)


def test_signature_lists_live_latents_only_sorted(features):
    directions = torch.stack([features[1], features[0] + features[1], features[0], features[3]])
    live = torch.tensor([True, True, True, False])
    assert signature(directions, features, live) == (("atom", (0,)), ("atom", (1,)), ("composite", (0, 1)))


def test_refinements_find_more_specific_splits_of_a_narrow_latent():
    # narrow latent 0 fires on samples 0-5; wide latents: 0 on 0-2 and 1 on 3-5 (a split), 2 on 0-5 (the same
    # set, not more specific), 3 on 4-7 (half outside), 4 never
    narrow = torch.zeros(8, 1, dtype=torch.bool)
    narrow[:6, 0] = True
    wide = torch.zeros(8, 5, dtype=torch.bool)
    wide[0:3, 0], wide[3:6, 1], wide[0:6, 2], wide[4:8, 3] = True, True, True, True
    assert refinements(wide, narrow).tolist() == [True, True, False, False, False]
    assert refinements(wide, narrow, max_ratio=0.99).tolist() == [True, True, False, False, False]
    assert refinements(wide, narrow, containment=0.5).tolist() == [True, True, False, True, False]


def test_signatures_of_a_stack_are_each_runs_signature(features):
    runs = torch.stack([torch.stack([features[0], features[1], features[0] + features[1]]),
                        torch.stack([features[2], -features[3], features[1]])])
    live = torch.tensor([[True, True, True], [True, True, False]])
    found = signatures(runs, features, live)
    assert found == [signature(runs[0], features, live[0]), signature(runs[1], features, live[1])]
    assert found[0] == (("atom", (0,)), ("atom", (1,)), ("composite", (0, 1)))
    assert signature_text(found[0]) == "f1, f2, f1+f2"
    assert signature_text(found[1]) == "f3, ?"
    assert signature_text(()) == "nothing"


def test_latents_with_atoms_finds_each_atom_set_in_order(features):
    directions = torch.stack([features[1], features[0] + features[1], features[0], features[0]])
    assert latents_with_atoms(directions, features, [(0,), (0, 1), (1,)]) == [2, 1, 0]
    with pytest.raises(ValueError, match="atoms"):
        latents_with_atoms(directions, features, [(2,)])


def test_kind_counts_count_live_rows_by_kind(features):
    directions = torch.stack([features[0], features[0] + features[2], -features[1], features[3], features[1]])
    live = torch.tensor([True, True, True, True, False])
    assert kind_counts(directions, features, live) == {"live": 4, "atom": 2, "composite": 1, "unexplained": 1}
