"""Helpers for the SAE "true features" paper companion.

One module per idea: `paths`, `repro`, `params`, `claims`, `plotting`, `corpus`, `target_model`,
`activations`, `training`, plus the SAE variants in `saelib.saes` and the metrics in `saelib.metrics`.
The experiments themselves live in the notebooks.
"""

__version__ = "0.1.0"
