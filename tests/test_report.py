import pytest

from saelib.atomic import atomic_write_json
from saelib.claims import CLAIMS
from saelib.ledger import Ledger, at_least, share
from saelib.report import render_report, write_report


def test_report_has_one_row_per_claim_counts_not_testable_apart_and_shows_seeds(isolated_dirs):
    ledger = Ledger("02_sqrt_n_nonlinearity")
    ledger.decide("C02.1", {"ratio": share(0.9)}, at_least("ratio", 0.5))
    ledger.decide("C02.2", {"dead": share(0.0)}, at_least("dead", 0.5), precondition=at_least("dead", 0.05))
    (isolated_dirs / "figures").mkdir()
    atomic_write_json(isolated_dirs / "results" / "runtimes.json",
                      {"02_sqrt_n_nonlinearity": {"seconds": 42.0, "parameters": {}}})
    seed_row = {"id": "C02.1", "verdict": "partly reproduced"}
    atomic_write_json(isolated_dirs / "results" / "seeds" / "seed-1" / "claims" / "02_sqrt_n_nonlinearity.json",
                      {"notebook": "02_sqrt_n_nonlinearity", "claims": [seed_row]})
    text = write_report().read_text()
    rows = [line for line in text.splitlines() if line.startswith("| C0")]
    assert len(rows) == len(CLAIMS)
    c021 = next(r for r in rows if r.startswith("| C02.1"))
    assert "**reproduced** | R P (flips) | ratio=0.9 | reproduced if ratio ≥ 0.5" in c021
    assert "**not testable** (precondition not met: dead ≥ 0.05 fails (dead = 0))" in next(
        r for r in rows if r.startswith("| C02.2"))
    assert "| not run |" in next(r for r in rows if r.startswith("| C05.1"))
    assert "1 reproduced, 0 partly reproduced, 0 not reproduced, 1 not testable" in text
    assert "1 claim(s) change verdict with the seed: C02.1." in text
    assert "| 02_sqrt_n_nonlinearity | 0.7 min |" in text


def test_report_refuses_links_to_missing_figures(isolated_dirs):
    Ledger("02_sqrt_n_nonlinearity").decide("C02.1", {"x": share(1)}, at_least("x", 0.5), figure="02_missing")
    with pytest.raises(FileNotFoundError, match="02_missing"):
        write_report()


def test_render_escapes_pipes():
    row = {"id": "C02.1", "verdict": "reproduced", "measured": {"a": 1.0}, "threshold": "|x| < 1", "figure": None}
    assert "\\|x\\| < 1" in render_report({"C02.1": row}, {})
