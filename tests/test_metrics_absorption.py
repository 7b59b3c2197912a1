"""Absorption in a known hierarchy: own latents, the parent's latent (child latents and dead latents excluded,
'no latent' when nothing close is left) and the absorption rate, on hand-built decoders and codes."""

import math

import pytest
import torch

from saelib.metrics.absorption import (
    absorption_rate,
    distinct_own_latents,
    mean_absorption_rate,
    own_latent,
    parent_latent,
)
from saelib.params import ParameterError

# rows: latents; columns: cosine with (parent, child 1, child 2)
ABSORBED = torch.tensor([[0.95, 0.05, 0.05],   # the parent's latent
                         [0.70, 0.70, 0.00],   # child 1 with the parent folded in (absorption)
                         [0.70, 0.00, 0.70]])  # child 2 likewise


def test_own_latent_is_the_closest_live_latent():
    live = torch.tensor([True, True, True])
    assert own_latent(ABSORBED, live, 1) == 1 and own_latent(ABSORBED, live, 0) == 0
    assert own_latent(ABSORBED, torch.tensor([False, True, True]), 0) == 1  # dead latent 0 is nobody's
    assert own_latent(ABSORBED, torch.zeros(3, dtype=torch.bool), 0) is None


def test_parent_latent_excludes_child_latents_and_dead_ones():
    live = torch.tensor([True, True, True])
    assert parent_latent(ABSORBED, live, 0, [1, 2]) == 0
    # latent 0 dead: the closest remaining latents are the children's own, so the parent has no latent
    assert parent_latent(ABSORBED, torch.tensor([False, True, True]), 0, [1, 2]) is None
    weak = ABSORBED.clone()
    weak[0, 0] = 0.3  # left-over latent too far from the parent to be its latent
    assert parent_latent(weak, live, 0, [1, 2]) is None
    assert parent_latent(weak, live, 0, [1, 2], min_cos=0.2) == 0
    with pytest.raises(ParameterError, match="min_cos"):
        parent_latent(ABSORBED, live, 0, [1], min_cos=1.5)


def test_absorption_rate_known_answers():
    features = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 0.0],
                             [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    latents = torch.tensor([[0.0, 1.4], [0.0, 1.4], [0.0, 1.4], [0.9, 0.1], [1.0, 0.0], [0.0, 0.0]])
    assert absorption_rate(latents, features, 0, parent=0, child=1) == pytest.approx(0.75)  # silent on 3 of 4
    assert absorption_rate(latents, features, None, parent=0, child=1) == 1.0  # no parent latent: absorbed
    assert math.isnan(absorption_rate(latents, features, 0, parent=0, child=2))  # never both active


def test_distinct_own_latents_needs_different_close_live_latents():
    # latents x features (child 1, child 2): latent 0 is child 1's, latent 1 child 2's, latent 2 a weak copy
    cos = torch.tensor([[0.9, -0.1], [0.0, 0.7], [0.2, 0.4]])
    live = torch.tensor([True, True, True])
    assert distinct_own_latents(cos, live, (0, 1)) == [0, 1]
    assert distinct_own_latents(cos, live, (0, 1), min_cos=0.8) is None  # child 2's latent reaches only 0.7
    assert distinct_own_latents(cos, torch.tensor([True, False, True]), (0, 1)) is None  # child 2 gets 0.4 only
    assert distinct_own_latents(cos, torch.tensor([True, False, False]), (0, 1)) is None  # both on latent 0
    assert distinct_own_latents(cos, torch.tensor([False, False, False]), (0, 1)) is None  # nothing live


def test_mean_absorption_rate_averages_children_with_a_shared_sample():
    # features: parent, child 1, child 2; latents: the parent's (0), child 1's (1), child 2's (2)
    features = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    latents = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    cos = torch.tensor([[0.9, 0.1, 0.1], [0.6, 0.8, 0.0], [0.6, 0.0, 0.8]])
    live = torch.tensor([True, True, True])
    rate = mean_absorption_rate(latents, features, cos, live, 0, [1, 2])
    assert rate == pytest.approx((1.0 + 0.5) / 2)  # silent on both child-1 samples, on one of two child-2 samples
    assert mean_absorption_rate(latents[:2], features[:2], cos, live, 0, [1, 2]) == pytest.approx(1.0)  # child 2 unseen
    no_parent_latent = torch.tensor([False, True, True])
    assert mean_absorption_rate(latents, features, cos, no_parent_latent, 0, [1, 2]) == 1.0
    assert math.isnan(mean_absorption_rate(latents[4:], features[4:], cos, live, 0, [1, 2]))
