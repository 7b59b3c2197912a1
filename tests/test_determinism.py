"""Same machine, same seed: the same ledger, bit for bit. A notebook that trains SAEs runs twice at the smoke
profile, each time with empty caches (its own SAELIB_DATA), so the second run recomputes everything."""

import json

from saelib.paths import ROOT
from saelib.runner import run_notebook

NOTEBOOK = ROOT / "notebooks" / "05_mcs_vs_random_wasserstein.ipynb"


def ledger_after_a_fresh_run(folder, monkeypatch, seed: int) -> bytes:
    """The ledger bytes of one smoke run with its own artifacts and data folders."""
    monkeypatch.setenv("SAELIB_ARTIFACTS", str(folder))
    monkeypatch.setenv("SAELIB_DATA", str(folder / "data"))
    run_notebook(NOTEBOOK, folder / NOTEBOOK.name, {"PROFILE": "smoke", "SEED": seed})
    return (folder / "results" / "claims" / f"{NOTEBOOK.stem}.json").read_bytes()


def test_same_seed_gives_the_same_ledger_bit_for_bit_and_another_seed_other_numbers(tmp_path, monkeypatch):
    first = ledger_after_a_fresh_run(tmp_path / "first", monkeypatch, seed=0)
    second = ledger_after_a_fresh_run(tmp_path / "second", monkeypatch, seed=0)
    assert first == second
    other = json.loads(ledger_after_a_fresh_run(tmp_path / "other", monkeypatch, seed=1))
    values = lambda ledger: [row["measured"] for row in ledger["claims"]]  # noqa: E731
    assert values(other) != values(json.loads(first))
