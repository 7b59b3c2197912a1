"""Absorption in a known hierarchy: own latents, the parent's latent (child latents and dead latents excluded,
'no latent' when nothing close is left) and the absorption rate, on hand-built decoders and codes."""

import math

import pytest
import torch

from saelib.metrics.absorption import absorption_rate, own_latent, parent_latent
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
