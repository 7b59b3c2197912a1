"""The claims this companion tests, the posts they come from, and the rule each is decided by, read from
`saelib/claims.toml`: the one place they are written down.

Each claim has its text, the names and kinds of the values its notebook measures, its rule (`saelib.rules`), and a
history: the first rule and every later change, each entry naming the digest of the rule it put in force. A rule
whose digest is not the last history entry's is unrecorded: `Ledger.decide` refuses it and the test suite fails.
Claims decided from trained SAEs or networks set `convergence = true`: their precondition then starts with the
package's one flatness requirement (`[convergence]`), read from the measured value `flatness`.
"""

import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from saelib.rules import Check, Rule, RuleError, parse_rule

CLAIMS_FILE: Path = Path(__file__).with_name("claims.toml")
KINDS = ("share", "runs", "count", "ratio", "loss", "score", "flag", "value")  # saelib.ledger.TOLERANCES' keys
FLATNESS = "flatness"  # the measured name of the convergence requirement


@dataclass(frozen=True)
class Post:
    """A source post: title, author(s), where to read it."""

    key: str
    title: str
    author: str
    link: str


@dataclass(frozen=True)
class Convergence:
    """The package's one flatness requirement: every run a claim reads changes its L0 and MSE (or its loss) by at
    most `tolerance` per 10% of training over the last `last_fraction` of training."""

    tolerance: float
    last_fraction: float

    def criterion(self) -> Check:
        """flatness ≤ tolerance."""
        return Check(FLATNESS, "<=", self.tolerance)


@dataclass(frozen=True)
class HistoryEntry:
    """One entry of a rule's history: when and why it changed, what the old rule gave, the digest it put in force
    (None for a rule that lived only in notebook code, before rules were data)."""

    date: str
    commit: str
    change: str
    why: str
    old_verdict: str
    rule: str | None


@dataclass(frozen=True)
class Claim:
    """One claim: id, notebook, source post, text, setup, measured names and kinds, rule and its history."""

    id: str
    notebook: str
    post: str
    short: str
    statement: str
    setup: str
    measured: dict[str, str]  # name or glob pattern (profile-dependent names) -> kind
    optional: frozenset[str]  # declared names a run may lack (a fit that found too few points)
    rule: Rule
    convergence: bool
    history: tuple[HistoryEntry, ...]

    def kind_of(self, name: str) -> str | None:
        """The declared kind of a measured name (an exact name first, then the first matching pattern)."""
        if name in self.measured:
            return self.measured[name]
        return next((kind for pattern, kind in self.measured.items() if fnmatch.fnmatchcase(name, pattern)), None)

    def required(self) -> set[str]:
        """The exact (not pattern), not optional names the notebook must measure."""
        return {name for name in self.measured if not any(c in name for c in "*?[")} - self.optional

    def recorded(self) -> bool:
        """Whether the rule in force is the one the last history entry names."""
        return bool(self.history) and self.history[-1].rule == self.rule.digest()


def _claim(cid: str, fields: dict[str, Any], convergence: Convergence) -> Claim:
    """One claim from its TOML table, its measured names and rule checked against each other."""
    needs_flat = bool(fields.get("convergence", False))
    measured = dict(fields["measured"]) | ({FLATNESS: "value"} if needs_flat else {})
    bad_kinds = {name: kind for name, kind in measured.items() if kind not in KINDS}
    if bad_kinds:
        raise RuleError(f"{cid}: unknown kinds {bad_kinds}; kinds are {KINDS}")
    rule = parse_rule(fields["rule"], convergence.criterion() if needs_flat else None)
    optional = frozenset(fields.get("optional", []))
    unmeasured = sorted(rule.names() - set(measured) | (optional & rule.names()) | (optional - set(measured)))
    if unmeasured:
        raise RuleError(f"{cid}: the rule reads names its measured table does not declare (or declares optional), "
                        f"or an optional name is not declared: {unmeasured}")
    history = tuple(HistoryEntry(e["date"], e.get("commit", ""), e["change"], e.get("why", ""),
                                 e.get("old_verdict", ""), e.get("rule")) for e in fields.get("history", []))
    return Claim(cid, fields["notebook"], fields["post"], fields["short"], fields["claim"], fields["setup"], measured,
                 optional, rule, needs_flat, history)


def read_claims_file(path: Path = CLAIMS_FILE) -> tuple[dict[str, Post], dict[str, Claim], Convergence]:
    """The posts, claims (in file order) and convergence requirement of a claims TOML file."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    posts = {key: Post(key, **fields) for key, fields in data["posts"].items()}
    convergence = Convergence(**data["convergence"])
    claims = {cid: _claim(cid, fields, convergence) for cid, fields in data["claims"].items()}
    unknown = sorted({c.post for c in claims.values()} - set(posts))
    if unknown:
        raise ValueError(f"{Path(path).name}: claims cite posts that are not listed: {unknown}")
    return posts, claims, convergence


POSTS, CLAIMS, CONVERGENCE = read_claims_file()
NOTEBOOKS: tuple[str, ...] = ("00_target_model", *sorted({c.notebook for c in CLAIMS.values()}))


def claims_of(notebook: str) -> list[str]:
    """The ids of the claims a notebook tests, in order."""
    return [cid for cid, claim in CLAIMS.items() if claim.notebook == notebook]


def claims_markdown(notebook: str) -> str:
    """The claims a notebook tests as a Markdown list of ids and statements (rendered from claims.toml)."""
    return "\n".join(f"- **{cid}** {CLAIMS[cid].statement}" for cid in claims_of(notebook))


def unrecorded_rules(claims: dict[str, Claim] = CLAIMS) -> list[str]:
    """The claims whose rule in force is not the one their last history entry names."""
    return [cid for cid, claim in claims.items() if not claim.recorded()]


def rule_markdown(claim_id: str) -> str:
    """The claim and its rule as a notebook states them before the experiment (rendered from claims.toml)."""
    claim = CLAIMS[claim_id]
    rule = claim.rule
    lines = [f"**{claim_id}** {claim.statement}", "",
             f"- **reproduced** if {rule.reproduced.text()}"]
    if rule.partly is not None:
        lines.append(f"- **partly reproduced** if {rule.partly.text()}")
    if rule.precondition is not None:
        lines.append(f"- **not testable** unless {rule.precondition.text()}")
    if claim.convergence:
        lines.append(f"- `flatness`: the largest change of L0 or MSE (or the loss) per 10% of training over the "
                     f"last {CONVERGENCE.last_fraction:.0%} of training, over the runs this claim reads")
    changes = len(claim.history) - 1
    lines.append(f"- rule {rule.digest()}: " + ("unchanged since its first run" if changes <= 0 else
                                                f"changed {changes} time(s); REPORT.md lists each change and why"))
    return "\n".join(lines)
