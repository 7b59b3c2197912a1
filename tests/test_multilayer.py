import pytest
import torch

from saelib.multilayer import (
    ResidualMLP,
    correct_logit_grad_norms,
    logit_lens,
    logit_lens_loss,
    random_pair_dataset,
    train_residual_mlp,
)
from saelib.params import ParameterError


def tiny_model(seed=0, n_layers=3):
    torch.manual_seed(seed)
    return ResidualMLP(vocab_size=7, d_model=6, n_layers=n_layers, n_targets=5, d_mlp=8).double()


def test_embedding_is_the_linear_projection_of_the_two_hot_input():
    model = tiny_model()
    a, b = torch.tensor([0, 3, 6]), torch.tensor([2, 2, 5])
    two_hot = torch.zeros(3, 14, dtype=torch.float64)
    two_hot[torch.arange(3), a] = 1
    two_hot[torch.arange(3), 7 + b] = 1
    torch.testing.assert_close(model.embed_pairs(a, b), model.embed(two_hot))


def test_logit_lens_at_the_last_layer_equals_the_model_output():
    model = tiny_model()
    a, b, _ = random_pair_dataset(20, 7, 5, seed=0)
    lens = logit_lens(model, a, b)
    assert lens.shape == (model.n_layers + 1, 20, 5)
    with torch.no_grad():
        torch.testing.assert_close(lens[-1], model(a, b), rtol=0, atol=0)


def test_logit_lens_loss_matches_cross_entropy_per_layer():
    model = tiny_model()
    a, b, y = random_pair_dataset(20, 7, 5, seed=1)
    losses = logit_lens_loss(model, a, b, y)
    lens = logit_lens(model, a, b)
    for layer in range(model.n_layers + 1):
        expected = torch.nn.functional.cross_entropy(lens[layer], y, reduction="none")
        torch.testing.assert_close(losses[layer], expected)


def test_grad_norms_agree_with_autograd_one_datapoint_at_a_time():
    model = tiny_model()
    a, b, y = random_pair_dataset(6, 7, 5, seed=2)
    norms = correct_logit_grad_norms(model, a, b, y, chunk_size=4)
    assert norms.shape == (6, model.n_layers)
    for i in range(6):
        model.zero_grad()
        model(a[i:i + 1], b[i:i + 1])[0, y[i]].backward()
        for layer, block in enumerate(model.blocks):
            expected = torch.sqrt(block.w_in.weight.grad.pow(2).sum() + block.w_out.weight.grad.pow(2).sum())
            torch.testing.assert_close(norms[i, layer], expected)


def test_random_pair_dataset_has_distinct_pairs_and_is_seeded():
    a, b, y = random_pair_dataset(40, 7, 5, seed=3)
    assert len(set(zip(a.tolist(), b.tolist(), strict=True))) == 40
    assert int(y.min()) >= 0 and int(y.max()) < 5
    a2, b2, y2 = random_pair_dataset(40, 7, 5, seed=3)
    assert torch.equal(a, a2) and torch.equal(b, b2) and torch.equal(y, y2)


@pytest.fixture
def one_thread():
    # a tiny model trains faster on one thread than with inter-thread synchronisation on every small op
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_training_memorises_a_small_dataset(one_thread):
    torch.manual_seed(0)
    model = ResidualMLP(vocab_size=10, d_model=16, n_layers=2, n_targets=4)
    a, b, y = random_pair_dataset(30, 10, 4, seed=0)
    history = train_residual_mlp(model, a, b, y, n_steps=200, batch_size=30, lr=2e-2, seed=0)
    assert history.loss.iloc[-1] < 0.05 < history.loss.iloc[0]
    assert (logit_lens_loss(model, a, b, y)[-1] < 0.1).float().mean() == 1.0


@pytest.mark.parametrize("kwargs, name", [
    (dict(vocab_size=1, d_model=4, n_layers=2, n_targets=3), "vocab_size"),
    (dict(vocab_size=5, d_model=0, n_layers=2, n_targets=3), "d_model"),
    (dict(vocab_size=5, d_model=4, n_layers=0, n_targets=3), "n_layers"),
])
def test_bad_sizes_are_parameter_errors(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        ResidualMLP(**kwargs)


def test_more_pairs_than_exist_is_a_parameter_error():
    with pytest.raises(ParameterError, match="n_pairs"):
        random_pair_dataset(50, 7, 5, seed=0)
