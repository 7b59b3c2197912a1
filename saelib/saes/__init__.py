"""The SAE variants this companion adds to sae-lens, registered in one place (as sae-lens does in its package
`__init__`), so that a saved SAE of any variant loads in a fresh interpreter that imported only `saelib`.

Every variant module follows one template: an inference config and class (what `SAE.load_from_disk` builds), a
training config whose `__post_init__` checks raise `ParameterError`, and a training class; every overridden method
carries `@override`. The trainers live above this package, in `saelib.training`.
"""

from sae_lens import register_sae_class, register_sae_training_class
from sae_lens.registry import SAE_CLASS_REGISTRY, SAE_TRAINING_CLASS_REGISTRY

from saelib.saes import l0_approx, matryoshka_fixed, orthogonal, reference_l1, tied, unit_norm

VARIANTS = {
    tied.ARCHITECTURE: (tied.TiedSAE, tied.TiedSAEConfig, tied.TiedTrainingSAE, tied.TiedTrainingSAEConfig),
    orthogonal.ARCHITECTURE: (orthogonal.OrthogonalSAE, orthogonal.OrthogonalSAEConfig,
                              orthogonal.OrthogonalTrainingSAE, orthogonal.OrthogonalTrainingSAEConfig),
    matryoshka_fixed.ARCHITECTURE: (matryoshka_fixed.MatryoshkaFixedSAE, matryoshka_fixed.MatryoshkaFixedSAEConfig,
                                    matryoshka_fixed.MatryoshkaFixedTrainingSAE,
                                    matryoshka_fixed.MatryoshkaFixedTrainingSAEConfig),
    unit_norm.ARCHITECTURE: (unit_norm.UnitNormSAE, unit_norm.UnitNormSAEConfig, unit_norm.UnitNormTrainingSAE,
                             unit_norm.UnitNormTrainingSAEConfig),
    l0_approx.ARCHITECTURE: (l0_approx.L0ApproxSAE, l0_approx.L0ApproxSAEConfig, l0_approx.L0ApproxTrainingSAE,
                             l0_approx.L0ApproxTrainingSAEConfig),
    reference_l1.ARCHITECTURE: (reference_l1.ReferenceL1SAE, reference_l1.ReferenceL1SAEConfig,
                                reference_l1.ReferenceL1TrainingSAE, reference_l1.ReferenceL1TrainingSAEConfig),
}


def register_variants() -> None:
    """Register every variant's inference and training classes with sae-lens (once per interpreter)."""
    for architecture, (sae, config, training_sae, training_config) in VARIANTS.items():
        if architecture not in SAE_CLASS_REGISTRY:
            register_sae_class(architecture, sae, config)
        if architecture not in SAE_TRAINING_CLASS_REGISTRY:
            register_sae_training_class(architecture, training_sae, training_config)


register_variants()
