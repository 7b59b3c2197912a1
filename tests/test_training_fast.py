"""The fast trainer: each SAE's loss terms and gradients equal autograd on its own `training_forward_pass`, a few
steps equal sae-lens's forward pass + backward + torch Adam, runs in a group are independent, training is
deterministic, trained SAEs save in sae-lens's format, and unsupported architectures are refused by name."""

import copy

import pytest
import torch
from sae_lens.saes.jumprelu_sae import JumpReLUTrainingSAE, JumpReLUTrainingSAEConfig
from sae_lens.saes.sae import TrainingSAE, TrainStepInput, TrainStepOutput
from sae_lens.saes.standard_sae import StandardTrainingSAE, StandardTrainingSAEConfig
from typing_extensions import override

import saelib.runs as runs_mod
from saelib.runs import ActivationSpec, SAERunSpec, TrainerSpec, load_or_train, load_or_train_many
from saelib.saes.l0_approx import L0ApproxTrainingSAE, L0ApproxTrainingSAEConfig
from saelib.saes.orthogonal import OrthogonalTrainingSAE, OrthogonalTrainingSAEConfig
from saelib.saes.unit_norm import UnitNormTrainingSAE, UnitNormTrainingSAEConfig
from saelib.training.fast import SAEStack, coefficient_values, stack_saes, train_fast
from saelib.training.sae_lens_trainer import step_metrics, train_sae
from tests.helpers import round_trip

D_IN, BATCH = 8, 64
CPU = torch.device("cpu")


class FrozenDecoderBiasUnitNormSAE(UnitNormTrainingSAE):
    """Post 004's recipe in miniature: unit-norm decoder, b_dec frozen at zero, its own initialisation."""

    @override
    def initialize_weights(self) -> None:
        super().initialize_weights()
        self.W_enc.data.normal_(0.0, 0.2)
        self.b_dec.requires_grad_(False)


def l0_config(d_sae: int, **overrides) -> L0ApproxTrainingSAEConfig:
    # s_min high enough that the frequency floor binds for some latents; a window of 2 wraps within 3 steps
    settings = dict(d_in=D_IN, d_sae=d_sae, l0_coefficient=0.3, epsilon=0.2, frequency_coefficient=0.05,
                    min_frequency=0.4, frequency_window=2)
    return L0ApproxTrainingSAEConfig(**(settings | overrides))


SAE_FACTORIES = {
    "standard": lambda n: StandardTrainingSAE(StandardTrainingSAEConfig(d_in=D_IN, d_sae=n, l1_coefficient=0.7)),
    "standard_uncentred": lambda n: StandardTrainingSAE(StandardTrainingSAEConfig(
        d_in=D_IN, d_sae=n, l1_coefficient=0.7, apply_b_dec_to_input=False)),
    "unit_norm": lambda n: UnitNormTrainingSAE(UnitNormTrainingSAEConfig(d_in=D_IN, d_sae=n, l1_coefficient=0.5)),
    "unit_norm_frozen_b_dec": lambda n: FrozenDecoderBiasUnitNormSAE(UnitNormTrainingSAEConfig(
        d_in=D_IN, d_sae=n, l1_coefficient=0.5, apply_b_dec_to_input=False)),
    "unit_norm_post_004": lambda n: UnitNormTrainingSAE(UnitNormTrainingSAEConfig(
        d_in=D_IN, d_sae=n, l1_coefficient=0.5, init="sparse_coding", decoder_bias=False, apply_b_dec_to_input=False)),
    "l0_approx": lambda n: L0ApproxTrainingSAE(l0_config(n)),
    "l0_approx_no_frequency": lambda n: L0ApproxTrainingSAE(l0_config(n, frequency_coefficient=0.0)),
    "l0_approx_l1_arm": lambda n: L0ApproxTrainingSAE(l0_config(n, sparsity_penalty="l1", l1_coefficient=0.4)),
}


def make_sae(kind: str, d_sae: int = 12, seed: int = 0, perturb: bool = True) -> TrainingSAE:
    """An SAE of `kind`, initialised by its own class; `perturb` adds noise to every trainable parameter so that
    biases and centring matter from the first step."""
    torch.manual_seed(seed)
    sae = SAE_FACTORIES[kind](d_sae)
    if perturb:
        generator = torch.Generator().manual_seed(seed + 100)
        with torch.no_grad():
            for parameter in sae.parameters():
                if parameter.requires_grad:
                    parameter.add_(0.2 * torch.randn(parameter.shape, generator=generator))
    return sae.train()


def batch(seed: int, rows: int = BATCH) -> torch.Tensor:
    """Inputs with a non-zero mean (so that centring on b_dec changes the result)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.relu(torch.randn(rows, D_IN, generator=generator)) + 0.3


def reference_step(sae: TrainingSAE, x: torch.Tensor) -> TrainStepOutput:
    """sae-lens's forward pass on `sae` with autograd's gradients left in its parameters' .grad."""
    sae.zero_grad()
    output = sae.training_forward_pass(TrainStepInput(sae_in=x, coefficients=coefficient_values(sae),
                                                      dead_neuron_mask=None, n_training_steps=0,
                                                      is_logging_step=False))
    output.loss.backward()
    return output


