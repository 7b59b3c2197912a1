"""Cached SAE runs: one folder per spec, written atomically, loaded on the second call, readable by sae-lens."""

import json

import numpy as np
import pytest
import torch
from sae_lens import SAE, StandardTrainingSAEConfig

import saelib.runs as runs_mod
from saelib.params import ParameterError
from saelib.paths import data_dir
from saelib.runs import ActivationSpec, SAERunSpec, TrainerSpec, input_scale_factor, load_or_train, load_or_train_many
from saelib.saes.unit_norm import UnitNormTrainingSAEConfig

HOOK = "blocks.1.hook_resid_pre"



def spec(trainer: str = "sae_lens", seed: int = 0, d_sae: int = 64, l1: float = 1.0, scale: str = "none"):
    return SAERunSpec(sae=StandardTrainingSAEConfig(d_in=32, d_sae=d_sae, l1_coefficient=l1),
                      data=ActivationSpec(HOOK, n_train_tokens=1024, n_eval_tokens=256, input_scale=scale),
                      trainer=TrainerSpec(steps=8, batch_size=64, lr=1e-3, trainer=trainer, record_every=4),
                      seed=seed)


def test_first_call_trains_and_writes_one_complete_folder(tiny_target):
    run = load_or_train(spec(), device="cpu")
    assert run.folder.parent == data_dir() / "sae_runs"
    assert sorted(p.name for p in run.folder.iterdir()) == sorted(
        ["COMPLETE", "cfg.json", "sae_weights.safetensors", "history.csv", "evaluation.json", "firing_rates.npy",
         "spec.json"])
    assert run.history["step"].tolist() == [4, 8]
    assert run.evaluation.firing_rates.shape == (64,)
    assert run.evaluation.l0 == pytest.approx(run.evaluation.firing_rates.sum())
    assert json.loads((run.folder / "spec.json").read_text())["trainer"]["steps"] == 8
    assert [p.name for p in run.folder.parent.iterdir()] == [run.folder.name]  # no staging folder left


def test_second_call_loads_and_trains_nothing(tiny_target, monkeypatch):
    first = load_or_train(spec(), device="cpu")
    monkeypatch.setattr(runs_mod, "train_group", lambda *a, **k: pytest.fail("a cached run must not train again"))
    second = load_or_train(spec(), device="cpu")
    x = torch.randn(5, 32)
    assert torch.equal(first.sae.encode(x), second.sae.encode(x))
    assert second.evaluation.summary() == first.evaluation.summary()


def test_another_seed_or_setting_is_another_run(tiny_target):
    base, other_seed, other_l1 = load_or_train_many([spec(), spec(seed=1), spec(l1=2.0)], device="cpu")
    assert len({base.folder, other_seed.folder, other_l1.folder}) == 3
    assert not torch.equal(base.sae.W_dec, other_seed.sae.W_dec)


def test_same_spec_twice_gives_the_same_weights_bit_for_bit(tiny_target, tmp_path, monkeypatch):
    first = load_or_train(spec(), device="cpu")
    monkeypatch.setenv("SAELIB_DATA", str(tmp_path / "elsewhere"))
    second = load_or_train(spec(), device="cpu")
    assert first.folder != second.folder
    assert torch.equal(first.sae.W_dec, second.sae.W_dec)


def test_interrupted_run_leaves_nothing_loadable(tiny_target, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runs_mod, "evaluate_sae", broken)
    with pytest.raises(KeyboardInterrupt):
        load_or_train(spec(), device="cpu")
    assert list((data_dir() / "sae_runs").glob("*")) == []


def test_saved_run_loads_with_sae_lens_alone(tiny_target):
    folder = load_or_train(spec(), device="cpu").folder
    sae = SAE.load_from_disk(folder)
    assert sae.cfg.d_sae == 64


def test_unit_rms_scale_makes_the_mean_norm_sqrt_d():
    rows = np.random.default_rng(0).normal(size=(500, 16)) * 7
    scale = input_scale_factor(rows, "unit_rms")
    assert np.linalg.norm(rows * scale, axis=1).mean() == pytest.approx(4.0)
    assert input_scale_factor(rows, "none") == 1.0


def test_scaled_runs_evaluate_on_scaled_inputs(tiny_target):
    run = load_or_train(spec(scale="unit_rms"), device="cpu")
    assert run.input_scale != 1.0
    assert json.loads((run.folder / "evaluation.json").read_text())["input_scale"] == run.input_scale


@pytest.mark.parametrize("bad, name", [(dict(steps=0), "steps"), (dict(trainer="adam"), "trainer"),
                                       (dict(trainer="sae_lens", clip_grad_norm=0.5), "clip_grad_norm")])
def test_bad_trainer_settings_name_the_parameter(bad, name):
    settings = dict(steps=8, batch_size=64, lr=1e-3) | bad
    with pytest.raises(ParameterError, match=name):
        TrainerSpec(**settings)


def test_bad_activation_settings_name_the_parameter():
    with pytest.raises(ParameterError, match="input_scale"):
        ActivationSpec(HOOK, 10, 10, input_scale="l2")
    with pytest.raises(ValueError, match="hook_name"):
        ActivationSpec("resid", 10, 10)


def test_a_variant_round_trips_through_the_cache(tiny_target):
    run = load_or_train(SAERunSpec(sae=UnitNormTrainingSAEConfig(d_in=32, d_sae=16, l1_coefficient=0.1),
                                   data=spec().data, trainer=spec().trainer), device="cpu")
    torch.testing.assert_close(run.sae.W_dec.norm(dim=1), torch.ones(16))
