"""Decision rules: the criteria a claim's verdict is decided by, written as text in `saelib/claims.toml` and parsed
here, so that the rule a reader sees, the rule the ledger applies and the rule's digest come from one place.

A criterion is a comparison of one measured name with a number (`share_low >= 0.5`, `0.4 <= slope <= 0.6`), or
several joined by `and` / `or` with parentheses. A rule is three criteria, each optional but `reproduced`:

- `not testable` if the precondition fails (the reason names the comparison and the measured value),
- else `reproduced` if the `reproduced` criterion holds,
- else `partly reproduced` if the `partly` criterion holds,
- else `not reproduced`.
"""

import ast
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OPERATORS = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "between": "in"}
AST_OPERATORS = {ast.GtE: ">=", ast.LtE: "<=", ast.Gt: ">", ast.Lt: "<"}


class RuleError(ValueError):
    """A rule's text does not parse, or a criterion reads a name that is not measured."""


@dataclass(frozen=True)
class Check:
    """One comparison of a measured value with a bound (or a closed interval for "between")."""

    measure: str
    op: str
    bound: float | tuple[float, float]

    def holds(self, measured: Mapping[str, float]) -> bool:
        """Whether the measured value satisfies the comparison (a missing value does not)."""
        if self.measure not in measured:
            return False
        x = measured[self.measure]
        if self.op == "between":
            return self.bound[0] <= x <= self.bound[1]
        return {">=": x >= self.bound, "<=": x <= self.bound, ">": x > self.bound, "<": x < self.bound}[self.op]

    def text(self) -> str:
        """The comparison in words, e.g. "share_low ≥ 0.1"."""
        if self.op == "between":
            return f"{self.bound[0]:g} ≤ {self.measure} ≤ {self.bound[1]:g}"
        return f"{self.measure} {OPERATORS[self.op]} {self.bound:g}"

    def failures(self, measured: Mapping[str, float]) -> list[str]:
        """Why it fails: the comparison with the measured value, or [] if it holds."""
        if self.holds(measured):
            return []
        shown = f"{measured[self.measure]:.3g}" if self.measure in measured else "not measured"
        return [f"{self.text()} fails ({self.measure} = {shown})"]

    def to_json(self) -> list[Any]:
        """[measure, op, bound]: the digest's canonical form."""
        return [self.measure, self.op, list(self.bound) if isinstance(self.bound, tuple) else self.bound]


@dataclass(frozen=True)
class Combination:
    """All or any of several criteria."""

    mode: str  # "all" or "any"
    parts: tuple["Criterion", ...]

    def holds(self, measured: Mapping[str, float]) -> bool:
        """Whether all (or any) parts hold."""
        results = [part.holds(measured) for part in self.parts]
        return all(results) if self.mode == "all" else any(results)

    def text(self) -> str:
        """The parts joined by "and" / "or", nested combinations in parentheses."""
        joiner = " and " if self.mode == "all" else " or "
        return joiner.join(f"({p.text()})" if isinstance(p, Combination) else p.text() for p in self.parts)

    def failures(self, measured: Mapping[str, float]) -> list[str]:
        """Every failing part's reason, or [] if the combination holds."""
        if self.holds(measured):
            return []
        return [reason for part in self.parts for reason in part.failures(measured)]

    def to_json(self) -> dict[str, Any]:
        """{mode: [parts]}: the digest's canonical form."""
        return {self.mode: [part.to_json() for part in self.parts]}


Criterion = Check | Combination


def _number(node: ast.expr, text: str) -> float:
    """A finite numeric literal (a leading minus allowed)."""
    value = ast.literal_eval(node) if isinstance(node, (ast.Constant, ast.UnaryOp)) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RuleError(f"{text!r}: expected a finite number, got {ast.unparse(node)!r}")
    return float(value)