def assert_same_sae_state(actual: TrainingSAE, expected: TrainingSAE, **tolerance) -> None:
    """Equal parameters and buffers (l0_approx's frequency history)."""
    for name, value in expected.state_dict().items():
        torch.testing.assert_close(actual.state_dict()[name], value, **tolerance, msg=name)


@pytest.mark.parametrize("kind", SAE_FACTORIES)
def test_each_step_matches_autograd_on_training_forward_pass(kind):
    fast, reference = make_sae(kind), make_sae(kind)
    for step in range(3):  # the running frequency average fills its window of 2 and wraps
        x = batch(step)
        expected = reference_step(reference, x)
        stack = SAEStack([fast], CPU)
        metrics = stack.forward_backward(x, record=True)[0]
        assert metrics == pytest.approx(step_metrics(expected), rel=1e-5, abs=1e-6)
        gradients = stack.gradients(0)
        trainable = {name for name, p in reference.named_parameters() if p.requires_grad}
        assert set(gradients) == trainable
        for name in trainable:
            torch.testing.assert_close(gradients[name], getattr(reference, name).grad, msg=name)
        stack.write_back()
        assert_same_sae_state(fast, reference)
    if kind.startswith("l0_approx") and kind != "l0_approx_no_frequency":
        assert metrics["frequency_loss"] > 0  # the frequency term was active


def test_a_group_mixing_architectures_and_sizes_gives_each_sae_its_own_gradient():
    kinds = [("standard", 12), ("standard", 12), ("unit_norm", 20), ("l0_approx", 12), ("unit_norm", 20),
             ("unit_norm_frozen_b_dec", 7)]
    saes = [make_sae(kind, d_sae, seed=i) for i, (kind, d_sae) in enumerate(kinds)]
    saes[1].cfg.l1_coefficient = 2.0  # same stack as saes[0], another coefficient
    references = copy.deepcopy(saes)
    stacks, indices = stack_saes(saes, CPU)
    assert sorted(len(members) for members in indices) == [1, 1, 2, 2]
    x = batch(7)
    for stack, members in zip(stacks, indices, strict=True):
        metrics = stack.forward_backward(x, record=True)
        for position, index in enumerate(members):
            expected = reference_step(references[index], x)
            assert metrics[position]["loss"] == pytest.approx(expected.loss.item(), rel=1e-5)
            for name, gradient in stack.gradients(position).items():
                torch.testing.assert_close(gradient, getattr(references[index], name).grad, msg=name)


