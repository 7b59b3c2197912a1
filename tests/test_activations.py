import json

import numpy as np
import pytest
import torch

import saelib.activations as amod
from saelib.activations import ActivationCache, activation_batches, cached_activations, hook_layer
from saelib.paths import data_dir
from saelib.target_model import load_or_train_target_model

HOOK = "blocks.1.mlp.hook_post"


@pytest.fixture
def tm(isolated_dirs, tiny_model_config):
    return load_or_train_target_model(tiny_model_config, device="cpu")


def cache_folder(tm, n_tokens=512):
    return data_dir() / "activations" / amod.cache_key(tm.key, HOOK, n_tokens, "train")


def test_round_trip_matches_a_direct_forward_pass(tm):
    acts = cached_activations(tm, HOOK, 500)  # rounded up to whole windows
    assert acts.shape == (512, 128)
    _, cache = tm.model.run_with_cache(torch.as_tensor(tm.train_tokens[:4]))
    np.testing.assert_allclose(np.asarray(acts), cache[HOOK].reshape(-1, 128).numpy(), atol=1e-5)


def test_second_call_reuses_the_cache(tm, monkeypatch):
    cached_activations(tm, HOOK, 512)
    monkeypatch.setattr(amod, "write_cache", lambda *a, **k: pytest.fail("a valid cache must be reused"))
    assert len(cached_activations(tm, HOOK, 512)) == 512


@pytest.mark.parametrize("damage", ["manifest", "shard", "other_config"])
def test_damaged_cache_is_detected_and_rebuilt(tm, damage):
    good = np.asarray(cached_activations(tm, HOOK, 512)).copy()
    folder = cache_folder(tm)
    manifest = json.loads((folder / "manifest.json").read_text())
    if damage == "manifest":
        (folder / "manifest.json").write_text("{ not json")
    elif damage == "shard":
        shard = np.load(folder / "shard_000.npy", mmap_mode="r+")
        shard[0, 0] += 1.0
        shard.flush()
        del shard
    else:
        manifest["config_hash"] = "0" * 16
        (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(amod.CacheError):
        amod.open_cache(folder, manifest["config_hash"] if damage != "other_config" else amod.cache_key(
            tm.key, HOOK, 512, "train"))
    np.testing.assert_array_equal(np.asarray(cached_activations(tm, HOOK, 512)), good)


def test_interrupted_write_leaves_no_cache(tm, monkeypatch):
    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(amod, "atomic_write_json", crash)
    with pytest.raises(KeyboardInterrupt):
        cached_activations(tm, HOOK, 512)
    assert not cache_folder(tm).exists()


def test_shards_gather_like_one_array(tm):
    acts = cached_activations(tm, HOOK, 512, shard_rows=200)
    assert len(acts.shards) == 3
    whole = np.asarray(acts)
    rows = np.array([0, 199, 200, 401, 511, 5])
    np.testing.assert_array_equal(acts[rows], whole[rows])
    np.testing.assert_array_equal(acts[150:260], whole[150:260])
    np.testing.assert_array_equal(acts[399], whole[399])


def test_batches_visit_every_row_once_per_epoch():
    data = np.arange(40, dtype=np.float32).reshape(20, 2)
    stream = activation_batches(ActivationCache([data], "x"), batch_size=5, seed=0, device="cpu")
    epoch = torch.cat([next(stream) for _ in range(4)])
    assert sorted(epoch[:, 0].tolist()) == list(range(0, 40, 2))
    with pytest.raises(ValueError, match="batch_size"):
        next(activation_batches(data, batch_size=50, seed=0))


def test_bad_arguments_are_named(tm):
    with pytest.raises(ValueError, match="n_tokens"):
        cached_activations(tm, HOOK, 10**9)
    with pytest.raises(ValueError, match="split"):
        cached_activations(tm, HOOK, 128, split="test")
    with pytest.raises(ValueError, match="hook_name"):
        hook_layer("hook_embed")
    assert hook_layer("blocks.5.hook_resid_pre") == 5
