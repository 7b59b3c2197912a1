"""Training activations spread over the whole train split (`spread=True`, `ActivationSpec(train_windows="spread")`):
the windows picked, their activations, their own cache, and run keys that stay as they were at the default."""

import numpy as np
import pytest
import torch
from sae_lens import StandardTrainingSAEConfig

from saelib.activations import cached_activations, spread_windows
from saelib.params import ParameterError
from saelib.runs import ActivationSpec, SAERunSpec, TrainerSpec, run_key, training_activations
from saelib.target_model import load_or_train_target_model

HOOK = "blocks.1.hook_resid_pre"


@pytest.fixture
def tm(isolated_dirs, tiny_model_config):
    return load_or_train_target_model(tiny_model_config, device="cpu")


@pytest.mark.parametrize("n, available", [(1, 5), (3, 7), (7, 7), (10, 1000), (999, 1000)])
def test_spread_windows_are_distinct_ordered_and_cover_the_split(n, available):
    picked = spread_windows(n, available)
    assert len(picked) == n and len(set(picked.tolist())) == n
    assert (np.diff(picked) > 0).all() and picked[0] == 0 and picked[-1] == (available - 1 if n > 1 else 0)
    if n > 1:  # evenly spaced: gaps differ by at most one window
        assert np.diff(picked).max() - np.diff(picked).min() <= 1


def test_spread_cache_holds_the_activations_of_the_picked_windows(tm):
    n_ctx, n_windows = tm.train_tokens.shape[1], 3
    spread = np.asarray(cached_activations(tm, HOOK, n_windows * n_ctx, spread=True))
    first = np.asarray(cached_activations(tm, HOOK, n_windows * n_ctx))
    picked = spread_windows(n_windows, len(tm.train_tokens))
    _, cache = tm.model.run_with_cache(torch.as_tensor(tm.train_tokens[picked]))
    np.testing.assert_allclose(spread, cache[HOOK].reshape(-1, cache[HOOK].shape[-1]).numpy(), atol=1e-5)
    assert picked[-1] == len(tm.train_tokens) - 1 and not np.allclose(spread, first)


def spec(train_windows: str = "first") -> SAERunSpec:
    return SAERunSpec(StandardTrainingSAEConfig(d_in=32, d_sae=8),
                      ActivationSpec(HOOK, 384, 128, train_windows=train_windows), TrainerSpec(4, 64, 1e-3))


def test_the_window_choice_is_part_of_the_run_key():
    assert spec().as_dict()["data"]["train_windows"] == "first"
    assert spec("spread").as_dict()["data"]["train_windows"] == "spread"
    assert run_key(spec(), "m") != run_key(spec("spread"), "m")
    with pytest.raises(ParameterError, match="train_windows"):
        ActivationSpec(HOOK, 10, 10, train_windows="random")


def test_training_activations_follow_the_spec(tm):
    spread = np.asarray(training_activations(tm, spec("spread").data))
    np.testing.assert_array_equal(spread, np.asarray(cached_activations(tm, HOOK, 384, spread=True)))
