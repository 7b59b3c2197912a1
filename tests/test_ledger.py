"""The verdict API (a claim's rule from claims.toml decides; the measured names and kinds are checked against its
declaration), kinds with tolerances, the comparison of a run's ledgers with the committed reference, seeds."""

import copy
import json

import pytest

from saelib.atomic import atomic_write_json
from saelib.claims import CLAIMS
from saelib.ledger import (
    REFERENCE,
    TOLERANCES,
    Ledger,
    LedgerError,
    Measured,
    check_ledgers,
    count,
    flag,
    flatness,
    main,
    pooled_share,
    ratio,
    score,
    seed_unit_share,
    share,
    share_with_interval,
    shown,
    value,
)

C022 = {"balanced_over_unbalanced": value(0.001), "intermediate_and_monotone": flag(True), "score_0_negative": 0.9,
        "score_balanced": score(0.001), "score_10_negative": score(0.5)}  # C02.2's declared names (a pattern too)


def test_the_claims_file_rule_decides_and_the_row_records_it(isolated_dirs):
    ledger = Ledger("02_sqrt_n_nonlinearity", {"SEED": 0})
    verdict = ledger.decide("C02.2", C022, figure="02_sign_balance")
    row = json.loads(ledger.path.read_text())["claims"][0]
    assert verdict.verdict == row["verdict"] == "reproduced"
    assert row["threshold"] == CLAIMS["C02.2"].rule.text() and row["rule"] == CLAIMS["C02.2"].rule.digest()
    assert row["kinds"]["score_0_negative"] == "score" and row["kinds"]["score_10_negative"] == "score"
    assert set(json.loads(ledger.path.read_text())["code"]) == {"notebook", "saelib"}
    assert ledger.decide("C02.2", C022 | {"balanced_over_unbalanced": 0.5}).verdict == "partly reproduced"
    assert list(ledger.verdict_table().columns) == ["claim", "verdict", "measured"]


@pytest.mark.parametrize("claim_id, measured, message", [
    ("C09.9", C022, "unknown claim id"),
    ("C01.1", C022, "belongs to notebook"),
    ("C02.2", {}, "empty"),
    ("C02.2", C022 | {"unused": share(1)}, "not declared"),
    ("C02.2", C022 | {"score_balanced": share(0.1)}, "declared a score"),
    ("C02.2", {k: v for k, v in C022.items() if k != "score_balanced"}, "were not measured"),
])
def test_bad_rows_raise_clear_errors(isolated_dirs, claim_id, measured, message):
    ledger = Ledger("02_sqrt_n_nonlinearity")
    with pytest.raises(LedgerError, match=message):
        ledger.decide(claim_id, measured)
    assert not ledger.path.exists()


def test_a_rule_without_its_history_entry_is_refused(isolated_dirs, monkeypatch):
    claim = CLAIMS["C02.2"]
    monkeypatch.setitem(CLAIMS, "C02.2", type(claim)(**{**claim.__dict__, "history": claim.history[:-1]}))
    with pytest.raises(LedgerError, match="history entry"):
        Ledger("02_sqrt_n_nonlinearity").decide("C02.2", C022)


def test_flatness_is_the_largest_end_change_and_names_its_curve(isolated_dirs):
    measured = flatness({"L1 0.3, MSE": -0.004, "L0approx 5e-05, L0": -0.031, "L1 0.3, L0": 0.012})
    assert measured.value == pytest.approx(0.031) and measured.kind == "value"
    assert measured.about == "L0approx 5e-05, L0 changes -3.1% per 10% of training"


def test_a_curve_too_short_to_judge_is_not_flat_and_says_so():
    measured = flatness({"d = 16, L = 8": float("nan"), "d = 16, L = 16": -0.002})
    assert measured.value == 1.0
    assert measured.about == "d = 16, L = 8 has too few recorded points near its end to judge (not flat)"


def test_measured_values_must_be_finite():
    with pytest.raises(LedgerError, match="finite"):
        share(float("nan"))
    assert flag(True) == Measured(1.0, "flag") and ratio(2) == Measured(2.0, "ratio")
    assert count(3).kind == "count"


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


def write_ledger(folder, notebook, rows):
    atomic_write_json(folder / f"{notebook}.json", {"notebook": notebook, "claims": rows})


def test_the_master_seed_is_the_unit_of_a_pooled_interval(tmp_path):
    def row(successes: int, n: int) -> dict:
        return {"id": "C01.1", "verdict": "reproduced",
                "measured": {k: m.value for k, m in share_with_interval("corner", successes, n).items()}}
    for seed, k in enumerate((14, 22, 10, 20)):
        folder = tmp_path / "claims" if seed == 0 else tmp_path / "seeds" / f"seed-{seed}" / "claims"
        write_ledger(folder, "01_toy_composite_features", [row(k, 32)])
    seeds, (mean, low, high) = pooled_share("C01.1", "corner", tmp_path / "claims", tmp_path / "seeds")
    assert seeds == [0, 1, 2, 3] and mean == pytest.approx(66 / 128)
    # four seeds' shares 0.44, 0.69, 0.31, 0.62: a t-interval over 4 observations, far wider than Wilson's over 128
    wilson = share_with_interval("pooled", 66, 128)
    assert low < 0.5 < high and high - low > 2 * (wilson["pooled_high"].value - wilson["pooled_low"].value)
    assert seed_unit_share([0.5, 0.5, 0.5]) == (0.5, 0.5, 0.5)
    assert pooled_share("C01.2", "corner", tmp_path / "claims", tmp_path / "seeds") == ([], None)
    with pytest.raises(LedgerError, match="at least 2"):
        seed_unit_share([0.4])


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
