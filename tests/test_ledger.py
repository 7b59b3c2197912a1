"""The verdict API (criteria decide the verdict and write the threshold text), kinds with tolerances, the
comparison of a run's ledgers with the committed reference, and verdicts across seeds."""

import copy
import json

import pytest

from saelib.atomic import atomic_write_json
from saelib.ledger import (
    REFERENCE,
    TOLERANCES,
    Ledger,
    LedgerError,
    Measured,
    Verdict,
    above,
    all_of,
    any_of,
    at_least,
    at_most,
    between,
    check_ledgers,
    count,
    criterion_from_json,
    decide,
    flag,
    flips,
    main,
    pooled_share,
    ratio,
    score,
    seeds_text,
    share,
    share_with_interval,
    shown,
    verdict_of_row,
    verdicts_across_seeds,
)

REPRODUCED = all_of(at_least("share_low", 0.1), between("mode", 0.15, 0.5))
PARTLY = any_of(at_least("share_low", 0.1), above("n_modes", 1))
PRECONDITION = at_least("dead_share", 0.05)


def test_criteria_decide_in_order_precondition_reproduced_partly():
    base = {"share_low": 0.2, "mode": 0.3, "n_modes": 2, "dead_share": 0.1}
    assert decide(base, REPRODUCED, PARTLY, PRECONDITION) == ("reproduced", "")
    assert decide({**base, "mode": 0.9}, REPRODUCED, PARTLY, PRECONDITION)[0] == "partly reproduced"
    assert decide({**base, "mode": 0.9, "share_low": 0.0, "n_modes": 1}, REPRODUCED, PARTLY)[0] == "not reproduced"
    verdict, reason = decide({**base, "dead_share": 0.002}, REPRODUCED, PARTLY, PRECONDITION)
    assert verdict == "not testable"
    assert "dead_share ≥ 0.05" in reason and "dead_share = 0.002" in reason


def test_threshold_text_comes_from_the_same_declaration(isolated_dirs):
    ledger = Ledger("05_mcs_vs_random_wasserstein")
    verdict = ledger.decide("C05.1", {"share_low": share(0.2), "mode": score(0.3), "n_modes": count(2),
                                      "dead_share": share(0.1)}, REPRODUCED, PARTLY, PRECONDITION)
    row = ledger.rows["C05.1"]
    assert row["threshold"] == ("reproduced if share_low ≥ 0.1 and 0.15 ≤ mode ≤ 0.5; partly if share_low ≥ 0.1 "
                                "or n_modes > 1; not testable unless dead_share ≥ 0.05")
    assert verdict.verdict == row["verdict"] == "reproduced"
    assert row["kinds"] == {"share_low": "share", "mode": "score", "n_modes": "count", "dead_share": "share"}
    assert verdict_of_row(json.loads(ledger.path.read_text())["claims"][0]) == "reproduced"


def test_criteria_round_trip_through_json():
    for criterion in (REPRODUCED, PARTLY, PRECONDITION, at_most("x", 3)):
        assert criterion_from_json(json.loads(json.dumps(criterion.to_json()))) == criterion


def test_missing_measured_value_fails_its_check_and_is_named():
    assert not at_least("x", 1).holds({})
    assert at_least("x", 1).failures({}) == ["x ≥ 1 fails (x = not measured)"]


@pytest.mark.parametrize("claim_id, measured, message", [
    ("C09.9", {"x": share(1)}, "unknown claim id"),
    ("C01.1", {"x": share(1)}, "belongs to notebook"),
    ("C02.1", {}, "empty"),
    ("C02.1", {"x": 0.5}, "needs a kind"),
    ("C02.1", {"x": Measured(1.0, "weight")}, "unknown kind"),
    ("C02.1", {"y": share(1)}, "not measured"),
])
def test_bad_rows_raise_clear_errors(isolated_dirs, claim_id, measured, message):
    ledger = Ledger("02_sqrt_n_nonlinearity")
    with pytest.raises(LedgerError, match=message):
        ledger.decide(claim_id, measured, at_least("x", 0.5))
    assert not ledger.path.exists()


