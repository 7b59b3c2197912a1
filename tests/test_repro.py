import random

import numpy as np
import pytest
import torch

from saelib.repro import environment_fingerprint, pick_device, seed_everything


def draw() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_same_seed_same_numbers_other_seed_other_numbers():
    seed_everything(3)
    first = draw()
    seed_everything(3)
    assert draw() == first
    seed_everything(4)
    assert draw() != first


def test_seeding_turns_on_deterministic_algorithms():
    seed_everything(0)
    assert torch.are_deterministic_algorithms_enabled()


def test_pick_device_prefers_explicit_then_environment(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("SAELIB_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_pick_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.delenv("SAELIB_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert pick_device() == torch.device(expected)


def test_fingerprint_names_versions_and_device():
    fingerprint = environment_fingerprint(torch.device("cpu"))
    assert fingerprint["torch"].startswith("2.13.0")
    assert fingerprint["device"] == "cpu"
    assert fingerprint["sae-lens"] != "absent"
