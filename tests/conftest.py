"""Shared fixtures: a tiny target-model config and isolated data/results folders."""

import pytest

import saelib.activations
import saelib.ledger
import saelib.plotting
import saelib.report
import saelib.runner
import saelib.runs
import saelib.target_model
from saelib.target_model import target_model_config


@pytest.fixture
def isolated_dirs(tmp_path, monkeypatch):
    """Point every module's DATA / RESULTS / FIGURES at a temporary folder."""
    for module in (saelib.target_model, saelib.activations, saelib.runs):
        monkeypatch.setattr(module, "DATA", tmp_path / "data")
    for module in (saelib.ledger, saelib.report, saelib.runner, saelib.target_model):
        monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    for module in (saelib.plotting, saelib.report):
        monkeypatch.setattr(module, "FIGURES", tmp_path / "figures")
    monkeypatch.setattr(saelib.report, "REPORT", tmp_path / "REPORT.md")
    return tmp_path


@pytest.fixture
def tiny_model_config():
    """A two-layer model trained for a few steps on 60 kB of stdlib source."""
    return target_model_config("smoke", n_layers=2, max_bytes=60_000, n_steps=4, eval_every=2, warmup_steps=2,
                               batch_size=4, n_eval_windows=4)


@pytest.fixture
def tiny_target(isolated_dirs, tiny_model_config, monkeypatch):
    """The tiny target model, trained once into the isolated data folder, served to every SAE run."""
    tm = saelib.target_model.load_or_train_target_model(tiny_model_config, device="cpu")
    monkeypatch.setattr(saelib.runs, "target_model", lambda data, device=None: tm)
    return tm
