"""The claims ledger: one verdict row per claim per notebook run, decided from declared criteria.

A notebook opens `Ledger(notebook, parameters)` and calls `ledger.decide(claim_id, measured, reproduced=...,
partly=..., precondition=...)` once per claim:

- `measured` maps names to values made with a kind (`share(x)`, `run_share(x)`, `count(n)`, `ratio(r)`, `loss(l)`,
  `score(s)`, `flag(b)`, `value(v)`); the kind declares the tolerance within which another machine's run must
  reproduce the number (`TOLERANCES`), so the tolerance is written once per kind, never per notebook;
- the criteria are small declarations (`at_least("share_low", 0.1)`, `between(...)`, `all_of(...)`,
  `any_of(...)`) over those names. The verdict and the threshold text in the ledger are both built from the same
  declaration, so they cannot drift apart:
    * `not testable` if a precondition is declared and fails (the row names it and the measured value),
    * else `reproduced` if the `reproduced` criterion holds,
    * else `partly reproduced` if the `partly` criterion holds,
    * else `not reproduced`.

Rows are written atomically to results/claims/<notebook>.json after every call. `ledger.verdict_table()` is what
nbval compares: ids, verdicts, the names of the measured values and the committed verdicts across seeds, no
numbers. Numbers are compared against the committed reference ledgers by `check_ledgers` (run by `make test` as
`python -m saelib.ledger check ...`) within each kind's tolerance.
"""

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from scipy.stats import binomtest

from saelib.atomic import atomic_write_json
from saelib.claims import CLAIMS, NOTEBOOKS, claims_of
from saelib.paths import RESULTS, ROOT
from saelib.repro import environment_fingerprint

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
    """A measured number and its kind (a key of TOLERANCES)."""

    value: float
    kind: str


def _measured(value: Any, kind: str) -> Measured:
    """A finite number of a known kind."""
    if isinstance(value, bool):
        value = float(value)
    number = float(value)
    if not math.isfinite(number):
        raise LedgerError(f"a measured {kind} is {number}; ledger values must be finite")
    return Measured(number, kind)


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


def value(x: Any) -> Measured:
    """Any other number (a slope, a signed relative change)."""
    return _measured(x, "value")


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


# --- criteria -------------------------------------------------------------------------------------------------

OPERATORS = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "between": "in"}


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
        return [self.measure, self.op, list(self.bound) if isinstance(self.bound, tuple) else self.bound]


@dataclass(frozen=True)
class Combination:
    """All or any of several criteria."""

    mode: str  # "all" or "any"
    parts: tuple["Criterion", ...]

    def holds(self, measured: Mapping[str, float]) -> bool:
        results = [part.holds(measured) for part in self.parts]
        return all(results) if self.mode == "all" else any(results)

    def text(self) -> str:
        joiner = " and " if self.mode == "all" else " or "
        return joiner.join(f"({p.text()})" if isinstance(p, Combination) else p.text() for p in self.parts)

    def failures(self, measured: Mapping[str, float]) -> list[str]:
        if self.holds(measured):
            return []
        return [reason for part in self.parts for reason in part.failures(measured)]

    def to_json(self) -> dict[str, Any]:
        return {self.mode: [part.to_json() for part in self.parts]}


Criterion = Check | Combination


def _check(measure: str, op: str, bound: float | tuple[float, float]) -> Check:
    """A validated Check."""
    if not isinstance(measure, str) or not measure:
        raise LedgerError(f"a criterion needs the name of a measured value, got {measure!r}")
    bounds = bound if isinstance(bound, tuple) else (bound,)
    if not all(isinstance(b, (int, float)) and math.isfinite(b) for b in bounds):
        raise LedgerError(f"criterion on {measure}: bound {bound!r} must be finite numbers")
    return Check(measure, op, tuple(float(b) for b in bound) if isinstance(bound, tuple) else float(bound))


def at_least(measure: str, bound: float) -> Check:
    """measure ≥ bound."""
    return _check(measure, ">=", bound)


def at_most(measure: str, bound: float) -> Check:
    """measure ≤ bound."""
    return _check(measure, "<=", bound)


def above(measure: str, bound: float) -> Check:
    """measure > bound."""
    return _check(measure, ">", bound)


def below(measure: str, bound: float) -> Check:
    """measure < bound."""
    return _check(measure, "<", bound)


def between(measure: str, low: float, high: float) -> Check:
    """low ≤ measure ≤ high."""
    if not low <= high:
        raise LedgerError(f"criterion on {measure}: between({low}, {high}) needs low <= high")
    return _check(measure, "between", (low, high))


def all_of(*parts: Criterion) -> Combination:
    """Every part holds."""
    return Combination("all", tuple(parts))


def any_of(*parts: Criterion) -> Combination:
    """At least one part holds."""
    return Combination("any", tuple(parts))


