"""The pins live in pyproject.toml; environment.yml must install exactly that package and nothing pinned apart."""

import re
import tomllib

import yaml

from saelib.paths import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENVIRONMENT = yaml.safe_load((ROOT / "environment.yml").read_text())


def pip_entries() -> list[str]:
    return next(d["pip"] for d in ENVIRONMENT["dependencies"] if isinstance(d, dict))


def test_environment_installs_the_package_with_dev_extras():
    assert pip_entries() == ["-e .[dev]"]
    assert "conda-forge" in ENVIRONMENT["channels"]


def test_environment_python_satisfies_requires_python():
    python = next(d for d in ENVIRONMENT["dependencies"] if isinstance(d, str) and d.startswith("python="))
    minor = int(python.split("=")[1].split(".")[1])
    required = int(re.search(r">=3\.(\d+)", PYPROJECT["project"]["requires-python"]).group(1))
    assert minor >= required


def test_conda_packages_are_only_python_and_pip():
    names = {re.split(r"[=<>]", d)[0] for d in ENVIRONMENT["dependencies"] if isinstance(d, str)}
    assert names == {"python", "pip"}


def test_key_pins():
    pins = dict(re.match(r"([A-Za-z0-9_.-]+)(.*)", d).groups() for d in PYPROJECT["project"]["dependencies"])
    assert pins["torch"] == "==2.13.0"
    assert pins["transformer-lens"].startswith("==3.")
    assert all(spec.startswith("==") for spec in pins.values()), "every dependency is pinned exactly"
    assert {"sae-lens", "papermill", "nbval", "seaborn", "scipy", "tqdm", "jupyter", "ipykernel"} <= set(pins)


def test_makefile_names_the_conda_environment():
    assert f"CONDA_ENV_NAME := {ENVIRONMENT['name']}" in (ROOT / "Makefile").read_text()
