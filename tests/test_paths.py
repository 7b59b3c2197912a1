import os
import subprocess
import sys
from pathlib import Path

from saelib import paths


def test_root_is_the_repository():
    assert (paths.ROOT / "pyproject.toml").is_file()
    assert paths.DATA == paths.ROOT / "data"


def test_artifacts_variable_moves_results_and_figures_but_not_data(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SAELIB_DATA"} | {"SAELIB_ARTIFACTS": str(tmp_path)}
    code = "from saelib import paths; print(paths.RESULTS); print(paths.FIGURES); print(paths.DATA)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    results, figures, data = (Path(line) for line in out.stdout.split())
    assert results == tmp_path.resolve() / "results"
    assert figures == tmp_path.resolve() / "figures"
    assert data == paths.ROOT / "data"


def test_data_variable_moves_the_caches(tmp_path):
    env = {**os.environ, "SAELIB_DATA": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", "from saelib import paths; print(paths.DATA)"], env=env,
                         capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()) == tmp_path.resolve()


def test_ensure_dir_creates_nested(tmp_path):
    assert paths.ensure_dir(tmp_path / "a" / "b").is_dir()
