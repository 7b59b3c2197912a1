"""Every figure of the companion: `common` (the theme, saving, drawing helpers the others share) and one module per
notebook (`target_model` 00, `composites` 01, `nonlinearity` 02, `multilayer` 03, `sweeps` 04 and 01's training
curves, `mcs` 05). Each function draws what a notebook computed and returns the figure; the notebook saves it."""
