"""The claims ledger: one verdict row per claim per notebook run, decided by the claim's rule in
`saelib/claims.toml`.

A notebook opens `Ledger(notebook, parameters)` and calls `ledger.decide(claim_id, measured)` once per claim. It
builds no criteria: the rule (reproduced, partly, precondition) is data in the claims file, written before the run,
with a history of every change (`saelib.claims`). `measured` maps names to numbers, or to values made with a kind
(`share(x)`, `run_share(x)`, `count(n)`, `ratio(r)`, `loss(l)`, `score(s)`, `flag(b)`, `value(v)`); the claims file
declares each name's kind, and the kind declares the tolerance within which another machine's run must reproduce
the number (`TOLERANCES`). A name the rule reads but the notebook does not measure, a name the notebook measures but
the claims file does not declare, or a kind other than the declared one is an error. A value may carry a note
(`about`), such as the run whose curve decides `flatness`; the row keeps it.

Rows are written atomically to results/claims/<notebook>.json after every call, with the digest of the rule each
was decided under and the digests of the notebook's code and of the saelib source it runs, so REPORT.md can tell
a verdict of the current rule and code from a stale one. `ledger.verdict_table()` is what nbval compares: ids,
verdicts and measured names of this run, no numbers. Numbers are compared against the committed reference ledgers by
`check_ledgers` (run by `make test` as `python -m saelib.ledger check ...`) within each kind's tolerance.
"""

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from scipy.stats import t as student_t

from saelib.atomic import atomic_write_json
from saelib.claims import CLAIMS, NOTEBOOKS
from saelib.metrics.convergence import worst_change
from saelib.paths import ROOT, results_dir
from saelib.repro import code_digests, environment_fingerprint

VERDICTS = ("reproduced", "partly reproduced", "not reproduced", "not testable")
VERDICT_LETTERS = {"reproduced": "R", "partly reproduced": "P", "not reproduced": "N", "not testable": "T"}
REFERENCE = ROOT / "results" / "claims"  # the committed ledgers of the default run (seed 0)
SEED_RUNS = ROOT / "results" / "seeds"  # the committed ledgers of `make seeds`: seed-<k>/claims/<notebook>.json


class LedgerError(ValueError):
    """A ledger row is malformed: unknown id, wrong notebook, bad measured value or criterion."""


@dataclass(frozen=True)
class Tolerance:
    """|run − reference| ≤ max(absolute, relative × |reference|)."""

    absolute: float = 0.0
    relative: float = 0.0

    def allows(self, run: float, reference: float) -> bool:
        """Whether `run` is within this tolerance of `reference`."""
        return abs(run - reference) <= max(self.absolute, self.relative * abs(reference)) + 1e-12

    def text(self) -> str:
        """The tolerance in words."""
        parts = [f"±{self.absolute:g}"] if self.absolute else []
        parts += [f"±{self.relative:.0%}"] if self.relative else []
        return " or ".join(parts) or "exact"


# One tolerance per kind of measured value: wide enough for another CPU's float rounding (which changes the path
# of a long training run, and so e.g. which latents die), tight enough that a real change of the result fails.
TOLERANCES: dict[str, Tolerance] = {
    "share": Tolerance(absolute=0.05),  # a fraction in [0, 1]: of latents, features, datapoints
    # a fraction of independently trained runs (seeds): float noise on another CPU can send a run that sits near
    # a basin boundary the other way, so a few runs of 32 may change; a real change moves many more
    "runs": Tolerance(absolute=0.125),
    "count": Tolerance(absolute=2, relative=0.2),  # a number of things (latents, modes, runs, a layer index)
    "ratio": Tolerance(relative=0.2),  # a quotient of two positive measurements
    "loss": Tolerance(relative=0.1),  # a reconstruction error or cross-entropy
    "score": Tolerance(absolute=0.1),  # a bounded score: correlation, R², cosine, KS or an MCS location
    "flag": Tolerance(),  # 0 or 1: a yes/no fact the criterion reads
    "value": Tolerance(absolute=0.05, relative=0.2),  # anything else (a slope, a signed change)
}


@dataclass(frozen=True)
class Measured:
    """A measured number, its kind (a key of TOLERANCES) or None (the claims file's), and an optional note."""

    value: float
    kind: str | None = None
    about: str | None = None


