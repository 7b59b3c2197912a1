"""The initialisation helpers against the PyTorch calls they reproduce, and their invariants."""

import math

import torch

from saelib.saes.init import orthogonal_unit_decoder, pytorch_linear_init, sae_lens_decoder_rows


def test_pytorch_linear_init_equals_nn_linear_under_the_same_seed():
    torch.manual_seed(5)
    linear = torch.nn.Linear(12, 40)
    torch.manual_seed(5)
    weight, bias = pytorch_linear_init(12, 40)
    torch.testing.assert_close(weight, linear.weight.detach())
    torch.testing.assert_close(bias, linear.bias.detach())
    assert weight.abs().max() <= 1 / math.sqrt(12) and bias.abs().max() <= 1 / math.sqrt(12)


def test_orthogonal_unit_decoder_is_orthogonal_init_with_unit_columns():
    torch.manual_seed(2)
    expected = torch.nn.init.orthogonal_(torch.empty(16, 64))
    torch.manual_seed(2)
    rows = orthogonal_unit_decoder(64, 16)
    assert rows.shape == (64, 16)
    torch.testing.assert_close(rows, (expected / expected.norm(dim=0, keepdim=True)).T)
    torch.testing.assert_close(rows.norm(dim=1), torch.ones(64))


def test_orthogonal_unit_decoder_has_orthonormal_rows_when_they_fit():
    rows = orthogonal_unit_decoder(10, 16, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(rows @ rows.T, torch.eye(10), atol=1e-5, rtol=0)


def test_sae_lens_decoder_rows_have_the_requested_norm():
    rows = sae_lens_decoder_rows(30, 8, generator=torch.Generator().manual_seed(1), init_norm=0.1)
    torch.testing.assert_close(rows.norm(dim=1), torch.full((30,), 0.1))
