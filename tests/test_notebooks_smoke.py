"""Every notebook runs end to end through papermill at PROFILE="smoke" (seconds each)."""

import pytest

from saelib.paths import ROOT
from saelib.runner import run_notebook

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_at_smoke_profile(notebook, isolated_dirs, monkeypatch):
    monkeypatch.setenv("SAELIB_ARTIFACTS", str(isolated_dirs))  # the kernel writes figures and ledgers there
    output = isolated_dirs / notebook.name
    run_notebook(notebook, output, {"PROFILE": "smoke"})
    assert output.exists()
    assert list((isolated_dirs / "results").glob("runtimes.json"))
