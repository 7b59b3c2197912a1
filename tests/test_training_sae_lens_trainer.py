import torch
from sae_lens import StandardTrainingSAE, StandardTrainingSAEConfig

from saelib.training.sae_lens_trainer import train_sae


def sparse_data(n: int = 4096, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    features = torch.nn.functional.normalize(torch.randn(8, 16, generator=generator), dim=1)
    codes = (torch.rand(n, 8, generator=generator) < 0.1).float() * torch.rand(n, 8, generator=generator) * 3
    return codes @ features


def batches(data: torch.Tensor, size: int):
    generator = torch.Generator().manual_seed(1)
    while True:
        yield data[torch.randint(len(data), (size,), generator=generator)]


def test_train_sae_reduces_mse_and_records_history():
    torch.manual_seed(0)
    sae = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=16, d_sae=16, l1_coefficient=1e-3))
    data = sparse_data()
    before = (sae(data) - data).pow(2).sum(-1).mean().item()
    trained = train_sae(sae, batches(data, 128), n_samples=128 * 300, batch_size=128, lr=3e-3, device="cpu",
                        record_every=100)
    after = (trained.sae(data) - data).pow(2).sum(-1).mean().item()
    assert after < 0.2 * before
    assert trained.history["step"].tolist() == [100, 200, 300]
    assert {"loss", "l0", "mse", "explained_variance", "mse_loss", "l1_loss"} <= set(trained.history.columns)
    assert trained.feature_density.shape == (16,) and trained.dead.dtype == torch.bool
