"""Shared fixtures: a tiny target-model config and isolated data/results folders."""

import pytest

import saelib.runs
import saelib.target_model
from saelib.paths import ROOT
from saelib.target_model import target_model_config


@pytest.fixture
def isolated_dirs(tmp_path, monkeypatch):
    """Send everything saelib writes (results, figures, REPORT.md, caches) under a temporary folder."""
    monkeypatch.setenv("SAELIB_ARTIFACTS", str(tmp_path))
    monkeypatch.delenv("SAELIB_DATA", raising=False)
    return tmp_path


@pytest.fixture
def shared_caches(isolated_dirs, monkeypatch):
    """`isolated_dirs`, but reading and filling the repository's data/ caches (the smoke runs share them)."""
    monkeypatch.setenv("SAELIB_DATA", str(ROOT / "data"))
    return isolated_dirs


@pytest.fixture
def tiny_model_config():
    """A two-layer model trained for a few steps on 60 kB of stdlib source."""
    return target_model_config("smoke", n_layers=2, max_bytes=60_000, n_steps=4, eval_every=2, warmup_steps=2,
                               batch_size=4, n_eval_windows=4)


@pytest.fixture
def tiny_target(isolated_dirs, tiny_model_config, monkeypatch):
    """The tiny target model, trained once into the isolated data folder, served to every SAE run."""
    tm = saelib.target_model.load_or_train_target_model(tiny_model_config, device="cpu")
    monkeypatch.setattr(saelib.runs, "target_of", lambda data, device=None: tm)
    return tm
