import json
import os
import subprocess
import sys
import time

import nbformat
import pytest

from saelib.params import ParameterError
from saelib.runner import output_problems, run_notebook, scrub_notebook


def write_notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_scrub_removes_papermill_timings():
    nb = {"metadata": {"papermill": {"duration": 3.0, "input_path": "/tmp/x"}}, "cells": [
        {"cell_type": "code", "metadata": {"papermill": {"duration": 1}, "execution": {"iopub": 1}},
         "outputs": [{"output_type": "stream", "metadata": {"papermill": {}}, "text": "hi"}]}]}
    scrubbed = scrub_notebook(nb)
    assert "papermill" not in json.dumps(scrubbed) and "execution" not in scrubbed["cells"][0]["metadata"]
    assert scrubbed["metadata"]["kernelspec"]["name"] == "python3"


def test_output_problems_finds_paths_and_errors():
    nb = {"cells": [{"outputs": [{"output_type": "stream", "text": "saved to /work/main/x"}]},
                    {"outputs": [{"output_type": "error", "ename": "E"}]},
                    {"outputs": [{"output_type": "stream", "text": "fine"}]}]}
    problems = output_problems(nb)
    assert len(problems) == 2 and "cell 0" in problems[0] and "cell 1" in problems[1]


def test_run_writes_output_with_parameters_and_records_runtime(isolated_dirs):
    source = write_notebook(isolated_dirs / "nb.ipynb", "X = 1", "print(X * 2)")
    seconds = run_notebook(source, isolated_dirs / "new folder" / "out.ipynb", {"X": 21})
    out = json.loads((isolated_dirs / "new folder" / "out.ipynb").read_text())
    assert "".join(out["cells"][-1]["outputs"][0]["text"]) == "42\n"
    runtimes = json.loads((isolated_dirs / "results" / "runtimes.json").read_text())
    assert runtimes["nb"]["seconds"] == round(seconds, 1) and runtimes["nb"]["parameters"] == {"X": 21}


def test_failed_run_leaves_the_notebook_untouched(isolated_dirs):
    source = write_notebook(isolated_dirs / "nb.ipynb", "X = 1", "raise RuntimeError('boom')")
    before = source.read_bytes()
    with pytest.raises(Exception, match="boom"):
        run_notebook(source)
    assert source.read_bytes() == before
    assert sorted(p.name for p in isolated_dirs.glob("*.ipynb")) == ["nb.ipynb"]


def test_outputs_with_machine_paths_are_not_stored(isolated_dirs):
    source = write_notebook(isolated_dirs / "nb.ipynb", "X = 1", "print('/home/someone/file')")
    with pytest.raises(RuntimeError, match="machine path"):
        run_notebook(source, isolated_dirs / "out.ipynb")
    assert not (isolated_dirs / "out.ipynb").exists()


def test_terminated_run_leaves_no_temporary_notebook(isolated_dirs):
    source = write_notebook(isolated_dirs / "nb.ipynb", "X = 1", "import time; time.sleep(60)")
    env = {**os.environ, "SAELIB_ARTIFACTS": str(isolated_dirs)}
    process = subprocess.Popen([sys.executable, "-m", "saelib.runner", str(source)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(isolated_dirs.glob(".nb.*.ipynb")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # the kernel is now running the sleeping cell
    process.terminate()
    assert process.wait(timeout=60) != 0
    assert sorted(p.name for p in isolated_dirs.glob("*.ipynb")) == ["nb.ipynb"]
    assert not list(isolated_dirs.glob(".nb.*"))


def test_a_misspelled_parameter_is_rejected_naming_the_closest_before_any_compute(tmp_path):
    notebook = write_notebook(tmp_path / "nb.ipynb", "SIZES = None\nSEED = 0", "open('ran', 'w').write('yes')")
    with pytest.raises(ParameterError, match=r"parameter SIZE=3: .*did you mean 'SIZES'"):
        run_notebook(notebook, tmp_path / "out.ipynb", {"SIZE": 3})
    assert not (tmp_path / "ran").exists() and not (tmp_path / "out.ipynb").exists()


def test_the_command_line_exits_2_with_the_message(tmp_path):
    notebook = write_notebook(tmp_path / "nb.ipynb", "SIZES = None")
    result = subprocess.run([sys.executable, "-m", "saelib.runner", str(notebook), "-p", "SIZE", "3"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "did you mean 'SIZES'" in result.stderr


def test_stored_notebooks_show_their_figures_even_under_a_headless_backend(isolated_dirs, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = write_notebook(isolated_dirs / "nb.ipynb", "SEED = 0",
                              "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()")
    run_notebook(notebook, isolated_dirs / "out.ipynb")
    outputs = json.loads((isolated_dirs / "out.ipynb").read_text())["cells"][1]["outputs"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert os.environ["MPLBACKEND"] == "Agg"
