"""Every notebook runs end to end through papermill at PROFILE="smoke" (seconds each) and its ledger has a row for
every claim the notebook tests."""

import json

import pytest

from saelib.claims import claims_of
from saelib.paths import ROOT
from saelib.runner import run_notebook

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_at_smoke_profile_and_records_every_claim(notebook, shared_caches):
    isolated_dirs = shared_caches  # the kernel writes figures and ledgers there, caches into data/
    output = isolated_dirs / notebook.name
    run_notebook(notebook, output, {"PROFILE": "smoke"})
    assert output.exists()
    assert (isolated_dirs / "results" / "runtimes.json").exists()
    expected = claims_of(notebook.stem)
    if expected:
        ledger = json.loads((isolated_dirs / "results" / "claims" / f"{notebook.stem}.json").read_text())
        assert sorted(row["id"] for row in ledger["claims"]) == expected
