"""Decision rules as text: parsing, the order a verdict is decided in, the text shown, and the digest."""

import pytest

from saelib.rules import Check, Combination, Rule, RuleError, criterion_names, parse_criterion, parse_rule


def test_comparisons_intervals_and_nesting_parse_to_criteria():
    parsed = parse_criterion("a >= 0.5 and (b < 1 or 0.4 <= c <= 0.6)")
    assert parsed == Combination("all", (Check("a", ">=", 0.5), Combination(
        "any", (Check("b", "<", 1.0), Check("c", "between", (0.4, 0.6))))))
    assert parsed.text() == "a ≥ 0.5 and (b < 1 or 0.4 ≤ c ≤ 0.6)"
    assert parse_criterion("slope <= -0.01") == Check("slope", "<=", -0.01)
    assert criterion_names(parsed) == {"a", "b", "c"}


@pytest.mark.parametrize("text, message", [
    ("a >= ", "does not parse"),
    ("a == 1", "comparisons"),
    ("1 <= a", "name OP number"),
    ("a >= b", "finite number"),
    ("0.6 <= a <= 0.4", "low <= high"),
    ("a >= 1e999", "finite number"),
])
def test_bad_rule_text_is_refused_with_its_reason(text, message):
    with pytest.raises(RuleError, match=message):
        parse_criterion(text)


def test_a_verdict_is_decided_precondition_first_then_reproduced_then_partly():
    rule = parse_rule({"reproduced": "x >= 0.5 and y < 1", "partly": "x >= 0.1", "precondition": "n >= 10"})
    assert rule.verdict({"x": 0.6, "y": 0.5, "n": 12}) == ("reproduced", "")
    assert rule.verdict({"x": 0.6, "y": 2.0, "n": 12})[0] == "partly reproduced"
    assert rule.verdict({"x": 0.0, "y": 0.5, "n": 12})[0] == "not reproduced"
    verdict, reason = rule.verdict({"x": 0.6, "y": 0.5, "n": 3})
    assert verdict == "not testable" and reason == "precondition not met: n ≥ 10 fails (n = 3)"
    assert rule.verdict({"y": 0.5, "n": 12})[0] == "not reproduced"  # a missing value fails its comparison


def test_an_extra_precondition_comes_first_and_the_text_shows_the_whole_rule():
    rule = parse_rule({"reproduced": "x >= 1", "precondition": "n >= 2"}, extra_precondition=Check("flat", "<=", 0.01))
    assert rule.text() == "reproduced if x ≥ 1; not testable unless flat ≤ 0.01 and n ≥ 2"
    assert rule.names() == {"x", "n", "flat"}
    assert rule.verdict({"x": 2, "n": 3, "flat": 0.05})[0] == "not testable"


def test_the_digest_changes_with_any_threshold_and_only_then():
    rule = parse_rule({"reproduced": "x >= 0.5", "partly": "x >= 0.1"})
    assert rule.digest() == parse_rule({"reproduced": "x>=0.5", "partly": "x >= 0.10"}).digest()
    assert rule.digest() != parse_rule({"reproduced": "x >= 0.55", "partly": "x >= 0.1"}).digest()
    assert rule.digest() != Rule(rule.reproduced).digest()


def test_a_rule_table_needs_reproduced_and_nothing_unknown():
    with pytest.raises(RuleError, match="reproduced"):
        parse_rule({"partly": "x > 0"})
    with pytest.raises(RuleError, match="reproduced"):
        parse_rule({"reproduced": "x > 0", "mostly": "x > 1"})
