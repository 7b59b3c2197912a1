"""Helpers for the SAE "true features" paper companion.

One module per idea: `paths`, `repro`, `params`, `claims` (the claims, read from `claims.toml`), `ledger` (verdicts
and their tolerances), `rules`, `corpus`, `target_model`, `activations`, `runs` (cached SAE runs), `runner`,
`report`, `seed_shares` (shares of seeds with their intervals), the toy models and networks (`toy_data`,
`nonlinearity`, `multilayer`), every figure in `saelib.figures` (one module per notebook), SAE variants in
`saelib.saes` (registered with sae-lens on import), trainers in `saelib.training` and metrics in `saelib.metrics`.
The experiments themselves live in the notebooks.
"""

import functools
import os

__version__ = "0.1.0"


def _honour_tqdm_disable() -> None:
    """Make notebook progress bars obey TQDM_DISABLE too (tqdm.notebook ignores it; headless runs set it)."""
    if os.environ.get("TQDM_DISABLE", "").lower() not in ("1", "true", "yes"):
        return
    import tqdm.notebook

    tqdm.notebook.tqdm.__init__ = functools.partialmethod(tqdm.notebook.tqdm.__init__, disable=True)


_honour_tqdm_disable()

import saelib.saes  # noqa: E402,F401  (registers every SAE variant with sae-lens)
