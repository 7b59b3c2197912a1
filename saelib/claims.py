"""The claims ledger: a registry of every claim this companion tests, and one verdict row per claim per run.

A notebook opens a `Ledger` for itself and calls `ledger.record(...)` once per claim; each call validates the
row, rewrites `results/claims/<notebook>.json` atomically and returns the table so far for display.
`saelib.report` renders all ledgers into REPORT.md.
"""

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from saelib.atomic import atomic_write_json
from saelib.paths import RESULTS
from saelib.repro import environment_fingerprint

VERDICTS = ("reproduced", "partly reproduced", "not reproduced")


@dataclass(frozen=True)
class Post:
    """A source post: title, author(s), where to read it."""

    title: str
    author: str
    link: str


@dataclass(frozen=True)
class Claim:
    """One claim: its stable id, the notebook that tests it, its source post, and the claim in our words."""

    id: str
    notebook: str
    post: str
    statement: str


def _lesswrong_search(title: str) -> str:
    """A LessWrong search link for a post whose permanent link we have not verified."""
    return "https://www.lesswrong.com/search?query=" + title.replace(" ", "%20")


POSTS: dict[str, Post] = {
    "000": Post(
        'Do sparse autoencoders find "true features"?',
        "Demian Till (2024), with comments by Logan Riggs and others",
        "https://www.lesswrong.com/posts/QoR8noAB3Mp2KBA4B/do-sparse-autoencoders-find-true-features",
    ),
    "001": Post(
        "Experiments with an alternative method to promote sparsity in sparse autoencoders",
        "Eoin Farrell (2024)",
        _lesswrong_search("Experiments with an alternative method to promote sparsity in sparse autoencoders"),
    ),
    "002": Post(
        "Some additional SAE thoughts",
        "Hoagy Cunningham (2024)",
        _lesswrong_search("Some additional SAE thoughts"),
    ),
    "003": Post(
        "Learning Multi-Level Features with Matryoshka SAEs (comment thread by David Chanin)",
        "Bart Bussmann, Patrick Leask, Neel Nanda (2024); comments by David Chanin",
        "https://www.lesswrong.com/posts/rKM9b6B2LqwSB5ToN/learning-multi-level-features-with-matryoshka-saes",
    ),
    "004": Post(
        "[Research Update] Sparse Autoencoder features are bimodal",
        "Robert Huben (Robert_AIZI) (2023)",
        _lesswrong_search("Sparse Autoencoder features are bimodal"),
    ),
}

_NB01, _NB02, _NB03 = "01_toy_composite_features", "02_sqrt_n_nonlinearity", "03_multilayer_iterative_features"
_NB04, _NB05 = "04_l0_approx_training", "05_mcs_vs_random_wasserstein"

