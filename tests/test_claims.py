"""The claims registry (saelib/claims.toml): complete and consistent, every rule recorded in its history, every
committed default ledger decided under the rule in force, every rule shown in its notebook, nothing outside the
repository read."""

import json
import re

import pytest

from saelib.claims import (
    CLAIMS,
    CLAIMS_FILE,
    CONVERGENCE,
    FLATNESS,
    NOTEBOOKS,
    POSTS,
    claims_markdown,
    claims_of,
    read_claims_file,
    rule_markdown,
    unrecorded_rules,
)
from saelib.ledger import REFERENCE
from saelib.paths import ROOT


def test_registry_is_complete_and_consistent():
    _, claims, _ = read_claims_file()
    assert len(CLAIMS) == len(claims) >= 29 and len(POSTS) == 5
    assert all(c.notebook in NOTEBOOKS and c.post in POSTS for c in CLAIMS.values())
    assert all(re.fullmatch(r"C0[1-5]\.\d+", cid) for cid in CLAIMS)
    assert all(c.statement and c.setup and c.short and c.measured and c.history for c in CLAIMS.values())
    assert NOTEBOOKS[0] == "00_target_model" and len(NOTEBOOKS) == 6
    assert 0 < CONVERGENCE.tolerance < 0.1 and 0 < CONVERGENCE.last_fraction < 1


def test_claims_of_a_notebook_in_order():
    assert claims_of("02_sqrt_n_nonlinearity") == ["C02.1", "C02.2", "C02.3"]
    assert claims_of("00_target_model") == []


def test_every_rule_in_force_is_the_one_its_last_history_entry_names():
    assert unrecorded_rules() == []


def test_a_threshold_changed_without_a_history_entry_is_caught(tmp_path):
    text = CLAIMS_FILE.read_text(encoding="utf-8")
    changed = text.replace('reproduced = "dead_ratio <= 0.5"', 'reproduced = "dead_ratio <= 0.6"', 1)
    assert changed != text
    (tmp_path / "claims.toml").write_text(changed, encoding="utf-8")
    _, claims, _ = read_claims_file(tmp_path / "claims.toml")
    assert unrecorded_rules(claims) == ["C04.2"]


def test_convergence_claims_read_flatness_first():
    for claim in CLAIMS.values():
        if claim.convergence:
            assert claim.measured[FLATNESS] == "value"
            assert claim.rule.precondition.text().startswith(f"{FLATNESS} ≤ {CONVERGENCE.tolerance:g}")
    assert not CLAIMS["C02.1"].convergence and CLAIMS["C05.1"].convergence


@pytest.mark.parametrize("path", sorted(REFERENCE.glob("*.json")), ids=lambda p: p.stem)
def test_committed_default_ledgers_are_decided_under_the_rules_in_force(path):
    for row in json.loads(path.read_text())["claims"]:
        claim = CLAIMS[row["id"]]
        assert row["rule"] == claim.rule.digest(), f"{row['id']}: re-run its notebook after changing its rule"
        assert claim.rule.verdict(row["measured"])[0] == row["verdict"], row["id"]


def test_every_notebook_shows_each_of_its_rules_rendered_from_the_claims_file():
    for notebook in NOTEBOOKS[1:]:
        text = (ROOT / "notebooks" / f"{notebook}.ipynb").read_text()
        for cid in claims_of(notebook):
            assert f'rule_markdown(\\"{cid}\\")' in text, f"{notebook} does not show the rule of {cid}"


def test_rule_markdown_states_the_claim_its_thresholds_and_its_history():
    text = rule_markdown("C04.2")
    assert text.startswith("**C04.2** ") and "dead_ratio ≤ 0.5" in text and "flatness ≤" in text
    assert CLAIMS["C04.2"].rule.digest() in text and "changed" in text


def test_a_claim_citing_an_unknown_post_is_rejected(tmp_path):
    bad = tmp_path / "claims.toml"
    bad.write_text(CLAIMS_FILE.read_text().replace('post = "004"', 'post = "009"', 1))
    with pytest.raises(ValueError, match="009"):
        read_claims_file(bad)


def test_nothing_in_the_repository_reads_outside_it():
    for folder in ("saelib", "tests", "notebooks", "benchmarks"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".ipynb", ".toml") and path != ROOT / "tests" / "test_claims.py":
                text = path.read_text(encoding="utf-8")
                assert "../shared" not in text and "CLAIMS.md" not in text, path


def test_claims_markdown_lists_a_notebooks_claims_in_order_with_their_statements():
    text = claims_markdown("02_sqrt_n_nonlinearity")
    assert [line.split("**")[1] for line in text.splitlines()] == ["C02.1", "C02.2", "C02.3"]
    assert CLAIMS["C02.2"].statement in text


@pytest.mark.parametrize("notebook", NOTEBOOKS[1:])
def test_notebooks_render_their_claim_list_instead_of_typing_it(notebook):
    cells = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
    introduction = "".join(cells[0]["source"])  # the list of claims tested; later cells define their measures
    assert len(re.findall(r"^(?:- \*\*|\| )C\d\d\.\d+", introduction, re.M)) < 2, (
        f"{notebook}: the introduction types its claim list; render it with claims_markdown")
    assert any(f'claims_markdown("{notebook}")' in "".join(cell["source"]) for cell in cells)
