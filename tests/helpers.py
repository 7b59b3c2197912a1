"""Small helpers shared by the tests."""

from pathlib import Path

from sae_lens.saes.sae import TrainingSAE


def round_trip(sae: TrainingSAE, folder: Path) -> TrainingSAE:
    """Save `sae` in sae-lens's format to `folder` and load it back as its registered training class."""
    sae.save_model(folder)
    return TrainingSAE.load_from_disk(folder)
