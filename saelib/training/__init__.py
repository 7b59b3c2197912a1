"""Trainers: sae-lens's own `SAETrainer` (`sae_lens_trainer`), a fast trainer for the notebooks' SAE shapes
(`fast`) and many tiny independent SAEs at once (`stacked`, the toys of notebook 01). They sit above
`saelib.saes` in the import graph: the SAE definitions never import a trainer."""