def test_measured_values_must_be_finite():
    with pytest.raises(LedgerError, match="finite"):
        share(float("nan"))
    assert flag(True) == Measured(1.0, "flag") and ratio(2) == Measured(2.0, "ratio")


def test_share_with_interval_is_wilsons_and_contains_the_share():
    values = share_with_interval("absorbed", 7, 10)
    assert values["absorbed_share"].value == 0.7 and values["absorbed_n"].value == 10
    assert values["absorbed_low"].value == pytest.approx(0.3968, abs=1e-3)  # Wilson 95% for 7/10
    assert values["absorbed_high"].value == pytest.approx(0.8922, abs=1e-3)
    assert share_with_interval("x", 0, 16)["x_low"].value == 0.0
    none = share_with_interval("x", 0, 0)
    assert (none["x_share"].value, none["x_low"].value, none["x_high"].value) == (0.0, 0.0, 1.0)
    assert shown(values, "absorbed") == "7/10 = 0.70 [0.40–0.89]"
    kinds = {name: m.kind for name, m in values.items()}
    assert kinds == {"absorbed_share": "runs", "absorbed_low": "runs", "absorbed_high": "runs", "absorbed_n": "count"}
    assert TOLERANCES["runs"].allows(0.5 + 4 / 32, 0.5) and not TOLERANCES["runs"].allows(0.5 + 5 / 32, 0.5)


def test_missing_claims_are_listed(isolated_dirs):
    ledger = Ledger("02_sqrt_n_nonlinearity")
    ledger.decide("C02.2", {"x": share(1)}, at_least("x", 0.5))
    assert ledger.missing_claims() == ["C02.1", "C02.3"]


def test_seeds_text_and_flips():
    entries = [(0, "reproduced"), (1, "reproduced"), (2, "partly reproduced"), (3, "not testable")]
    assert seeds_text(entries) == "R R P T"
    assert flips(entries) and not flips(entries[:2])


def write_ledger(folder, notebook, rows):
    atomic_write_json(folder / f"{notebook}.json", {"notebook": notebook, "claims": rows})


def test_verdicts_across_seeds_reads_reference_and_seed_runs(tmp_path):
    row = {"id": "C02.1", "verdict": "reproduced"}
    write_ledger(tmp_path / "claims", "02_sqrt_n_nonlinearity", [row])
    flipped = {**row, "verdict": "not reproduced"}
    write_ledger(tmp_path / "seeds" / "seed-1" / "claims", "02_sqrt_n_nonlinearity", [flipped])
    table = verdicts_across_seeds(tmp_path / "claims", tmp_path / "seeds")
    assert table == {"C02.1": [(0, "reproduced"), (1, "not reproduced")]}


def test_pooled_share_sums_successes_and_trials_over_the_committed_seeds(tmp_path):
    def row(successes: int, n: int) -> dict:
        return {"id": "C01.1", "verdict": "reproduced",
                "measured": {k: m.value for k, m in share_with_interval("corner", successes, n).items()}}
    write_ledger(tmp_path / "claims", "01_toy_composite_features", [row(14, 32)])
    write_ledger(tmp_path / "seeds" / "seed-1" / "claims", "01_toy_composite_features", [row(22, 32)])
    write_ledger(tmp_path / "seeds" / "seed-2" / "claims", "02_sqrt_n_nonlinearity", [{"id": "C02.1"}])
    seeds, pooled = pooled_share("C01.1", "corner", tmp_path / "claims", tmp_path / "seeds")
    assert seeds == [0, 1]
    expected = share_with_interval("corner", 36, 64)
    assert {k: m.value for k, m in pooled.items()} == {k: m.value for k, m in expected.items()}
    assert pooled_share("C01.2", "corner", tmp_path / "claims", tmp_path / "seeds") == ([], {})


