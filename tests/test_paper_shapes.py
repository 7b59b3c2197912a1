"""Each claim notebook's `paper` profile runs at its real shapes for a handful of steps on the CPU, so the path a
GPU user takes is known to run, and its peak memory is known.

The overrides that shrink a paper run to a handful of steps (never its shapes) live in
tests/paper_shapes/<notebook>.json: {"parameters": {...}, "why": "..."}. Notebook 04's paper profile reads
GPT-2 small; where its weights cannot be downloaded the overrides ask for its architecture with random weights.
"""

import json
import subprocess
import sys

import pytest

from saelib.claims import NOTEBOOKS
from saelib.paths import ROOT

SHAPES = ROOT / "tests" / "paper_shapes"
PEAK_MEMORY_LIMIT_GIB = 20  # the 24 GiB machines this companion is built on
# runs one notebook in a fresh process and prints the peak resident memory of its kernel (its only child)
RUN_AND_MEASURE = """
import json, resource, sys
from saelib.runner import run_notebook
run_notebook(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), check_outputs=False)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20)
"""


def test_every_claim_notebook_has_paper_shape_overrides():
    assert sorted(p.stem for p in SHAPES.glob("*.json")) == sorted(NOTEBOOKS[1:])


@pytest.mark.parametrize("stem", NOTEBOOKS[1:])
def test_paper_profile_runs_at_its_real_shapes(stem, tmp_path, monkeypatch, record_property):
    monkeypatch.setenv("SAELIB_ARTIFACTS", str(tmp_path))
    overrides = json.loads((SHAPES / f"{stem}.json").read_text())
    parameters = json.dumps({"PROFILE": "paper", **overrides["parameters"]})
    result = subprocess.run([sys.executable, "-c", RUN_AND_MEASURE, str(ROOT / "notebooks" / f"{stem}.ipynb"),
                             str(tmp_path / f"{stem}.ipynb"), parameters], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    peak_gib = float(result.stdout.split()[-1])
    record_property("peak_memory_gib", round(peak_gib, 2))
    print(f"{stem}: paper shapes ran; kernel peak resident memory {peak_gib:.2f} GiB")
    assert peak_gib < PEAK_MEMORY_LIMIT_GIB