def _criterion(node: ast.expr, text: str) -> Criterion:
    """The criterion of one parsed expression node."""
    if isinstance(node, ast.BoolOp):
        return Combination("all" if isinstance(node.op, ast.And) else "any",
                           tuple(_criterion(v, text) for v in node.values))
    if not isinstance(node, ast.Compare) or not all(type(op) in AST_OPERATORS for op in node.ops):
        raise RuleError(f"{text!r}: expected comparisons joined by 'and' / 'or', got {ast.unparse(node)!r}")
    ops = [AST_OPERATORS[type(op)] for op in node.ops]
    if len(ops) == 2 and ops == ["<=", "<="] and isinstance(node.comparators[0], ast.Name):
        low, high = _number(node.left, text), _number(node.comparators[1], text)
        if not low <= high:
            raise RuleError(f"{text!r}: an interval needs low <= high")
        return Check(node.comparators[0].id, "between", (low, high))
    if len(ops) != 1 or not isinstance(node.left, ast.Name):
        raise RuleError(f"{text!r}: write 'name OP number' or 'low <= name <= high', got {ast.unparse(node)!r}")
    return Check(node.left.id, ops[0], _number(node.comparators[0], text))


def parse_criterion(text: str) -> Criterion:
    """A criterion from its text, e.g. "a >= 0.5 and (b < 1 or 0.4 <= c <= 0.6)"."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise RuleError(f"{text!r} does not parse: {error.msg}") from None
    return _criterion(tree.body, text)


def criterion_names(criterion: Criterion | None) -> set[str]:
    """The measured names a criterion reads."""
    if criterion is None:
        return set()
    if isinstance(criterion, Check):
        return {criterion.measure}
    return set().union(*(criterion_names(p) for p in criterion.parts))


@dataclass(frozen=True)
class Rule:
    """A claim's decision rule: reproduced, partly and precondition criteria."""

    reproduced: Criterion
    partly: Criterion | None = None
    precondition: Criterion | None = None

    def names(self) -> set[str]:
        """Every measured name the rule reads."""
        return criterion_names(self.reproduced) | criterion_names(self.partly) | criterion_names(self.precondition)

    def verdict(self, measured: Mapping[str, float]) -> tuple[str, str]:
        """(verdict, reason): the precondition first, then reproduced, then partly (module docstring)."""
        if self.precondition is not None and not self.precondition.holds(measured):
            return "not testable", "precondition not met: " + "; ".join(self.precondition.failures(measured))
        if self.reproduced.holds(measured):
            return "reproduced", ""
        if self.partly is not None and self.partly.holds(measured):
            return "partly reproduced", ""
        return "not reproduced", ""

    def text(self) -> str:
        """The rule in one line: reproduced if …; partly if …; not testable unless …."""
        text = f"reproduced if {self.reproduced.text()}"
        if self.partly is not None:
            text += f"; partly if {self.partly.text()}"
        if self.precondition is not None:
            text += f"; not testable unless {self.precondition.text()}"
        return text

    def to_json(self) -> dict[str, Any]:
        """The canonical form the digest is taken of."""
        return {key: None if part is None else part.to_json()
                for key, part in (("reproduced", self.reproduced), ("partly", self.partly),
                                  ("precondition", self.precondition))}

    def digest(self) -> str:
        """A short hash of the rule's canonical form: the ledger records it, the history names it."""
        blob = json.dumps(self.to_json(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def parse_rule(fields: Mapping[str, str], extra_precondition: Criterion | None = None) -> Rule:
    """A Rule from a claims-file `rule` table ({reproduced, partly?, precondition?} texts); `extra_precondition`
    (the convergence requirement) is joined to the precondition with "and", first."""
    unknown = sorted(set(fields) - {"reproduced", "partly", "precondition"})
    if unknown or "reproduced" not in fields:
        raise RuleError(f"a rule has 'reproduced' and optionally 'partly' and 'precondition'; got {sorted(fields)}")
    parsed = {key: parse_criterion(text) for key, text in fields.items()}
    precondition = parsed.get("precondition")
    if extra_precondition is not None:
        precondition = extra_precondition if precondition is None else Combination(
            "all", (extra_precondition, precondition))
    return Rule(parsed["reproduced"], parsed.get("partly"), precondition)