def criterion_from_json(data: Any) -> Criterion:
    """A criterion back from its `to_json` form."""
    if isinstance(data, dict):
        (mode, parts), = data.items()
        return Combination(mode, tuple(criterion_from_json(p) for p in parts))
    measure, op, bound = data
    return Check(measure, op, tuple(bound) if isinstance(bound, list) else bound)


def criterion_names(criterion: Criterion | None) -> set[str]:
    """The measured names a criterion reads."""
    if criterion is None:
        return set()
    if isinstance(criterion, Check):
        return {criterion.measure}
    return set().union(*(criterion_names(p) for p in criterion.parts))


def decide(measured: Mapping[str, float], reproduced: Criterion, partly: Criterion | None = None,
           precondition: Criterion | None = None) -> tuple[str, str]:
    """(verdict, reason): the precondition first, then reproduced, then partly (module docstring)."""
    if precondition is not None and not precondition.holds(measured):
        return "not testable", "precondition not met: " + "; ".join(precondition.failures(measured))
    if reproduced.holds(measured):
        return "reproduced", ""
    if partly is not None and partly.holds(measured):
        return "partly reproduced", ""
    return "not reproduced", ""


def threshold_text(reproduced: Criterion, partly: Criterion | None, precondition: Criterion | None) -> str:
    """The ledger's threshold column, built from the same criteria the verdict is decided by."""
    text = f"reproduced if {reproduced.text()}"
    if partly is not None:
        text += f"; partly if {partly.text()}"
    if precondition is not None:
        text += f"; not testable unless {precondition.text()}"
    return text


def verdict_of_row(row: Mapping[str, Any]) -> str:
    """The verdict a stored ledger row's criteria give for its stored numbers."""
    criteria = {k: criterion_from_json(v) if v is not None else None for k, v in row["criteria"].items()}
    return decide(row["measured"], criteria["reproduced"], criteria["partly"], criteria["precondition"])[0]


# --- the ledger -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """One decided claim, as a notebook shows it next to its experiment."""

    claim_id: str
    verdict: str
    threshold: str
    reason: str
    measured: dict[str, float]
    seeds: tuple[tuple[int, str], ...] = ()  # the committed verdicts of this claim by seed

    def _repr_markdown_(self) -> str:
        values = ", ".join(f"{k} = {v:.3g}" for k, v in self.measured.items())
        reason = f" — {self.reason}" if self.reason else ""
        across = ""
        if self.seeds:
            note = "**flips between seeds**" if flips(self.seeds) else "the same at every seed"
            across = f"  \ncommitted verdicts by seed ({', '.join(str(s) for s, _ in self.seeds)}): " \
                     f"{seeds_text(self.seeds)}, {note}"
        return f"**{self.claim_id}: {self.verdict}**{reason}  \n{self.threshold}  \nmeasured: {values}{across}"

    def __repr__(self) -> str:
        return f"{self.claim_id}: {self.verdict}"


def seed_ledgers(folder: Path = SEED_RUNS) -> dict[int, Path]:
    """The committed `make seeds` runs: seed → its claims folder."""
    return {int(p.name.removeprefix("seed-")): p / "claims" for p in sorted(Path(folder).glob("seed-*"))
            if p.name.removeprefix("seed-").isdigit()}


def rows_in(folder: Path) -> dict[str, dict[str, Any]]:
    """claim id → ledger row of every ledger in a claims folder."""
    rows = {}
    for path in sorted(Path(folder).glob("*.json")):
        rows.update({row["id"]: row for row in json.loads(path.read_text())["claims"]})
    return rows


def verdicts_in(folder: Path) -> dict[str, str]:
    """claim id → verdict of every ledger in a claims folder."""
    return {claim_id: row["verdict"] for claim_id, row in rows_in(folder).items()}


def pooled_share(claim_id: str, name: str, reference: Path = REFERENCE,
                 seeds: Path = SEED_RUNS) -> tuple[list[int], dict[str, Measured]]:
    """(the seeds pooled, `name`'s share with its Wilson interval) over one claim's committed runs: the successes
    ({name}_share × {name}_n) and trials ({name}_n) of every seed summed; ([], {}) when no committed run has it."""
    folders = {0: Path(reference), **seed_ledgers(seeds)}
    found = {seed: rows_in(folder).get(claim_id, {}).get("measured", {}) for seed, folder in sorted(folders.items())}
    runs = {seed: m for seed, m in found.items() if f"{name}_share" in m and f"{name}_n" in m}
    if not runs:
        return [], {}
    successes = sum(round(m[f"{name}_share"] * m[f"{name}_n"]) for m in runs.values())
    return list(runs), share_with_interval(name, successes, sum(int(m[f"{name}_n"]) for m in runs.values()))


