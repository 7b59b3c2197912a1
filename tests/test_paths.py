import pytest

from saelib import paths


def test_root_is_the_repository_and_every_location_sits_under_it_by_default(monkeypatch):
    monkeypatch.delenv("SAELIB_ARTIFACTS", raising=False)
    monkeypatch.delenv("SAELIB_DATA", raising=False)
    assert (paths.ROOT / "pyproject.toml").is_file()
    assert paths.data_dir() == paths.ROOT / "data"
    assert paths.results_dir() == paths.ROOT / "results"
    assert paths.figures_dir() == paths.ROOT / "figures"
    assert paths.report_path() == paths.ROOT / "REPORT.md"


def test_the_artifacts_variable_alone_moves_everything_a_run_writes(tmp_path, monkeypatch):
    monkeypatch.delenv("SAELIB_DATA", raising=False)
    monkeypatch.setenv("SAELIB_ARTIFACTS", str(tmp_path))
    root = tmp_path.resolve()
    assert (paths.results_dir(), paths.figures_dir(), paths.report_path(), paths.data_dir()) == (
        root / "results", root / "figures", root / "REPORT.md", root / "data")


@pytest.mark.parametrize("artifacts", [None, "elsewhere"])
def test_the_data_variable_moves_the_caches_alone(tmp_path, monkeypatch, artifacts):
    if artifacts:
        monkeypatch.setenv("SAELIB_ARTIFACTS", str(tmp_path / artifacts))
    monkeypatch.setenv("SAELIB_DATA", str(tmp_path / "caches"))
    assert paths.data_dir() == (tmp_path / "caches").resolve()


def test_ensure_dir_creates_nested(tmp_path):
    assert paths.ensure_dir(tmp_path / "a" / "b").is_dir()
