"""Seed-share tables and interval gaps against the ledger's Wilson intervals and hand-made intervals."""

import pandas as pd
import pytest

from saelib.ledger import run_share, share_with_interval
from saelib.seed_shares import interval_gap, shares_by, shares_of


def test_shares_by_counts_each_group_with_its_wilson_interval():
    runs = pd.DataFrame({"arm": ["b", "b", "a", "b", "a"], "ok": [True, False, True, True, True],
                         "ev": [0.5, 0.7, 0.9, 0.6, 0.8]})
    table = shares_by(runs, ["arm"], "ok", mean_ev="ev")
    assert table.arm.tolist() == ["b", "a"]  # order of appearance
    assert table.successes.tolist() == [2, 2] and table.n.tolist() == [3, 2]
    assert table.mean_ev.tolist() == pytest.approx([0.6, 0.85])
    expected = share_with_interval("ok", 2, 3)
    assert table.share[0] == pytest.approx(2 / 3)
    assert (table.low[0], table.high[0]) == (expected["ok_low"].value, expected["ok_high"].value)
    assert table.low[1] < 1.0 == table.high[1] == table.share[1]


def test_interval_gap_is_positive_only_for_disjoint_intervals():
    measured = {"a_low": run_share(0.1), "a_high": run_share(0.3), "b_low": run_share(0.5), "b_high": run_share(0.9),
                "c_low": run_share(0.2), "c_high": run_share(0.6)}
    assert interval_gap(measured, "a", "b") == pytest.approx(0.2)
    assert interval_gap(measured, "b", "a") == pytest.approx(0.2)
    assert interval_gap(measured, "a", "c") == pytest.approx(-0.1)
    assert interval_gap(measured, "b", "c") == pytest.approx(-0.1)


def test_shares_of_gives_each_outcomes_share_and_interval_and_handles_no_runs():
    measured = shares_of(first=pd.Series([True, False, True, True]), second=[False, False], none=[])
    assert measured["first_n"].value == 4 and measured["first_share"].value == 0.75
    for end in ("share", "low", "high", "n"):
        assert measured[f"first_{end}"] == share_with_interval("first", 3, 4)[f"first_{end}"]
        assert measured[f"second_{end}"] == share_with_interval("second", 0, 2)[f"second_{end}"]
    assert (measured["none_share"].value, measured["none_low"].value, measured["none_high"].value) == (0.0, 0.0, 1.0)
