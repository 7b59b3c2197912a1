import pytest

from saelib.atomic import atomic_write_json
from saelib.claims import CLAIMS, Ledger
from saelib.report import render_report, write_report


def test_report_has_one_row_per_claim_and_marks_untested(isolated_dirs):
    ledger = Ledger("02_sqrt_n_nonlinearity")
    ledger.record("C02.1", {"ratio": 9.9}, "ratio > 5", "reproduced")
    (isolated_dirs / "figures").mkdir()
    atomic_write_json(isolated_dirs / "results" / "runtimes.json",
                      {"02_sqrt_n_nonlinearity": {"seconds": 42.0, "parameters": {}}})
    text = write_report().read_text()
    rows = [line for line in text.splitlines() if line.startswith("| C0")]
    assert len(rows) == len(CLAIMS)
    assert "**reproduced** | ratio=9.9 | ratio > 5" in next(r for r in rows if r.startswith("| C02.1"))
    assert "| not run |" in next(r for r in rows if r.startswith("| C05.1"))
    assert "| 02_sqrt_n_nonlinearity | 0.7 min |" in text


def test_report_refuses_links_to_missing_figures(isolated_dirs):
    Ledger("02_sqrt_n_nonlinearity").record("C02.1", 1.0, "t", "reproduced", figure="02_missing")
    with pytest.raises(FileNotFoundError, match="02_missing"):
        write_report()


def test_render_escapes_pipes():
    row = {"id": "C02.1", "verdict": "reproduced", "measured": {"a": 1.0}, "threshold": "|x| < 1",
           "figure": None}
    assert "\\|x\\| < 1" in render_report({"C02.1": row}, {})