CLAIMS: dict[str, Claim] = {
    c.id: c
    for c in [
        Claim("C01.1", _NB01, "000", "With f1 and f2 frequent and co-occurring in fixed proportions and f3 rare, a "
              "3-latent L1 SAE learns f1, f2 and the composite f1+f2 and drops f3, once the L1 weight is high "
              "enough and f3 rare enough."),
        Claim("C01.2", _NB01, "000", "A penalty on the absolute cosine similarity between decoder directions "
              "recovers f3 in that regime at a small reconstruction cost (also in a harsher-for-high-cosine form)."),
        Claim("C01.3", _NB01, "000", "In 2-D with A=(0,1), B=(1,0), the encoder W=[[-1,1],[1,1],[1,-1]], "
              "b=[0,-1,0] gives one-hot codes for A∧¬B, A∧B, ¬A∧B; a trained 3-latent SAE can find this composite "
              "solution, and its decoder, not its encoder, shows the non-orthogonality."),
        Claim("C01.4", _NB01, "000", "Decoder directions of a trained SAE are far less orthogonal than random "
              "directions of the same shape, for the 1st, 10th and 100th nearest neighbour."),
        Claim("C01.5", _NB01, "000", "Feature splitting as composites: with a hierarchy of co-occurring topic "
              "features, a wider SAE spends its extra latents on more specific combinations, not on atoms."),
        Claim("C01.6", _NB01, "003", "A 1-latent SAE on a parent (p=0.3) with two mutually exclusive children "
              "(p=0.4 each given the parent), orthogonal in 20-d, learns the parent plus positive child components."),
        Claim("C01.7", _NB01, "003", "A Matryoshka SAE with fixed prefixes [1, 3] on the same data: latent 0 "
              "carries positive child components and each child latent a negative component of the other child."),
        Claim("C01.8", _NB01, "003", "A child much larger in magnitude than its parent (child p=0.15, magnitude "
              "10; parent p=0.3, magnitude 2) is learned before the parent, and absorption follows."),
        Claim("C01.9", _NB01, "003", "Tying the encoder to the decoder changes absorption and composite learning "
              "on these setups (an open question in the post: measured here)."),
        Claim("C02.1", _NB02, "002", "A feature spread evenly over 100 GELU neurons responds almost linearly; "
              "scaling its input by √n recovers the GELU shape (and the law holds across n)."),
        Claim("C02.2", _NB02, "002", "A spread feature with balanced positive and negative entries loses the "
              "non-linearity; unbalanced signs give intermediate attenuation."),
        Claim("C02.3", _NB02, "002", "As dims-per-feature grows, fewer features can be active at once before the "
              "response turns homogeneous, while more nearly orthogonal features (MMCS < 0.3) fit."),
        Claim("C03.1", _NB03, "002", "In an MLP-only residual network on pairs of one-hot inputs, the logit-lens "
              "loss after each layer falls roughly linearly with depth in the later layers."),
        Claim("C03.2", _NB03, "002", "Per datapoint, no single layer is decisive; the fraction of datapoints "
              "below loss 0.1 rises late."),
        Claim("C03.3", _NB03, "002", "The per-datapoint norm of each layer's weight gradient of the correct "
              "output's logit shows no peak at any layer."),
        Claim("C03.4", _NB03, "002", "With more unique datapoints, the fraction learned by a given layer is "
              "higher."),
        Claim("C04.1", _NB04, "001", "SAEs trained with MSE + λ0·L0approx + a log-frequency floor penalty reach "
              "lower L0 and lower MSE than an L1 SAE of the same width and budget (3 of 5 runs in the post)."),
        Claim("C04.2", _NB04, "001", "They have far fewer dead features than the L1 SAE."),
        Claim("C04.3", _NB04, "001", "Their feature-density histogram drops sharply at s_min."),
        Claim("C04.4", _NB04, "001", "Their density distribution is close to a power law (slope ≈ −0.9)."),
        Claim("C04.5", _NB04, "001", "A few high-density features (density > 0.1) appear (positional ones in the "
              "post)."),
        Claim("C04.6", _NB04, "001", "Without the frequency term, L0approx gives many dead features (≥ 50%) and "
              "worse MSE; the frequency term with plain L1 gives similar MSE at about 2× the L0."),
        Claim("C04.7", _NB04, "001", "At the end of training, L0 and MSE are still falling for L0approx while L1 "
              "has flattened."),
        Claim("C05.1", _NB05, "004", "The MCS of a 1024-latent dictionary against an 8192-latent one is bimodal, "
              "with modes near 0.3 and near 1.0."),
        Claim("C05.2", _NB05, "004", "Below MCS 0.5 the learned distribution matches random: EMDs between learned "
              "and N(0,1) random dictionaries are within 2× of random-vs-random EMDs."),
        Claim("C05.3", _NB05, "004", "A random baseline with other parameters (1024 vs 16384) is much farther "
              "from all of the above."),
        Claim("C05.4", _NB05, "004", "A 1024 dictionary's MCS against 2048 and against 4096 are strongly "
              "correlated, with clusters near (0.3, 0.3) and (1, 1)."),
        Claim("C05.5", _NB05, "004", "The share of high-MCS features falls with dictionary size (> 90% at 256, "
              "< 25% at 4096) while their count rises."),
        Claim("C05.6", _NB05, "004", "Random MCS follows the footnote's law: the max of M one-draw cosines in K "
              "dimensions has density M·pdf·cdf^(M−1)."),
    ]
}

NOTEBOOKS: tuple[str, ...] = ("00_target_model", _NB01, _NB02, _NB03, _NB04, _NB05)


class LedgerError(ValueError):
    """A ledger row is malformed: unknown id, wrong notebook, missing field, bad verdict or NaN."""


