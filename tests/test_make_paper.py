"""`make paper` runs the chosen notebooks at a profile into their own folders and keeps each ledger and run time
(checked on one notebook at the smoke profile)."""

import json
import shutil
import subprocess

import pytest

from saelib.claims import claims_of
from saelib.paths import ROOT


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_paper_runs_a_notebook_and_collects_its_results(tmp_path):
    artifacts, results = tmp_path / "build", tmp_path / "results"
    notebook = "02_sqrt_n_nonlinearity"
    subprocess.run(["make", "--no-print-directory", "paper", "PAPER_PROFILE=smoke",
                    f"PAPER_NOTEBOOKS=notebooks/{notebook}.ipynb", f"PAPER_ARTIFACTS={artifacts}",
                    f"PAPER_RESULTS={results}", "PAPER_REPORT=0"], cwd=ROOT, check=True, capture_output=True)
    ledger = json.loads((results / "claims" / f"{notebook}.json").read_text())
    assert [row["id"] for row in ledger["claims"]] == claims_of(notebook)
    assert ledger["parameters"]["PROFILE"] == "smoke"
    assert set(json.loads((results / "runtimes.json").read_text())) == {notebook}
    assert (artifacts / "notebooks" / f"{notebook}.ipynb").exists()
