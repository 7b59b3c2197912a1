import json

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformer_lens import HookedTransformer, HookedTransformerConfig
from transformers import PreTrainedTokenizerFast

import saelib.target_model as tmod
from saelib.target_model import (
    config_hash,
    greedy_continuation,
    learning_rate,
    load_or_train_target_model,
    target_model_config,
)


def test_profiles_keep_the_posts_architecture():
    cfg = target_model_config("default")
    assert (cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp, cfg.act_fn) == (6, 32, 4, 8, 128, "gelu")
    with pytest.raises(ValueError, match="profile"):
        target_model_config("huge")


def test_config_hash_depends_on_config_and_corpus():
    cfg = target_model_config("smoke")
    assert config_hash(cfg, "a") == config_hash(cfg, "a")
    assert config_hash(cfg, "a") != config_hash(cfg, "b")
    assert config_hash(cfg, "a") != config_hash(target_model_config("smoke", seed=1), "a")


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    cfg = target_model_config("smoke", lr=1.0, warmup_steps=10, n_steps=110)
    assert learning_rate(0, cfg) == pytest.approx(0.1)
    assert learning_rate(9, cfg) == pytest.approx(1.0)
    assert learning_rate(110, cfg) == pytest.approx(0.1)


def test_train_once_then_load_from_cache(isolated_dirs, tiny_model_config, monkeypatch):
    first = load_or_train_target_model(tiny_model_config, device="cpu")
    assert first.model.cfg.n_layers == 2 and len(first.history) == 2
    assert first.train_tokens.shape[1] == 128 and first.train_tokens.max() < 256

    def must_not_train(*args, **kwargs):
        raise AssertionError("a cached checkpoint with the same config hash must be reused")

    monkeypatch.setattr(tmod, "train_model", must_not_train)
    second = load_or_train_target_model(tiny_model_config, device="cpu")
    tokens = torch.as_tensor(first.train_tokens[:2])
    assert torch.equal(first.model(tokens), second.model(tokens))
    assert second.history.equals(first.history)
    assert first.training_seconds is not None and second.training_seconds == first.training_seconds > 0
    cfg = tiny_model_config
    assert first.passes_over_corpus() == pytest.approx(cfg.n_steps * cfg.batch_size / len(first.train_tokens))


def test_write_summary_keeps_notebook_00s_numbers_for_the_report(isolated_dirs):
    path = tmod.write_summary({"profile": "smoke", "held_out_loss": 2.5})
    assert path == isolated_dirs / "results" / "summaries" / "00_target_model.json"
    assert json.loads(path.read_text()) == {"held_out_loss": 2.5, "profile": "smoke"}


def test_corrupt_checkpoint_is_retrained(isolated_dirs, tiny_model_config):
    tm = load_or_train_target_model(tiny_model_config, device="cpu")
    (tmod.checkpoint_dir(tm.key) / "model.pt").write_bytes(b"not a checkpoint")
    again = load_or_train_target_model(tiny_model_config, device="cpu")
    assert (tmod.checkpoint_dir(tm.key) / "model.pt").stat().st_size > 1000
    assert len(again.history) == 2


def test_greedy_continuation_extends_the_prompt(isolated_dirs, tiny_model_config):
    tm = load_or_train_target_model(tiny_model_config, device="cpu")
    text = greedy_continuation(tm, "def ", 5)
    assert text.startswith("def ") and len(text.encode()) >= 9


def tiny_pretrained_model() -> HookedTransformer:
    """A stand-in for HookedTransformer.from_pretrained: a word-level tokenizer built offline, random weights."""
    vocab = {w: i for i, w in enumerate(["[UNK]", "<eos>", "the", "cat", "sat", "on", "mat", "a", "dog"])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<eos>", unk_token="[UNK]")
    cfg = HookedTransformerConfig(n_layers=2, d_model=8, n_heads=2, d_head=4, d_mlp=16, n_ctx=4, d_vocab=len(vocab),
                                  act_fn="gelu", device="cpu", default_prepend_bos=False)
    return HookedTransformer(cfg, tokenizer=tokenizer)


def test_real_path_pretrained_model_and_local_dataset(isolated_dirs, tmp_path, monkeypatch):
    data = tmp_path / "corpus.txt"
    data.write_text("the cat sat on the mat\na dog sat on a mat\nthe dog sat\n" * 4)
    requested = []

    def fake_from_pretrained(name, device):
        requested.append(name)
        return tiny_pretrained_model()

    monkeypatch.setattr(tmod.HookedTransformer, "from_pretrained", staticmethod(fake_from_pretrained))
    cfg = target_model_config("smoke", model_name="tiny-stand-in", dataset="text", dataset_data_files=str(data),
                              n_ctx=4, val_fraction=0.2)
    tm = load_or_train_target_model(cfg, device="cpu")
    assert requested == ["tiny-stand-in"]
    assert tm.train_tokens.shape[1] == 4 and tm.history.empty
    assert tm.corpus["source"] == "text" and tm.corpus["n_documents"] == 12
    assert np.isin(tm.train_tokens, [1, 2, 3, 4, 5, 6, 7, 8]).all()  # every word known, eos between texts
    assert tm.decode([2, 3, 4]) == "the cat sat"
