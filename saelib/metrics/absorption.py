"""Feature absorption in toys with a known hierarchy: does the parent's latent stay silent when a child fires?

Chanin's reading (003 comments): a latent tracks the parent, but when a child is active the child's latent fires
instead, its decoder carrying the parent's direction as well. In a toy with known parent and child directions:

- each child's own latent is the live latent whose decoder is closest to that child (highest cosine);
- the parent's latent is the live latent, other than any child's own latent, whose decoder is closest to the
  parent, provided that cosine is at least `min_cos`; otherwise the parent has no latent of its own;
- the absorption rate is the share of samples with the parent and the child active on which the parent's latent
  is silent, and 1 when the parent has no latent at all (it is then absorbed everywhere); `mean_absorption_rate`
  averages it over the children.

Dead latents (silent on every evaluation sample) are never anyone's latent.
"""

from collections.abc import Sequence

import numpy as np
import torch

from saelib.params import check_open_unit


def own_latent(decoder_cos: torch.Tensor, live: torch.Tensor, feature: int) -> int | None:
    """The live latent whose decoder has the highest cosine with `feature` (decoder_cos [d_sae, n_features]),
    or None when no latent is live."""
    if not live.any():
        return None
    scores = decoder_cos[:, feature].masked_fill(~live, -float("inf"))
    return int(scores.argmax())


def parent_latent(decoder_cos: torch.Tensor, live: torch.Tensor, parent: int, children: Sequence[int],
                  min_cos: float = 0.5) -> int | None:
    """The parent's own latent (module docstring), or None when it has none."""
    check_open_unit("min_cos", min_cos)
    taken = {own_latent(decoder_cos, live, child) for child in children} - {None}
    candidates = live.clone()
    candidates[list(taken)] = False
    best = own_latent(decoder_cos, candidates, parent)
    return best if best is not None and float(decoder_cos[best, parent]) >= min_cos else None


def absorption_rate(latents: torch.Tensor, features: torch.Tensor, latent: int | None, parent: int,
                    child: int) -> float:
    """Share of samples with `parent` and `child` active (features [n, n_features]) on which the parent's
    latent is silent (latents [n, d_sae]); 1.0 when the parent has no latent; NaN when no sample has both."""
    both = (features[:, parent] > 0) & (features[:, child] > 0)
    if not both.any():
        return float("nan")
    if latent is None:
        return 1.0
    return float((latents[both, latent] <= 0).float().mean())


def distinct_own_latents(decoder_cos: torch.Tensor, live: torch.Tensor, features: Sequence[int],
                         min_cos: float = 0.5) -> list[int] | None:
    """Each feature's own latent, when these are all different latents and each has decoder cosine at least
    `min_cos` with its feature; None otherwise (a feature without a latent of its own, or two sharing one)."""
    check_open_unit("min_cos", min_cos)
    own = [own_latent(decoder_cos, live, feature) for feature in features]
    if None in own or len(set(own)) < len(own):
        return None
    return None if min(float(decoder_cos[o, f]) for o, f in zip(own, features, strict=True)) < min_cos else own


def mean_absorption_rate(latents: torch.Tensor, features: torch.Tensor, decoder_cos: torch.Tensor, live: torch.Tensor,
                         parent: int, children: Sequence[int]) -> float:
    """The parent's absorption rate averaged over its children (one with no sample shared with the parent left out),
    with the parent's latent found by `parent_latent`; NaN when no child ever fires with the parent."""
    latent = parent_latent(decoder_cos, live, parent, children)
    rates = [absorption_rate(latents, features, latent, parent, child) for child in children]
    return float(np.nanmean(rates)) if not np.isnan(rates).all() else float("nan")