def verdicts_across_seeds(reference: Path = REFERENCE, seeds: Path = SEED_RUNS) -> dict[str, list[tuple[int, str]]]:
    """claim id → [(seed, verdict)] over the committed reference (seed 0) and every committed seed run."""
    folders = {0: Path(reference), **seed_ledgers(seeds)}
    table: dict[str, list[tuple[int, str]]] = {}
    for seed, folder in sorted(folders.items()):
        for claim_id, verdict in verdicts_in(folder).items():
            table.setdefault(claim_id, []).append((seed, verdict))
    return table


def seeds_text(entries: Sequence[tuple[int, str]]) -> str:
    """"R R P R": one letter per seed, in seed order."""
    return " ".join(VERDICT_LETTERS[verdict] for _, verdict in entries)


def flips(entries: Sequence[tuple[int, str]]) -> bool:
    """Whether the verdict differs between seeds."""
    return len({verdict for _, verdict in entries}) > 1


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
        return RESULTS / "claims" / f"{self.notebook}.json"

    def decide(self, claim_id: str, measured: Mapping[str, Measured], reproduced: Criterion,
               partly: Criterion | None = None, precondition: Criterion | None = None,
               figure: str | None = None) -> Verdict:
        """Decide one claim from its criteria, store its row, rewrite the ledger file, and return the verdict."""
        self._check_claim(claim_id)
        numbers, kinds = self._check_measured(claim_id, measured)
        read = criterion_names(reproduced) | criterion_names(partly) | criterion_names(precondition)
        missing = sorted(read - set(numbers))
        if missing:
            raise LedgerError(f"{claim_id}: the criteria read values that were not measured: {missing}")
        if figure is not None and (not isinstance(figure, str) or not figure.strip()):
            raise LedgerError(f"{claim_id}: 'figure' must be a figure name or None")
        verdict, reason = decide(numbers, reproduced, partly, precondition)
        threshold = threshold_text(reproduced, partly, precondition)
        self.rows[claim_id] = {
            "id": claim_id, "verdict": verdict, "reason": reason, "measured": numbers, "kinds": kinds,
            "criteria": {"reproduced": reproduced.to_json(), "partly": partly and partly.to_json(),
                         "precondition": precondition and precondition.to_json()},
            "threshold": threshold, "figure": figure,
        }
        self.save()
        seeds = tuple(verdicts_across_seeds().get(claim_id, []))
        return Verdict(claim_id, verdict, threshold, reason, numbers, seeds)

    def _check_claim(self, claim_id: str) -> None:
        """The id must be known and belong to this notebook."""
        if claim_id not in CLAIMS:
            raise LedgerError(f"unknown claim id {claim_id!r}; the claims are listed in saelib/claims.toml")
        if CLAIMS[claim_id].notebook != self.notebook:
            raise LedgerError(f"{claim_id} belongs to notebook {CLAIMS[claim_id].notebook}, not {self.notebook}")

    @staticmethod
    def _check_measured(claim_id: str, measured: Mapping[str, Measured]) -> tuple[dict[str, float], dict[str, str]]:
        """Measured values must be a non-empty mapping of names to Measured values of known kinds."""
        if not measured:
            raise LedgerError(f"{claim_id}: 'measured' is empty; record at least one measured value")
        for name, item in measured.items():
            if not isinstance(item, Measured):
                raise LedgerError(f"{claim_id}: measured value {name!r}={item!r} needs a kind: wrap it in share(), "
                                  "count(), ratio(), loss(), score(), flag() or value()")
            if item.kind not in TOLERANCES:
                raise LedgerError(f"{claim_id}: measured value {name!r} has unknown kind {item.kind!r}")
        return ({str(k): v.value for k, v in measured.items()}, {str(k): v.kind for k, v in measured.items()})

    def save(self) -> None:
        """Write the ledger (rows, the run's parameters and environment fingerprint) atomically."""
        atomic_write_json(self.path, {
            "notebook": self.notebook,
            "parameters": self.parameters,
            "environment": environment_fingerprint(),
            "claims": [self.rows[k] for k in sorted(self.rows)],
        })

    def missing_claims(self) -> list[str]:
        """The notebook's claims that have no row yet."""
        return [cid for cid in claims_of(self.notebook) if cid not in self.rows]

    def verdict_table(self) -> pd.DataFrame:
        """What nbval compares: claim, verdict, the measured names, and the committed verdicts across seeds
        (one letter per seed: R, P, N, T) with whether they flip. No numbers: those are checked with tolerances."""
        seeds = verdicts_across_seeds()
        rows = []
        for claim_id in sorted(self.rows):
            row, entries = self.rows[claim_id], seeds.get(claim_id, [])
            rows.append({"claim": claim_id, "verdict": row["verdict"], "measured": ", ".join(row["measured"]),
                         "committed seeds": seeds_text(entries) or "none yet",
                         "flips across seeds": "yes" if flips(entries) else "no"})
        return pd.DataFrame(rows, columns=["claim", "verdict", "measured", "committed seeds", "flips across seeds"])


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