def _measured(value: Any, kind: str | None, about: str | None = None) -> Measured:
    """A finite number of a known kind."""
    if isinstance(value, bool):
        value = float(value)
    number = float(value)
    if not math.isfinite(number):
        raise LedgerError(f"a measured {kind or 'value'} is {number}; ledger values must be finite")
    return Measured(number, kind, about)


def share(x: Any) -> Measured:
    """A fraction in [0, 1]."""
    return _measured(x, "share")


def run_share(x: Any) -> Measured:
    """A fraction of independently trained runs (seeds), or a difference of two such fractions."""
    return _measured(x, "runs")


def count(x: Any) -> Measured:
    """A number of things."""
    return _measured(x, "count")


def ratio(x: Any) -> Measured:
    """A quotient of two positive measurements."""
    return _measured(x, "ratio")


def loss(x: Any) -> Measured:
    """A reconstruction error or cross-entropy."""
    return _measured(x, "loss")


def score(x: Any) -> Measured:
    """A bounded score (correlation, R², cosine, KS statistic, a location in MCS units)."""
    return _measured(x, "score")


def flag(x: Any) -> Measured:
    """A yes/no fact, stored as 1 or 0."""
    return _measured(bool(x), "flag")


def value(x: Any, about: str | None = None) -> Measured:
    """Any other number (a slope, a signed relative change), with an optional note on where it comes from."""
    return _measured(x, "value", about)


def flatness(changes: Mapping[str, float]) -> Measured:
    """The convergence requirement's `flatness`: the largest |end change| among named curves (per 10% of training,
    `saelib.metrics.convergence`), noted with the curve that sets it. A NaN change (a curve with too few recorded
    points near its end to fit) counts as 1.0, not flat, and the note says why."""
    unjudged = [name for name, change in changes.items() if math.isnan(change)]
    if unjudged:
        return value(1.0, about=f"{unjudged[0]} has too few recorded points near its end to judge (not flat)")
    worst, name = worst_change(changes)
    return value(worst, about=f"{name} changes {changes[name]:+.1%} per 10% of training")


def share_with_interval(name: str, successes: int, n: int, confidence: float = 0.95) -> dict[str, Measured]:
    """`name`'s share of n trials with its Wilson score interval: {name}_share, _low, _high and {name}_n (with no
    trial at all: share 0, interval all of [0, 1])."""
    if n < 0 or not 0 <= successes <= n:
        raise LedgerError(f"{name}: need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return {f"{name}_share": run_share(0.0), f"{name}_low": run_share(0.0), f"{name}_high": run_share(1.0),
                f"{name}_n": count(0)}
    interval = binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return {f"{name}_share": run_share(successes / n), f"{name}_low": run_share(interval.low),
            f"{name}_high": run_share(interval.high), f"{name}_n": count(n)}


def shown(measured: Mapping[str, Measured], name: str) -> str:
    """A share with its interval as a reader sees it: 'k/n = share [low–high]'."""
    n = int(measured[f"{name}_n"].value)
    k = round(measured[f"{name}_share"].value * n)
    return (f"{k}/{n} = {measured[f'{name}_share'].value:.2f} "
            f"[{measured[f'{name}_low'].value:.2f}–{measured[f'{name}_high'].value:.2f}]")


# --- the ledger -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """One decided claim, as a notebook shows it next to its experiment."""

    claim_id: str
    verdict: str
    threshold: str
    reason: str
    measured: dict[str, float]

    def _repr_markdown_(self) -> str:
        values = ", ".join(f"{k} = {v:.3g}" for k, v in self.measured.items())
        reason = f" — {self.reason}" if self.reason else ""
        return f"**{self.claim_id}: {self.verdict}**{reason}  \n{self.threshold}  \nmeasured: {values}"

    def __repr__(self) -> str:
        return f"{self.claim_id}: {self.verdict}"


def seed_ledgers(folder: Path = SEED_RUNS) -> dict[int, Path]:
    """The committed `make seeds` runs: seed → its claims folder."""
    return {int(p.name.removeprefix("seed-")): p / "claims" for p in sorted(Path(folder).glob("seed-*"))
            if p.name.removeprefix("seed-").isdigit()}


def rows_in(folder: Path) -> dict[str, dict[str, Any]]:
    """claim id → ledger row of every ledger in a claims folder (each row with its ledger's `code` digests)."""
    rows = {}
    for path in sorted(Path(folder).glob("*.json")):
        ledger = json.loads(path.read_text())
        rows.update({row["id"]: {**row, "code": ledger.get("code", {})} for row in ledger.get("claims", [])})
    return rows


