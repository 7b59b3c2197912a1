"""Time every notebook at its default profile, in one run, against its budget on this machine.

    .venv/bin/python benchmarks/bench_notebooks.py [NOTEBOOK_STEM ...]

Caches in data/ are used as the notebooks use them: run after `make clean` for cold-cache figures. Outputs go to
a temporary folder, so the committed notebooks, figures and ledgers are untouched.
"""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = {
    "00_target_model": 180,
    "01_toy_composite_features": 240,
    "02_sqrt_n_nonlinearity": 60,
    "03_multilayer_iterative_features": 180,
    "04_l0_approx_training": 240,
    "05_mcs_vs_random_wasserstein": 300,
}
MAKE_ALL_BUDGET_S = 20 * 60


def main(stems: list[str]) -> int:
    """Run the notebooks, print each one's time as a ratio of its budget, and the total against make all's."""
    with tempfile.TemporaryDirectory() as scratch:
        os.environ.update(SAELIB_ARTIFACTS=scratch, MPLBACKEND="Agg", TQDM_DISABLE="1")
        from saelib.runner import run_notebook

        total = 0.0
        print(f"{'notebook':36s} {'seconds':>8s} {'budget':>7s} {'ratio':>6s}")
        for stem in stems or list(BUDGET_S):
            seconds = run_notebook(ROOT / "notebooks" / f"{stem}.ipynb", Path(scratch) / f"{stem}.ipynb")
            total += seconds
            print(f"{stem:36s} {seconds:8.0f} {BUDGET_S[stem]:7d} {seconds / BUDGET_S[stem]:6.2f}", flush=True)
        print(f"{'total':36s} {total:8.0f} {MAKE_ALL_BUDGET_S:7d} {total / MAKE_ALL_BUDGET_S:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
