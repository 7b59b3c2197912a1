import json
import re

import pytest

from saelib import claims
from saelib.claims import CLAIMS, NOTEBOOKS, POSTS, Ledger, LedgerError
from saelib.paths import ROOT

SHARED_CLAIMS = ROOT.parent / "shared" / "CLAIMS.md"


def test_registry_is_complete_and_consistent():
    assert all(c.notebook in NOTEBOOKS and c.post in POSTS for c in CLAIMS.values())
    assert len(CLAIMS) == 29
    assert all(re.fullmatch(r"C0[1-5]\.\d", cid) for cid in CLAIMS)


@pytest.mark.skipif(not SHARED_CLAIMS.exists(), reason="the project's shared/CLAIMS.md is not beside this clone")
def test_registry_ids_match_the_shared_claims_list():
    shared_ids = set(re.findall(r"^\| (C\d\d\.\d) \|", SHARED_CLAIMS.read_text(), flags=re.M))
    assert shared_ids == set(CLAIMS)


def test_record_writes_the_ledger_and_returns_a_table(isolated_dirs):
    ledger = Ledger("02_sqrt_n_nonlinearity", parameters={"PROFILE": "smoke"})
    table = ledger.record("C02.1", {"ratio": 9.87}, "ratio > 5", "reproduced", figure="02_curves")
    assert list(table["claim"]) == ["C02.1"]
    stored = json.loads((isolated_dirs / "results" / "claims" / "02_sqrt_n_nonlinearity.json").read_text())
    assert stored["claims"][0]["measured"] == {"ratio": 9.87}
    assert stored["parameters"] == {"PROFILE": "smoke"}
    assert stored["environment"]["torch"].startswith("2.13.0") and "device" in stored["environment"]
    assert ledger.summary() == "C02.1: reproduced (ratio=9.9)"


def test_a_single_number_is_stored_as_value(isolated_dirs):
    ledger = Ledger("02_sqrt_n_nonlinearity")
    ledger.record("C02.2", 0.5, "x < 1", "partly reproduced")
    assert ledger.rows["C02.2"]["measured"] == {"value": 0.5}


@pytest.mark.parametrize("claim_id, measured, threshold, verdict, message", [
    ("C09.9", {"x": 1}, "t", "reproduced", "unknown claim id"),
    ("C01.1", {"x": 1}, "t", "reproduced", "belongs to notebook"),
    ("C02.1", {"x": float("nan")}, "t", "reproduced", "must be finite"),
    ("C02.1", {}, "t", "reproduced", "empty"),
    ("C02.1", {"x": "big"}, "t", "reproduced", "not a number"),
    ("C02.1", {"x": 1}, "  ", "reproduced", "threshold"),
    ("C02.1", {"x": 1}, "t", "sort of", "verdict"),
])
def test_bad_rows_raise_clear_errors(isolated_dirs, claim_id, measured, threshold, verdict, message):
    ledger = Ledger("02_sqrt_n_nonlinearity")
    with pytest.raises(LedgerError, match=message):
        ledger.record(claim_id, measured, threshold, verdict)
    assert not ledger.path.exists()


def test_unknown_notebook_is_rejected():
    with pytest.raises(LedgerError, match="unknown notebook"):
        Ledger("07_nothing")


def test_format_measured_rounds():
    assert claims.format_measured({"a": 0.123456, "b": 1234.5}, 2) == "a=0.12, b=1.2e+03"