# --- the tolerance check against the committed reference --------------------------------------------------------

def committed_references() -> list:
    return sorted(REFERENCE.glob("*.json"))


def moved(reference: dict, fraction: float, only: str | None = None) -> dict:
    """A copy of a ledger with every value (or only `only`) moved by `fraction` of its kind's tolerance."""
    run = copy.deepcopy(reference)
    for row in run["claims"]:
        for name, number in row["measured"].items():
            if only is not None and name != only:
                continue
            tolerance = TOLERANCES[row["kinds"][name]]
            allowed = max(tolerance.absolute, tolerance.relative * abs(number))
            row["measured"][name] = number + fraction * allowed
    return run


def test_there_is_a_committed_reference_for_every_claim_notebook():
    assert [p.stem for p in committed_references()] == ["01_toy_composite_features", "02_sqrt_n_nonlinearity",
                                                        "03_multilayer_iterative_features", "04_l0_approx_training",
                                                        "05_mcs_vs_random_wasserstein"]


@pytest.mark.parametrize("path", committed_references(), ids=lambda p: p.stem)
def test_committed_verdicts_follow_from_their_own_criteria(path):
    for row in json.loads(path.read_text())["claims"]:
        assert verdict_of_row(row) == row["verdict"], row["id"]


@pytest.mark.parametrize("path", committed_references(), ids=lambda p: p.stem)
def test_small_moves_pass_and_moves_past_the_tolerance_fail_naming_the_value(path, tmp_path):
    reference = json.loads(path.read_text())
    write_ledger(tmp_path, path.stem, moved(reference, 0.5)["claims"])
    n_values, problems = check_ledgers(tmp_path, path.parent)
    problems = [p for p in problems if p.startswith(path.stem)]
    assert n_values > 0 and problems == []
    row = next(r for r in reference["claims"] if any(k != "flag" for k in r["kinds"].values()))
    name = next(n for n, k in row["kinds"].items() if k != "flag")
    write_ledger(tmp_path, path.stem, moved(reference, 2.0, only=name)["claims"])
    problems = [p for p in check_ledgers(tmp_path, path.parent)[1] if p.startswith(path.stem)]
    assert problems and all(name in p for p in problems)


def test_a_changed_verdict_or_missing_claim_fails(tmp_path):
    reference = {"notebook": "02_sqrt_n_nonlinearity", "claims": [
        {"id": "C02.1", "verdict": "reproduced", "measured": {"x": 1.0}, "kinds": {"x": "share"}},
        {"id": "C02.2", "verdict": "reproduced", "measured": {"y": 1.0}, "kinds": {"y": "share"}}]}
    (tmp_path / "ref").mkdir()
    write_ledger(tmp_path / "ref", "02_sqrt_n_nonlinearity", reference["claims"])
    (tmp_path / "run").mkdir()
    write_ledger(tmp_path / "run", "02_sqrt_n_nonlinearity", [{**reference["claims"][0], "verdict": "not reproduced"}])
    _, problems = check_ledgers(tmp_path / "run", tmp_path / "ref")
    assert any("verdict 'not reproduced'" in p for p in problems)
    assert any("C02.2: missing" in p for p in problems)
    assert main(["check", str(tmp_path / "run"), str(tmp_path / "ref")]) == 1
    assert main(["check", str(tmp_path / "ref"), str(tmp_path / "ref")]) == 0


def test_a_verdict_shows_its_committed_seeds_and_says_when_they_flip():
    shown = Verdict("C02.1", "reproduced", "reproduced if x ≥ 1", "", {"x": 2.0},
                    ((0, "reproduced"), (1, "partly reproduced")))._repr_markdown_()
    assert "committed verdicts by seed (0, 1): R P, **flips between seeds**" in shown
    assert "by seed" not in Verdict("C02.1", "reproduced", "t", "", {"x": 2.0})._repr_markdown_()