def seed_unit_share(shares: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of per-master-seed shares with a Student-t interval over seeds, clipped to [0, 1]: each
    master seed redraws the data, so it is one observation, and the runs within it are not independent of each
    other (two or more seeds needed)."""
    values = np.asarray(shares, dtype=float)
    if len(values) < 2:
        raise LedgerError(f"an interval over master seeds needs at least 2 seeds, got {len(values)}")
    mean, spread = float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))
    half = float(student_t.ppf(0.5 + confidence / 2, len(values) - 1)) * spread
    return mean, max(0.0, mean - half), min(1.0, mean + half)


def pooled_share(claim_id: str, name: str, reference: Path = REFERENCE,
                 seeds: Path = SEED_RUNS) -> tuple[list[int], tuple[float, float, float] | None]:
    """(the master seeds found, (mean, low, high) of `name`'s per-seed share with the master seed as the unit) over
    one claim's committed runs; None for the interval when fewer than 2 seeds have it."""
    folders = {0: Path(reference), **seed_ledgers(seeds)}
    found = {seed: rows_in(folder).get(claim_id, {}).get("measured", {}) for seed, folder in sorted(folders.items())}
    shares = {seed: m[f"{name}_share"] for seed, m in found.items() if f"{name}_share" in m}
    return list(shares), seed_unit_share(list(shares.values())) if len(shares) >= 2 else None


class Ledger:
    """The claims ledger of one notebook run, kept in results/claims/<notebook>.json."""

    def __init__(self, notebook: str, parameters: Mapping[str, Any] | None = None):
        if notebook not in NOTEBOOKS:
            raise LedgerError(f"unknown notebook {notebook!r}; expected one of {NOTEBOOKS}")
        self.notebook = notebook
        self.parameters = dict(parameters or {})
        self.rows: dict[str, dict[str, Any]] = {}

    @property
    def path(self) -> Path:
        """Where this notebook's ledger is written."""
        return results_dir() / "claims" / f"{self.notebook}.json"

    def decide(self, claim_id: str, measured: Mapping[str, Measured | float], figure: str | None = None) -> Verdict:
        """Decide one claim by its rule in claims.toml, store its row, rewrite the ledger file, return the verdict."""
        self._check_claim(claim_id)
        numbers, kinds, notes = self._check_measured(claim_id, measured)
        if figure is not None and (not isinstance(figure, str) or not figure.strip()):
            raise LedgerError(f"{claim_id}: 'figure' must be a figure name or None")
        rule = CLAIMS[claim_id].rule
        verdict, reason = rule.verdict(numbers)
        if reason and notes:
            reason += "".join(f" [{name}: {note}]" for name, note in notes.items() if f"{name} =" in reason)
        self.rows[claim_id] = {"id": claim_id, "verdict": verdict, "reason": reason, "measured": numbers,
                               "kinds": kinds, "notes": notes, "rule": rule.digest(), "threshold": rule.text(),
                               "figure": figure}
        self.save()
        return Verdict(claim_id, verdict, rule.text(), reason, numbers)

    def _check_claim(self, claim_id: str) -> None:
        """The id must be known, belong to this notebook, and have its rule recorded in its history."""
        if claim_id not in CLAIMS:
            raise LedgerError(f"unknown claim id {claim_id!r}; the claims are listed in saelib/claims.toml")
        if CLAIMS[claim_id].notebook != self.notebook:
            raise LedgerError(f"{claim_id} belongs to notebook {CLAIMS[claim_id].notebook}, not {self.notebook}")
        if not CLAIMS[claim_id].recorded():
            raise LedgerError(f"{claim_id}: its rule ({CLAIMS[claim_id].rule.digest()}) is not the one its last "
                              "history entry names; add a history entry to saelib/claims.toml first")

    @staticmethod
    def _check_measured(claim_id: str, measured: Mapping[str, Measured | float],
                        ) -> tuple[dict[str, float], dict[str, str], dict[str, str]]:
        """(numbers, kinds, notes): every name declared by the claim, every declared name present, kinds as declared."""
        if not measured:
            raise LedgerError(f"{claim_id}: 'measured' is empty; record at least one measured value")
        claim = CLAIMS[claim_id]
        numbers, kinds, notes = {}, {}, {}
        for name, item in measured.items():
            declared = claim.kind_of(str(name))
            if declared is None:
                raise LedgerError(f"{claim_id}: measured value {name!r} is not declared in its claims.toml table "
                                  "(a value no rule or report uses is an error)")
            item = item if isinstance(item, Measured) else _measured(item, None)
            if item.kind is not None and item.kind != declared:
                raise LedgerError(f"{claim_id}: measured value {name!r} is a {item.kind}, declared a {declared}")
            numbers[str(name)], kinds[str(name)] = _measured(item.value, declared).value, declared
            if item.about:
                notes[str(name)] = item.about
        missing = sorted(claim.required() - set(numbers))
        if missing:
            raise LedgerError(f"{claim_id}: declared values were not measured: {missing}")
        return numbers, kinds, notes

    def save(self) -> None:
        """Write the ledger (rows, the run's parameters, code digests, environment fingerprint) atomically."""
        atomic_write_json(self.path, {
            "notebook": self.notebook,
            "parameters": self.parameters,
            "code": code_digests(self.notebook),
            "environment": environment_fingerprint(),
            "claims": [self.rows[k] for k in sorted(self.rows)],
        })

    def verdict_table(self) -> pd.DataFrame:
        """What nbval compares: this run's claim ids, verdicts and measured names. No numbers (those are checked
        with tolerances) and nothing from other runs (REPORT.md holds the seeds and the post's-scale columns)."""
        rows = [{"claim": cid, "verdict": self.rows[cid]["verdict"], "measured": ", ".join(self.rows[cid]["measured"])}
                for cid in sorted(self.rows)]
        return pd.DataFrame(rows, columns=["claim", "verdict", "measured"])


# --- comparing a run with the committed reference ---------------------------------------------------------------

def compare_rows(notebook: str, run: Mapping[str, Any], reference: Mapping[str, Any]) -> list[str]:
    """Every difference of one claim's row that matters: verdict, measured names, or a value out of tolerance."""
    where = f"{notebook} {reference['id']}"
    problems = []
    if run["verdict"] != reference["verdict"]:
        problems.append(f"{where}: verdict {run['verdict']!r}, reference {reference['verdict']!r}")
    if set(run["measured"]) != set(reference["measured"]):
        problems.append(f"{where}: measured names differ: {sorted(set(run['measured']) ^ set(reference['measured']))}")
    for name in sorted(set(run["measured"]) & set(reference["measured"])):
        kind = reference["kinds"][name]
        tolerance = TOLERANCES[kind]
        if not tolerance.allows(run["measured"][name], reference["measured"][name]):
            problems.append(f"{where}: {name} = {run['measured'][name]:.6g}, reference "
                            f"{reference['measured'][name]:.6g} (a {kind}, tolerance {tolerance.text()})")
    return problems


def check_ledgers(run_folder: Path, reference_folder: Path = REFERENCE) -> tuple[int, list[str]]:
    """(number of values compared, problems) for every reference ledger against the run's ledger of the same
    notebook; a missing run ledger or claim is a problem."""
    problems, n_values = [], 0
    for path in sorted(Path(reference_folder).glob("*.json")):
        reference = json.loads(path.read_text())
        run_path = Path(run_folder) / path.name
        if not run_path.exists():
            problems.append(f"{path.stem}: no ledger in the run ({run_path.name})")
            continue
        run_rows = {row["id"]: row for row in json.loads(run_path.read_text())["claims"]}
        for row in reference["claims"]:
            if row["id"] not in run_rows:
                problems.append(f"{path.stem} {row['id']}: missing from the run")
                continue
            n_values += len(row["measured"])
            problems += compare_rows(path.stem, run_rows[row["id"]], row)
    return n_values, problems


def main(argv: list[str] | None = None) -> int:
    """`python -m saelib.ledger check RUN_FOLDER [REFERENCE_FOLDER]`: exit 1 naming every value out of tolerance."""
    parser = argparse.ArgumentParser(description="Compare a run's claims ledgers with the committed reference.")
    parser.add_argument("command", choices=["check"])
    parser.add_argument("run", type=Path, help="the run's claims folder (e.g. build/test-artifacts/results/claims)")
    parser.add_argument("reference", type=Path, nargs="?", default=REFERENCE)
    args = parser.parse_args(argv)
    n_values, problems = check_ledgers(args.run, args.reference)
    for problem in problems:
        print(problem)
    print(f"ledger check: {n_values} measured values compared with the reference; {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
