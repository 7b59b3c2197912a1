import random

import numpy as np
import pytest
import torch

from saelib.paths import ROOT
from saelib.repro import code_digests, environment_fingerprint, pick_device, saelib_files_used, seed_everything


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


def test_a_notebooks_code_digest_covers_the_modules_it_runs_and_no_others():
    cells = ["%matplotlib inline", "from saelib.nonlinearity import spread_feature"]
    used = {p.relative_to(ROOT).as_posix() for p in saelib_files_used(cells)}
    assert {"saelib/__init__.py", "saelib/nonlinearity.py", "saelib/params.py", "saelib/saes/__init__.py"} <= used
    assert "saelib/multilayer.py" not in used and "saelib/report.py" not in used
    from_package = {p.name for p in saelib_files_used(["from saelib.figures import nonlinearity"])}
    assert "nonlinearity.py" in from_package and "common.py" not in from_package


def test_code_digests_name_the_notebook_and_its_modules():
    digests = code_digests("02_sqrt_n_nonlinearity")
    assert set(digests) == {"notebook", "saelib"} and digests["notebook"] != "absent"
    assert code_digests("99_no_such_notebook")["notebook"] == "absent"
