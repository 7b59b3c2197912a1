"""The committed notebooks keep the conventions of notebooks/README.md: kernelspec python3, a parameters cell with
PROFILE and SEED, stored outputs without errors or machine paths, no code cell over 40 lines, and (for the claim
notebooks) a last cell that nbval compares: the verdict table, without numbers."""

import json
import re

import papermill
import pytest

from saelib.claims import NOTEBOOKS
from saelib.params import parameter_names, resolve_profile
from saelib.paths import ROOT
from saelib.runner import output_problems

MAX_CELL_LINES = 40


def load(stem: str) -> dict:
    return json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())


def code_cells(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_kernel_parameters_and_stored_outputs(stem):
    nb = load(stem)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    parameters = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    assert re.search(r"^PROFILE = ", "".join(parameters["source"]), re.M)
    assert re.search(r"^SEED = ", "".join(parameters["source"]), re.M)
    assert any(c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"), "committed without outputs"
    assert output_problems(nb) == []


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_the_parameters_papermill_sees_are_those_the_notebook_resolves(stem):
    """papermill's `-p` (and the runner's name check) and `resolve_profile` agree on the parameters, at every
    profile."""
    source = "".join(next(c for c in load(stem)["cells"] if "parameters" in c["metadata"].get("tags", []))["source"])
    namespace = {}
    exec(source, namespace)
    assert parameter_names(namespace) == list(papermill.inspect_notebook(str(ROOT / "notebooks" / f"{stem}.ipynb")))
    for profile in ("smoke", "default", "paper"):
        assert list(vars(resolve_profile(namespace | {"PROFILE": profile}))) == parameter_names(namespace)


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_no_code_cell_is_longer_than_forty_lines(stem):
    long_cells = [(i, len(src.splitlines())) for i, src in enumerate(code_cells(load(stem)))
                  if len(src.splitlines()) > MAX_CELL_LINES]
    assert long_cells == []


@pytest.mark.parametrize("stem", NOTEBOOKS[1:])
def test_the_cell_nbval_compares_is_the_verdict_table(stem):
    last = code_cells(load(stem))[-1]
    assert last.splitlines()[0] == "# NBVAL_CHECK_OUTPUT" and "ledger.verdict_table()" in last
    checked = [src for src in code_cells(load(stem)) if "NBVAL_CHECK_OUTPUT" in src]
    assert checked == [last], "only the verdict table is compared exactly; numbers go through the ledger check"
