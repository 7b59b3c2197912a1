"""Every variant is registered by importing `saelib` alone: saved SAEs load in a fresh interpreter through both
sae-lens's `SAE.load_from_disk` and `load_training_sae`, and the SAE definitions never import a trainer."""

import ast
import subprocess
import sys

import pandas as pd
import pytest
import torch
from sae_lens import StandardTrainingSAEConfig
from sae_lens.registry import get_sae_training_class

from saelib.metrics.evaluation import evaluate_sae
from saelib.paths import ROOT
from saelib.runs import ActivationSpec, SAERunSpec, TrainerSpec, save_run
from saelib.saes import VARIANTS
from saelib.saes.l0_approx import L0ApproxTrainingSAEConfig
from saelib.saes.matryoshka_fixed import MatryoshkaFixedTrainingSAEConfig
from saelib.saes.orthogonal import OrthogonalTrainingSAEConfig
from saelib.saes.reference_l1 import ReferenceL1TrainingSAEConfig
from saelib.saes.tied import TiedTrainingSAEConfig
from saelib.saes.unit_norm import UnitNormTrainingSAEConfig

CONFIGS = {
    "tied": TiedTrainingSAEConfig(d_in=6, d_sae=5),
    "orthogonal": OrthogonalTrainingSAEConfig(d_in=6, d_sae=5, ortho_coefficient=0.1),
    "matryoshka_fixed": MatryoshkaFixedTrainingSAEConfig(d_in=6, d_sae=5, matryoshka_widths=[1, 5]),
    "unit_norm": UnitNormTrainingSAEConfig(d_in=6, d_sae=5),
    "l0_approx": L0ApproxTrainingSAEConfig(d_in=6, d_sae=5, frequency_coefficient=1e-3),
    "reference_l1": ReferenceL1TrainingSAEConfig(d_in=6, d_sae=5),
}
LOAD_BOTH_WAYS = """
import sys, torch, saelib
from sae_lens import SAE
from saelib.runs import load_training_sae
x = torch.load(sys.argv[2])
inference, training = SAE.load_from_disk(sys.argv[1]), load_training_sae(sys.argv[1])
torch.save({"inference": inference.encode(x), "training": training.encode(x),
            "class": type(training).__name__}, sys.argv[3])
"""
SPEC = SAERunSpec(StandardTrainingSAEConfig(d_in=6, d_sae=5), ActivationSpec("blocks.0.hook_resid_pre", 1, 1),
                  TrainerSpec(steps=1, batch_size=1, lr=1e-3))


def test_every_variant_has_a_config_here():
    assert set(CONFIGS) == set(VARIANTS)


@pytest.mark.parametrize("architecture", sorted(CONFIGS))
def test_saved_variant_loads_in_a_fresh_interpreter(architecture, tmp_path):
    torch.manual_seed(0)
    sae = get_sae_training_class(architecture)[0](CONFIGS[architecture])
    folder = tmp_path / architecture
    x = torch.randn(7, 6)
    save_run(folder, SPEC, sae, pd.DataFrame(columns=["step", "loss"]), evaluate_sae(sae, x), 1.0)
    torch.save(x, tmp_path / "x.pt")
    subprocess.run([sys.executable, "-c", LOAD_BOTH_WAYS, str(folder), str(tmp_path / "x.pt"),
                    str(tmp_path / "out.pt")], check=True, cwd=tmp_path)
    out = torch.load(tmp_path / "out.pt")
    expected = sae.encode(x).detach()
    torch.testing.assert_close(out["inference"], expected)
    torch.testing.assert_close(out["training"], expected)
    assert out["class"] == type(sae).__name__


def imported_modules(path) -> set[str]:
    """Every module a file imports (absolute names)."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_sae_definitions_sit_below_the_trainers_and_the_run_cache():
    for path in sorted((ROOT / "saelib" / "saes").glob("*.py")):
        above = {m for m in imported_modules(path) if m.startswith(("saelib.training", "saelib.runs"))}
        assert not above, f"{path.name} imports {above}"