def _clean_measured(claim_id: str, measured: Any) -> dict[str, float]:
    """Validate measured values (a number or a name→number mapping) and return them as floats."""
    if not isinstance(measured, dict):
        measured = {"value": measured}
    if not measured:
        raise LedgerError(f"{claim_id}: 'measured' is empty; record at least one measured value")
    cleaned = {}
    for name, value in measured.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "item"):
            raise LedgerError(f"{claim_id}: measured value {name!r}={value!r} is not a number")
        number = float(value)
        if not math.isfinite(number):
            raise LedgerError(f"{claim_id}: measured value {name!r} is {number}; a ledger value must be finite")
        cleaned[str(name)] = number
    return cleaned


def _validated_row(notebook: str, claim_id: str, measured: Any, threshold: str, verdict: str,
                   figure: str | None) -> dict[str, Any]:
    """One ledger row, or a LedgerError naming what is wrong with it."""
    if claim_id not in CLAIMS:
        raise LedgerError(f"unknown claim id {claim_id!r}; known ids are listed in saelib.claims.CLAIMS")
    if CLAIMS[claim_id].notebook != notebook:
        raise LedgerError(f"{claim_id} belongs to notebook {CLAIMS[claim_id].notebook}, not {notebook}")
    if not isinstance(threshold, str) or not threshold.strip():
        raise LedgerError(f"{claim_id}: 'threshold' must say in words what decides the verdict")
    if verdict not in VERDICTS:
        raise LedgerError(f"{claim_id}: verdict {verdict!r} is not one of {VERDICTS}")
    if figure is not None and (not isinstance(figure, str) or not figure.strip()):
        raise LedgerError(f"{claim_id}: 'figure' must be a figure name or None")
    return {
        "id": claim_id,
        "measured": _clean_measured(claim_id, measured),
        "threshold": threshold.strip(),
        "verdict": verdict,
        "figure": figure,
    }


def format_measured(measured: dict[str, float], digits: int = 3) -> str:
    """'name=value' pairs, rounded to `digits` significant digits."""
    return ", ".join(f"{name}={value:.{digits}g}" for name, value in measured.items())


class Ledger:
    """The claims ledger of one notebook run, kept in results/claims/<notebook>.json."""

    def __init__(self, notebook: str, parameters: dict[str, Any] | None = None):
        if notebook not in NOTEBOOKS:
            raise LedgerError(f"unknown notebook {notebook!r}; expected one of {NOTEBOOKS}")
        self.notebook = notebook
        self.parameters = dict(parameters or {})
        self.rows: dict[str, dict[str, Any]] = {}

    @property
    def path(self):
        """Where this notebook's ledger is written."""
        return RESULTS / "claims" / f"{self.notebook}.json"

    def record(self, claim_id: str, measured: Any, threshold: str, verdict: str,
               figure: str | None = None) -> pd.DataFrame:
        """Validate and store one claim's row, rewrite the ledger file, and return the table so far."""
        self.rows[claim_id] = _validated_row(self.notebook, claim_id, measured, threshold, verdict, figure)
        self.save()
        return self.table()

    def save(self) -> None:
        """Write the ledger (rows, the run's parameters and environment fingerprint) atomically."""
        atomic_write_json(self.path, {
            "notebook": self.notebook,
            "parameters": self.parameters,
            "environment": environment_fingerprint(),
            "claims": [self.rows[k] for k in sorted(self.rows)],
        })

    def summary(self, digits: int = 2) -> str:
        """One line per recorded claim: id, verdict and measured values to `digits` significant digits.

        This is what nbval compares (`# NBVAL_CHECK_OUTPUT`), so it holds rounded values and verdicts only.
        """
        return "\n".join(f"{r['id']}: {r['verdict']} ({format_measured(r['measured'], digits)})"
                         for r in (self.rows[k] for k in sorted(self.rows)))

    def table(self) -> pd.DataFrame:
        """The rows so far as a small table (rounded values, for display)."""
        return pd.DataFrame(
            [{"claim": r["id"], "verdict": r["verdict"], "measured": format_measured(r["measured"]),
              "threshold": r["threshold"]} for r in (self.rows[k] for k in sorted(self.rows))],
            columns=["claim", "verdict", "measured", "threshold"],
        )
