"""Render REPORT.md from the claims ledgers: the default run (results/claims/, seed 0), `make seeds`
(results/seeds/seed-<k>/claims/) and `make paper` (results/paper/claims/), with the rules and their histories from
saelib/claims.toml and the target models' summaries.

    python -m saelib.report                          # write REPORT.md
    python -m saelib.report collect SRC DEST NOTEBOOK  # copy one run's ledger, summary and run time (make paper)

A ledger row decided under another rule than the claims file's is marked stale (rule); one produced by another
version of its notebook's code or of the saelib modules that code runs is marked (older code).
"""

import argparse
import functools
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from saelib.atomic import atomic_write_json, atomic_write_text
from saelib.claims import CLAIMS, NOTEBOOKS, POSTS, Claim
from saelib.ledger import VERDICT_LETTERS, VERDICTS, rows_in, seed_ledgers
from saelib.paths import figures_dir, report_path, results_dir
from saelib.repro import code_digests
from saelib.rules import Check, Combination, Criterion

NOT_RUN = "not run"
current_code = functools.cache(code_digests)  # one reading of the source per notebook while a report renders


def _escape(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def staleness(row: dict[str, Any], claim: Claim) -> list[str]:
    """Why a ledger row does not describe the current rule and code: [] when it does."""
    marks = [] if row.get("rule") == claim.rule.digest() else ["stale rule"]
    if row.get("code", {}) != current_code(claim.notebook):
        marks.append("older code")
    return marks


def verdict_cell(row: dict[str, Any] | None, claim: Claim) -> str:
    """A verdict as the summary shows it, with its staleness marks."""
    if row is None:
        return NOT_RUN
    marks = staleness(row, claim)
    return row["verdict"] + (f" ({', '.join(marks)})" if marks else "")


def seeds_cell(claim: Claim, seed_rows: dict[int, dict[str, dict[str, Any]]]) -> str:
    """One letter per committed seed run (R P N T), a * on those decided under another rule or code."""
    letters = []
    for _, rows in sorted(seed_rows.items()):
        row = rows.get(claim.id)
        if row is not None:
            letters.append(VERDICT_LETTERS[row["verdict"]] + ("*" if staleness(row, claim) else ""))
    return " ".join(letters) or NOT_RUN


def history_cell(claim: Claim) -> str:
    """"rule unchanged since first run", or how often it changed and when (details in the claim's section)."""
    changes = claim.history[1:]
    if not changes:
        return "rule unchanged since first run"
    return f"changed {len(changes)}×: " + ", ".join(f"{e.date} ({e.commit})" for e in changes)


def checks_of(criterion: Criterion | None) -> list[Check]:
    """Every comparison of a criterion, in order."""
    if criterion is None:
        return []
    if isinstance(criterion, Check):
        return [criterion]
    assert isinstance(criterion, Combination)
    return [check for part in criterion.parts for check in checks_of(part)]


def deciding_numbers(claim: Claim, row: dict[str, Any]) -> list[str]:
    """One line per comparison the rule makes: the measured value against its threshold, and whether it holds."""
    lines = []
    for label, criterion in (("precondition", claim.rule.precondition), ("reproduced", claim.rule.reproduced),
                             ("partly", claim.rule.partly)):
        for check in checks_of(criterion):
            value = row["measured"].get(check.measure)
            shown = "not measured" if value is None else f"{value:.4g}"
            mark = "holds" if check.holds(row["measured"]) else "fails"
            note = row.get("notes", {}).get(check.measure)
            lines.append(f"  - {label}: {check.text()} — {check.measure} = {shown}, {mark}"
                         + (f" ({note})" if note else ""))
    return lines


def claim_section(claim: Claim, row: dict[str, Any] | None, paper: dict[str, Any] | None) -> list[str]:
    """The claim's section: verdicts, the deciding numbers against the rule, the figure, the rule's history."""
    lines = [f"### {claim.id} · {claim.short}", "", f"{claim.statement}", ""]
    lines.append(f"Notebook [{claim.notebook}](notebooks/{claim.notebook}.ipynb). Rule {claim.rule.digest()}: "
                 f"{claim.rule.text()}.")
    lines.append("")
    for name, found in (("default (seed 0)", row), ("post's scale", paper)):
        if found is None:
            lines.append(f"- **{name}**: {NOT_RUN}")
            continue
        reason = f" — {found['reason']}" if found.get("reason") else ""
        lines.append(f"- **{name}**: {verdict_cell(found, claim)}{reason}")
        lines += deciding_numbers(claim, found)
    if row is not None and row.get("figure"):
        lines += ["", f"![{row['figure']}](figures/{row['figure']}.png)"]
    lines += ["", "Rule history:", ""]
    for entry in claim.history:
        old = f" The old rule gave: {entry.old_verdict}." if entry.old_verdict else ""
        digest = f" Rule {entry.rule}." if entry.rule else ""
        lines.append(f"- {entry.date} ({entry.commit}): {entry.change}. Why: {entry.why}.{old}{digest}")
    return lines + [""]


def summaries_in(folder: Path) -> dict[str, dict[str, Any]]:
    """notebook → summary of every summaries/<notebook>.json under a results folder (notebook 00's model)."""
    return {p.stem: json.loads(p.read_text()) for p in sorted((folder / "summaries").glob("*.json"))}


def model_lines(default: dict[str, Any] | None, paper: dict[str, Any] | None) -> list[str]:
    """The target models' table: held-out loss, passes over the corpus, the curve's flatness, training time."""
    lines = ["| profile | held-out loss (nats/token) | × unigram baseline | passes over the corpus | "
             "held-out loss change per 10% of training, last 20% | training time |", "|---|---|---|---|---|---|"]
    for name, summary in (("default", default), ("paper", paper)):
        if summary is None:
            lines.append(f"| {name} | {NOT_RUN} | | | | |")
            continue
        seconds, change = summary.get("training_seconds"), summary.get("held_out_end_change")
        time = f"{seconds / 60:.1f} min" if seconds else "not recorded"
        flat = "too few points" if change is None else f"{change:+.2%}" + (" (flat)" if summary.get("flat") else "")
        lines.append(f"| {name} | {summary['held_out_loss']:.3f} | {summary['loss_over_unigram']:.2f} | "
                     f"{summary['passes_over_corpus']:.2f} | {flat} | {time} |")
    return lines


def runtime_lines(default: dict[str, Any], paper: dict[str, Any]) -> list[str]:
    """Each notebook's last run time at default and at the post's scale."""
    lines = ["| notebook | default | post's scale |", "|---|---|---|"]
    for notebook in NOTEBOOKS:
        cells = [f"{runs[notebook]['seconds'] / 60:.1f} min" if notebook in runs else NOT_RUN
                 for runs in (default, paper)]
        lines.append(f"| {notebook} | {cells[0]} | {cells[1]} |")
    return lines


def render_report(rows: dict[str, dict[str, Any]], seed_rows: dict[int, dict[str, dict[str, Any]]],
                  paper_rows: dict[str, dict[str, Any]], runtimes: dict[str, Any], paper_runtimes: dict[str, Any],
                  models: tuple[dict[str, Any] | None, dict[str, Any] | None] = (None, None)) -> str:
    """The whole REPORT.md text."""
    counts = {v: sum(r["verdict"] == v for r in rows.values()) for v in VERDICTS}
    legend = ", ".join(f"{letter} = {verdict}" for verdict, letter in VERDICT_LETTERS.items())
    lines = [
        "# Claims report",
        "",
        "Generated by `make report` from the ledgers the notebooks write: the default run at seed 0 "
        "(`results/claims/`), `make seeds` (`results/seeds/`) and `make paper` (`results/paper/`, the posts' scale). "
        "Every number was computed by a notebook run; every rule, and every change to it, is in "
        "`saelib/claims.toml`.",
        "",
        f"{len(rows)} of {len(CLAIMS)} claims tested at default: "
        + ", ".join(f"{n} {v}" for v, n in counts.items()) + ". `not testable` means the run never reached the "
        "condition the claim is about, or its trained runs had not converged (the row names the run).",
        "",
        f"Seeds column: one letter per seed 0, 1, … ({legend}); `*` marks a run decided under an older rule or "
        "older code. A verdict marked *stale rule* was decided under another rule than the one in force; *older "
        "code* means the notebook's code or saelib changed since that run.",
        "",
        "## Summary",
        "",
        "| id | claim | default (seed 0) | seeds | post's scale | rule history |",
        "|---|---|---|---|---|---|",
    ]
    all_seeds = {0: rows, **seed_rows}
    for cid, claim in CLAIMS.items():
        cells = [cid, claim.short, verdict_cell(rows.get(cid), claim), seeds_cell(claim, all_seeds),
                 verdict_cell(paper_rows.get(cid), claim), history_cell(claim)]
        lines.append("| " + " | ".join(_escape(c) for c in cells) + " |")
    lines += ["", "## Target models (notebook 00)", "", *model_lines(*models), "", "## Claims", ""]
    for cid, claim in CLAIMS.items():
        lines += claim_section(claim, rows.get(cid), paper_rows.get(cid))
    lines += ["## Notebook run times", "", *runtime_lines(runtimes, paper_runtimes), "", "## Sources", ""]
    lines += [f"- {key}: *{post.title}*, {post.author}. <{post.link}>" for key, post in POSTS.items()]
    return "\n".join(lines) + "\n"


def _json_or_empty(path: Path) -> dict[str, Any]:
    """A JSON file's content, or {} when it does not exist."""
    return json.loads(path.read_text()) if path.exists() else {}


def write_report() -> Path:
    """Render the report from the results folder (the default run, the seeds and the paper runs beside it)
    atomically."""
    results, figures = results_dir(), figures_dir()
    rows = rows_in(results / "claims")
    missing = sorted({row["figure"] for row in rows.values() if row.get("figure")}
                     - {p.stem for p in figures.glob("*.png")})
    if missing:
        raise FileNotFoundError(f"the ledgers link figures that were not written: {missing}")
    seed_rows = {seed: rows_in(folder) for seed, folder in seed_ledgers(results / "seeds").items()}
    paper = results / "paper"
    models = (summaries_in(results).get("00_target_model"), summaries_in(paper).get("00_target_model"))
    text = render_report(rows, seed_rows, rows_in(paper / "claims"), _json_or_empty(results / "runtimes.json"),
                         _json_or_empty(paper / "runtimes.json"), models)
    return atomic_write_text(report_path(), text)


def collect_run(source: Path, destination: Path, notebook: str) -> list[Path]:
    """Copy one notebook's ledger and summary from a run's results folder into `destination` and merge its run
    time into destination/runtimes.json; return what was written."""
    written = []
    for part in ("claims", "summaries"):
        found = Path(source) / part / f"{notebook}.json"
        if found.exists():
            (Path(destination) / part).mkdir(parents=True, exist_ok=True)
            written.append(Path(shutil.copyfile(found, Path(destination) / part / found.name)))
    runtime = _json_or_empty(Path(source) / "runtimes.json").get(notebook)
    if runtime is not None:
        merged = _json_or_empty(Path(destination) / "runtimes.json") | {notebook: runtime}
        written.append(atomic_write_json(Path(destination) / "runtimes.json", merged))
    return written


def main(argv: list[str] | None = None) -> int:
    """`python -m saelib.report` writes REPORT.md; `... collect SRC DEST NOTEBOOK` copies one run's results."""
    parser = argparse.ArgumentParser(description="Render REPORT.md, or collect one notebook run's results.")
    parser.add_argument("command", nargs="?", choices=["collect"])
    parser.add_argument("paths", nargs="*", help="collect: SRC DEST NOTEBOOK")
    args = parser.parse_args(argv)
    if args.command == "collect":
        if len(args.paths) != 3:
            parser.error("collect needs SRC DEST NOTEBOOK")
        source, destination, notebook = args.paths
        for path in collect_run(Path(source), Path(destination), notebook):
            print(f"wrote {path}")
        return 0
    print(f"wrote {write_report().name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
