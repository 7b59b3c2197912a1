"""REPORT.md: a summary row per claim with default, seeds, post's scale and rule history; a section per claim with
its deciding numbers against the rule; stale rows marked; `collect` copies one run's results."""

import json

import pytest

from saelib.atomic import atomic_write_json
from saelib.claims import CLAIMS
from saelib.ledger import Ledger, flag, score, value
from saelib.report import collect_run, render_report, write_report

C022 = {"balanced_over_unbalanced": value(0.001), "intermediate_and_monotone": flag(True), "score_0_negative": 0.9,
        "score_balanced": score(0.001)}


def summary_rows(text: str) -> dict[str, str]:
    return {line.split(" | ")[0][2:]: line for line in text.splitlines() if line.startswith("| C0")}


def test_report_summary_sections_seeds_paper_and_stale_rows(isolated_dirs):
    Ledger("02_sqrt_n_nonlinearity").decide("C02.2", C022)
    (isolated_dirs / "figures").mkdir()
    atomic_write_json(isolated_dirs / "results" / "runtimes.json",
                      {"02_sqrt_n_nonlinearity": {"seconds": 42.0, "parameters": {}}})
    ledger = json.loads((isolated_dirs / "results" / "claims" / "02_sqrt_n_nonlinearity.json").read_text())
    stale = {**ledger["claims"][0], "verdict": "partly reproduced", "rule": "000000000000"}
    atomic_write_json(isolated_dirs / "results" / "seeds" / "seed-1" / "claims" / "02_sqrt_n_nonlinearity.json",
                      {**ledger, "claims": [stale]})
    atomic_write_json(isolated_dirs / "results" / "paper" / "claims" / "02_sqrt_n_nonlinearity.json",
                      {**ledger, "code": {"notebook": "old", "saelib": "old"}})
    text = write_report().read_text()
    rows = summary_rows(text)
    assert list(rows) == list(CLAIMS)
    assert rows["C02.2"].startswith(f"| C02.2 | {CLAIMS['C02.2'].short} | reproduced | R P* | "
                                    "reproduced (older code) | changed")
    assert "| not run | not run | not run |" in rows["C05.1"]
    assert "1 reproduced, 0 partly reproduced, 0 not reproduced, 0 not testable" in text
    section = text[text.index("### C02.2"):text.index("### C02.3")]
    assert "reproduced: balanced_over_unbalanced < 0.01 — balanced_over_unbalanced = 0.001, holds" in section
    assert "Rule history:" in section and "d7487b5" not in section and "a8ec366" in section
    assert "| 02_sqrt_n_nonlinearity | 0.7 min | not run |" in text


def test_a_failed_precondition_names_the_run_that_failed_it(isolated_dirs):
    rows = {"C05.6": {"id": "C05.6", "verdict": "not testable", "reason": "precondition not met", "measured": {},
                      "rule": CLAIMS["C05.6"].rule.digest(), "code": {}}}
    text = render_report(rows, {}, {}, {}, {})
    assert "- **default (seed 0)**: not testable (older code) — precondition not met" in text
    row = {"id": "C05.1", "verdict": "not testable", "measured": {"flatness": 0.05},
           "notes": {"flatness": "post recipe, 256 latents, MSE changes -5.0% per 10% of training"}, "rule": ""}
    section = render_report({"C05.1": row}, {}, {}, {}, {})
    assert "flatness = 0.05, fails (post recipe, 256 latents, MSE changes -5.0% per 10% of training)" in section


def test_report_refuses_links_to_missing_figures(isolated_dirs):
    Ledger("02_sqrt_n_nonlinearity").decide("C02.2", C022, figure="02_missing")
    with pytest.raises(FileNotFoundError, match="02_missing"):
        write_report()


def test_collect_copies_ledger_summary_and_merges_the_run_time(tmp_path):
    source, destination = tmp_path / "run", tmp_path / "kept"
    atomic_write_json(source / "claims" / "02_sqrt_n_nonlinearity.json", {"claims": []})
    atomic_write_json(source / "runtimes.json", {"02_sqrt_n_nonlinearity": {"seconds": 5.0, "parameters": {}}})
    atomic_write_json(destination / "runtimes.json", {"00_target_model": {"seconds": 9.0, "parameters": {}}})
    written = collect_run(source, destination, "02_sqrt_n_nonlinearity")
    assert (destination / "claims" / "02_sqrt_n_nonlinearity.json") in written
    assert set(json.loads((destination / "runtimes.json").read_text())) == {"00_target_model",
                                                                            "02_sqrt_n_nonlinearity"}
    assert collect_run(source, destination, "05_mcs_vs_random_wasserstein") == []
