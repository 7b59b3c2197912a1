"""Trainers: sae-lens's own `SAETrainer` (`sae_lens_trainer`), a fast trainer for the notebooks' SAE shapes
(`fast`), many tiny independent SAEs at once (`stacked`) and toy-pool helpers (`toy`). They sit above
`saelib.saes` in the import graph: the SAE definitions never import a trainer."""