def reference_training(saes: list[TrainingSAE], batches: list[torch.Tensor], lr: float,
                       clip: float | None) -> None:
    """sae-lens's forward pass + backward + torch.optim.Adam (+ torch's clip_grad_norm_), one SAE at a time."""
    for sae in saes:
        parameters = [p for p in sae.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(parameters, lr=lr)
        for x in batches:
            reference_step(sae, x)
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(parameters, clip)
            optimizer.step()


def mixed_group(seed: int = 0) -> list[TrainingSAE]:
    return [make_sae("standard", 12, seed), make_sae("unit_norm", 20, seed + 1),
            make_sae("l0_approx", 12, seed + 2), make_sae("unit_norm_frozen_b_dec", 12, seed + 3)]


def trainer(steps: int = 5, clip: float | None = None, record_every: int = 2, lr: float = 3e-3) -> TrainerSpec:
    return TrainerSpec(steps=steps, batch_size=BATCH, lr=lr, clip_grad_norm=clip, record_every=record_every)


@pytest.mark.parametrize("clip", [None, 0.05])
def test_training_matches_sae_lens_forward_backward_and_torch_adam(clip):
    saes, references = mixed_group(), mixed_group()
    batches = [batch(step) for step in range(5)]
    if clip is not None:  # the clip binds on every SAE, each at its own norm
        for sae in copy.deepcopy(saes):
            reference_step(sae, batches[0])
            assert torch.nn.utils.clip_grad_norm_([p for p in sae.parameters() if p.requires_grad], clip) > clip
    train_fast(saes, iter(batches), trainer(clip=clip), CPU)
    reference_training(references, batches, lr=3e-3, clip=clip)
    for sae, reference in zip(saes, references, strict=True):
        assert_same_sae_state(sae, reference, rtol=1e-4, atol=1e-5)


def trained_weights(saes: list[TrainingSAE], steps: int = 6) -> list[dict[str, torch.Tensor]]:
    train_fast(saes, (batch(step) for step in range(steps)), trainer(steps=steps), CPU)
    return [{name: value.clone() for name, value in sae.state_dict().items()} for sae in saes]


def test_runs_in_one_group_are_independent():
    alone = trained_weights([make_sae("standard", 12)])[0]
    beside_another_size = trained_weights([make_sae("standard", 12), make_sae("l0_approx", 16, seed=5)])[0]
    neighbour = make_sae("standard", 12, seed=9)
    neighbour.cfg.l1_coefficient = 3.0
    in_one_stack = trained_weights([neighbour, make_sae("standard", 12)])[1]
    # equal up to float rounding: whether a batched product rounds each matrix exactly as a single product is the
    # BLAS library's choice (it does on this machine, not necessarily on every CPU); coupled runs would differ by far
    # more than this tolerance
    for name, value in alone.items():
        torch.testing.assert_close(beside_another_size[name], value, rtol=1e-5, atol=1e-7, msg=name)
        torch.testing.assert_close(in_one_stack[name], value, rtol=1e-5, atol=1e-7, msg=name)


def test_training_is_deterministic_bit_for_bit():
    first, second = trained_weights(mixed_group()), trained_weights(mixed_group())
    for weights, again in zip(first, second, strict=True):
        for name, value in weights.items():
            assert torch.equal(again[name], value), name


def test_history_has_sae_lens_trainers_columns_every_record_every_steps():
    sae = make_sae("standard", perturb=False)
    history = train_fast([sae], (batch(step) for step in range(8)), trainer(steps=8, record_every=4), CPU)[0]
    sae_lens_history = train_sae(make_sae("standard", perturb=False), (batch(step) for step in range(8)),
                                 n_samples=8 * BATCH, batch_size=BATCH, lr=3e-3, device="cpu",
                                 record_every=4).history
    assert list(history.columns) == list(sae_lens_history.columns)
    assert history["step"].tolist() == [4, 8] and history["samples"].tolist() == [4 * BATCH, 8 * BATCH]
    l0_history = train_fast([make_sae("l0_approx")], (batch(s) for s in range(4)), trainer(steps=4), CPU)[0]
    assert list(l0_history.columns) == ["step", "samples", "loss", "l0", "mse", "explained_variance", "mse_loss",
                                        "l0_approx_loss", "frequency_loss"]


@pytest.mark.parametrize("kind", ["standard", "unit_norm", "l0_approx"])
def test_trained_sae_saves_in_sae_lens_format_and_loads_to_the_same_encodings(kind, tmp_path):
    sae = make_sae(kind)
    train_fast([sae], (batch(step) for step in range(4)), trainer(steps=4), CPU)
    loaded = round_trip(sae, tmp_path / kind)
    assert type(loaded) is type(sae)
    x = batch(99)
    torch.testing.assert_close(loaded.encode(x), sae.encode(x), rtol=0, atol=0)


class RescaledL1SAE(StandardTrainingSAE):
    """A subclass that changes the loss: the fast trainer must not mistake it for the standard SAE."""

    @override
    def calculate_aux_loss(self, step_input, feature_acts, hidden_pre, sae_out):
        return {"l1_loss": 2 * feature_acts.sum(-1).mean()}


@pytest.mark.parametrize("sae, name", [
    (JumpReLUTrainingSAE(JumpReLUTrainingSAEConfig(d_in=D_IN, d_sae=12)), "jumprelu"),
    (OrthogonalTrainingSAE(OrthogonalTrainingSAEConfig(d_in=D_IN, d_sae=12)), "orthogonal"),
    (RescaledL1SAE(StandardTrainingSAEConfig(d_in=D_IN, d_sae=12)), "standard"),
    (StandardTrainingSAE(StandardTrainingSAEConfig(d_in=D_IN, d_sae=12, l1_warm_up_steps=10)), "standard"),
])
def test_unsupported_architectures_raise_naming_them(sae, name):
    with pytest.raises(ValueError, match=f"architecture '{name}'"):
        train_fast([sae], iter([batch(0)]), trainer(steps=1), CPU)


HOOK = "blocks.1.hook_resid_pre"



def fast_spec(d_sae: int = 64, config=StandardTrainingSAEConfig) -> SAERunSpec:
    return SAERunSpec(sae=config(d_in=32, d_sae=d_sae, l1_coefficient=1.0),
                      data=ActivationSpec(HOOK, n_train_tokens=1024, n_eval_tokens=256),
                      trainer=TrainerSpec(steps=8, batch_size=64, lr=1e-3, trainer="fast", record_every=4))


def test_load_or_train_with_the_fast_trainer_trains_caches_and_groups(tiny_target, tmp_path, monkeypatch):
    run = load_or_train(fast_spec(), device="cpu")
    assert run.history["step"].tolist() == [4, 8]
    assert (run.folder / "sae_weights.safetensors").is_file()
    train_group = runs_mod.train_group
    monkeypatch.setattr(runs_mod, "train_group", lambda *a, **k: pytest.fail("a cached run must not train again"))
    cached = load_or_train(fast_spec(), device="cpu")
    assert torch.equal(cached.sae.W_enc, run.sae.W_enc)
    monkeypatch.setattr(runs_mod, "train_group", train_group)
    monkeypatch.setenv("SAELIB_DATA", str(tmp_path / "grouped"))  # a fresh cache: the run trains again
    together = load_or_train_many([fast_spec(), fast_spec(32, UnitNormTrainingSAEConfig)], device="cpu")
    assert torch.equal(together[0].sae.W_enc, run.sae.W_enc)  # trained beside another SAE, same weights
    torch.testing.assert_close(together[1].sae.W_dec.norm(dim=1), torch.ones(32))
