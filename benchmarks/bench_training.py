"""Time per step of each SAE trainer the notebooks use, as a ratio to the step's five matrix products timed in the
same run (issue 11): ratio = GEMM time / step time, so 1.0 would be a step that costs nothing but its products.

    .venv/bin/python benchmarks/bench_training.py          # every shape (minutes: 768 -> 24576 dominates)
    .venv/bin/python benchmarks/bench_training.py --quick  # skips 768 -> 24576, fewer steps (~1 minute)

The five products of one SAE's step on a batch X [B, d] with n latents are X W_enc, f W_dec, f^T dX_hat,
dX_hat W_dec^T and X^T dpre (2 B d n multiply-adds each, into preallocated buffers); for a step that trains
several SAEs the reference is the same products for every one of them, one batched product per size. The
reference is timed inside the training run itself: every time the trainer asks for its next batch, the five
products run once, timed, before the batch is handed over. A step's time is the interval between handing over a
batch and the next request (the products excluded); both figures are the best over the run's steps after the
first, so the two come from the same seconds of machine time, which keeps the ratio meaningful when other work
shares the machine. Setup, first-touch allocation and producing the batches are not counted.
"""

import argparse
import functools
import itertools
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from sae_lens.saes.sae import TrainingSAE
from sae_lens.saes.standard_sae import StandardTrainingSAE, StandardTrainingSAEConfig
from tqdm import std as tqdm_std

from saelib.runs import TrainerSpec
from saelib.saes.l0_approx import L0ApproxTrainingSAE, L0ApproxTrainingSAEConfig
from saelib.saes.unit_norm import UnitNormTrainingSAE, UnitNormTrainingSAEConfig
from saelib.training.fast import train_fast
from saelib.training.sae_lens_trainer import train_sae
from saelib.training.stacked import StackSpec, train_stacked

LR = 1e-3
CPU = torch.device("cpu")
TARGET = ((128, 8192, 256), "fast, standard", 0.7)  # the acceptance row: shape, trainer, minimum ratio
NOTEBOOK_05_SIZES = (256, 512, 1024, 2048, 4096, 8192)
AUTOGRAD_WITHIN = 1.5  # issue 22: autograd replaces a hand-written backward whose step it matches within 1.5x


@dataclass(frozen=True)
class Shape:
    """d_in -> d_sae at a batch size, and how many steps each trainer runs there (the first one is warm-up)."""

    d_in: int
    d_sae: int
    batch: int
    steps: int

    def label(self) -> str:
        return f"{self.d_in} -> {self.d_sae}, {self.batch}"


def five_products(batch: int, d_in: int, d_sae: int, count: int) -> Callable[[], None]:
    """The five products of one step of `count` SAEs d_in -> d_sae, batched over the SAEs, into fixed buffers."""
    generator = torch.Generator().manual_seed(0)
    x, grad_out = torch.randn(count, batch, d_in, generator=generator), torch.randn(count, batch, d_in)
    W_enc, W_dec = torch.randn(count, d_in, d_sae, generator=generator), torch.randn(count, d_sae, d_in)
    f, grad_pre = torch.rand(count, batch, d_sae, generator=generator), torch.randn(count, batch, d_sae)
    pre, grad_f, out = torch.empty(count, batch, d_sae), torch.empty(count, batch, d_sae), torch.empty_like(x)
    grad_W_dec, grad_W_enc = torch.empty_like(W_dec), torch.empty_like(W_enc)

    def run() -> None:
        torch.bmm(x, W_enc, out=pre)
        torch.bmm(f, W_dec, out=out)
        torch.bmm(f.transpose(1, 2), grad_out, out=grad_W_dec)
        torch.bmm(grad_out, W_dec.transpose(1, 2), out=grad_f)
        torch.bmm(x.transpose(1, 2), grad_pre, out=grad_W_enc)

    return run


def step_products(batch: int, d_in: int, sizes: dict[int, int]) -> Callable[[], None]:
    """The five products for every SAE of a step; `sizes` maps d_sae -> how many of the step's SAEs have it."""
    runs = [five_products(batch, d_in, d_sae, count) for d_sae, count in sizes.items()]

    def run_all() -> None:
        for run in runs:
            run()

    return run_all


@dataclass
class StepClock:
    """Stands between a trainer and its batches: on every request it times the step's five products once, then
    hands the batch over; the gap until the next request is the trainer's own step time."""

    products: Callable[[], None]
    handed_over: list[float] = field(default_factory=list)
    requested: list[float] = field(default_factory=list)
    product_seconds: list[float] = field(default_factory=list)

    def tick(self) -> None:
        """A step asks for its batch: time the products, then note when the batch goes back to the trainer."""
        start = time.perf_counter()
        self.requested.append(start)
        self.products()
        self.handed_over.append(time.perf_counter())
        self.product_seconds.append(self.handed_over[-1] - start)

    def batches(self, pool: list[torch.Tensor]) -> Iterator[torch.Tensor]:
        """An endless cycle over pre-made batches, ticking on each request."""
        for batch in itertools.cycle(pool):
            self.tick()
            yield batch

    def seconds(self) -> tuple[float, float]:
        """(best step time, best time of the products) over the steps after the first."""
        steps = [nxt - done for done, nxt in zip(self.handed_over[1:], self.requested[2:], strict=False)]
        return min(steps), min(self.product_seconds[1:])


def batch_pool(batch: int, d_in: int, n: int = 4) -> list[torch.Tensor]:
    """A few random non-negative batches [batch, d_in] (values do not change dense step times)."""
    generator = torch.Generator().manual_seed(0)
    return [torch.relu(torch.randn(batch, d_in, generator=generator)) + 0.1 for _ in range(n)]


def standard_sae(d_in: int, d_sae: int, seed: int = 0) -> TrainingSAE:
    torch.manual_seed(seed)
    return StandardTrainingSAE(StandardTrainingSAEConfig(d_in=d_in, d_sae=d_sae, l1_coefficient=1.0))


def unit_norm_sae(d_in: int, d_sae: int, seed: int = 0) -> TrainingSAE:
    torch.manual_seed(seed)
    return UnitNormTrainingSAE(UnitNormTrainingSAEConfig(d_in=d_in, d_sae=d_sae, l1_coefficient=0.128))


def l0_approx_sae(d_in: int, d_sae: int, seed: int = 0) -> TrainingSAE:
    torch.manual_seed(seed)
    return L0ApproxTrainingSAE(L0ApproxTrainingSAEConfig(d_in=d_in, d_sae=d_sae, l0_coefficient=1e-3,
                                                         frequency_coefficient=1e-5, min_frequency=1e-3))


def time_autograd(saes: list[TrainingSAE], shape: Shape, clock: StepClock, unit_norm: bool) -> None:
    """Arm (b) of issue 22: the same SAEs stacked into batched tensors, one forward per stack, the loss written
    once (MSE summed over dimensions plus the L1 term, as sae-lens's standard and unit-norm SAEs define them),
    autograd for the gradient and torch's fused Adam."""
    params = [torch.stack([getattr(sae, name).detach() for sae in saes]).requires_grad_()
              for name in ("W_enc", "b_enc", "W_dec", "b_dec")]
    W_enc, b_enc, W_dec, b_dec = params
    l1 = saes[0].cfg.l1_coefficient
    optimizer = torch.optim.Adam(params, lr=LR, fused=True)
    for x in itertools.islice(clock.batches(batch_pool(shape.batch, shape.d_in)), shape.steps):
        f = torch.relu(torch.baddbmm(b_enc[:, None], x - b_dec[:, None], W_enc))
        norms = W_dec.norm(dim=-1)
        decoder = W_dec / norms.clamp(min=1e-8)[..., None] if unit_norm else W_dec
        x_hat = torch.baddbmm(b_dec[:, None], f, decoder)
        sparsity = f.sum(-1) if unit_norm else (f * norms[:, None]).sum(-1)
        loss = ((x_hat - x).pow(2).sum(-1) + l1 * sparsity).mean(-1).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def toy_sae(d_in: int, d_sae: int, seed: int = 0) -> TrainingSAE:
    """A toy SAE as notebook 01 trains one through sae-lens's trainer: the standard SAE, b_dec frozen at 0."""
    sae = standard_sae(d_in, d_sae, seed)
    sae.b_dec.requires_grad_(False)
    return sae


def time_sae_lens(sae: TrainingSAE, shape: Shape, clock: StepClock) -> None:
    """sae-lens's trainer (`saelib.training.sae_lens_trainer.train_sae`) on one SAE."""
    train_sae(sae, clock.batches(batch_pool(shape.batch, shape.d_in)), n_samples=shape.steps * shape.batch,
              batch_size=shape.batch, lr=LR, device="cpu", record_every=shape.steps + 1)


def time_fast(saes: list[TrainingSAE], shape: Shape, clock: StepClock) -> None:
    """The fast trainer on `saes`, all on one batch stream."""
    trainer = TrainerSpec(steps=shape.steps, batch_size=shape.batch, lr=LR, record_every=shape.steps + 1)
    train_fast(saes, clock.batches(batch_pool(shape.batch, shape.d_in)), trainer, CPU)


def time_stacked(n_runs: int, ortho: tuple[str, ...], shape: Shape, clock: StepClock) -> None:
    """`saelib.training.stacked.train_stacked` with n_runs runs, each on its own batch, as notebook 01 runs it."""
    pool = torch.relu(torch.randn(n_runs, shape.batch, shape.d_in, generator=torch.Generator().manual_seed(0)))

    def sample(batch_size: int) -> torch.Tensor:
        if batch_size == shape.batch:  # a training step (the other requests are the dead-latent probe)
            clock.tick()
        return pool.repeat(1, math.ceil(batch_size / shape.batch), 1)[:, :batch_size]

    spec = StackSpec(d_in=shape.d_in, d_sae=shape.d_sae, steps=shape.steps, batch_size=shape.batch, lr=LR)
    weights = {penalty: torch.full((n_runs,), 0.1) for penalty in ortho}
    train_stacked(sample, spec, torch.full((n_runs,), 0.1), torch.Generator().manual_seed(0), weights)


@dataclass(frozen=True)
class Row:
    """One trainer timed at one shape."""

    shape: Shape
    trainer: str
    n_saes: int
    step_s: float
    gemm_s: float

    @property
    def ratio(self) -> float:
        return self.gemm_s / self.step_s

    def line(self) -> str:
        return (f"{self.shape.label():>20} {self.trainer:<42} {self.n_saes:>4} {1e3 * self.step_s:>9.3f} "
                f"{1e3 * self.step_s / self.n_saes:>11.4f} {1e3 * self.gemm_s:>9.3f} {self.ratio:>6.2f}")


HEADER = (f"{'d_in -> d_sae, batch':>20} {'trainer':<42} {'SAEs':>4} {'ms/step':>9} {'ms/SAE-step':>11} "
          f"{'GEMM ms':>9} {'ratio':>6}")


def timed(shape: Shape, trainer: str, sizes: dict[int, int],
          train: Callable[[Shape, StepClock], None]) -> Row:
    """Run `train` at `shape` with a clock that times the step's products (`sizes`: d_sae -> SAEs) in the run."""
    clock = StepClock(step_products(shape.batch, shape.d_in, sizes))
    train(shape, clock)
    step_s, gemm_s = clock.seconds()
    return Row(shape, trainer, sum(sizes.values()), step_s, gemm_s)


def toy_rows(quick: bool) -> Iterator[Row]:
    """Notebook 01's toys: 192 runs of 3 -> 3 (stacked, with both decoder-cosine penalties) and 21 of 20 -> 3."""
    for d_in, n_runs, batch, ortho in ((3, 192, 256, ("abs", "log_barrier")), (20, 21, 512, ())):
        shape = Shape(d_in, 3, batch, 40 if quick else 200)
        yield timed(shape, "sae-lens trainer, one toy SAE", {3: 1},
                    lambda s, c: time_sae_lens(toy_sae(s.d_in, 3), s, c))
        yield timed(shape, "stacked (train_stacked)", {3: n_runs},
                    lambda s, c, n=n_runs, o=ortho: time_stacked(n, o, s, c))
        yield timed(shape, "fast, all runs on one batch", {3: n_runs},
                    lambda s, c, n=n_runs: time_fast([toy_sae(s.d_in, 3, seed) for seed in range(n)], s, c))
        yield timed(shape, "autograd, all runs on one batch", {3: n_runs}, lambda s, c, n=n_runs: time_autograd(
            [standard_sae(s.d_in, 3, seed) for seed in range(n)], s, c, unit_norm=False))


def steps_for(d_in: int, d_sae: int, batch: int, quick: bool) -> int:
    """About two seconds (a quarter in quick mode) of products at ~100 GFLOP/s, between 4 and 150 steps: the
    more steps, the likelier some of them ran undisturbed on a shared machine."""
    seconds = 10 * batch * d_in * d_sae / 1e11
    return max(4, min(150, math.ceil((0.25 if quick else 2.0) / seconds)))


def single_sae_rows(shape: Shape, unit_norm: bool = True) -> Iterator[Row]:
    """sae-lens's trainer and the fast trainer on one standard SAE, and the fast trainer on one unit-norm SAE."""
    d_in, d_sae = shape.d_in, shape.d_sae
    yield timed(shape, "sae-lens trainer, standard", {d_sae: 1},
                lambda s, c: time_sae_lens(standard_sae(d_in, d_sae), s, c))
    yield timed(shape, "fast, standard", {d_sae: 1}, lambda s, c: time_fast([standard_sae(d_in, d_sae)], s, c))
    yield timed(shape, "autograd, standard", {d_sae: 1},
                lambda s, c: time_autograd([standard_sae(d_in, d_sae)], s, c, unit_norm=False))
    if unit_norm:
        yield timed(shape, "fast, unit_norm", {d_sae: 1},
                    lambda s, c: time_fast([unit_norm_sae(d_in, d_sae)], s, c))
        yield timed(shape, "autograd, unit_norm", {d_sae: 1},
                    lambda s, c: time_autograd([unit_norm_sae(d_in, d_sae)], s, c, unit_norm=True))


NOTEBOOK_04_GROUP = [standard_sae] * 5 + [l0_approx_sae] * 5


def notebook_rows(quick: bool) -> Iterator[Row]:
    """Notebook 04's 32 -> 1024 (its ~10 runs per step: 5 L1, 5 l0_approx), notebook 05's 128 -> 256 ... 8192
    (all sizes in one step), and the paper's 768 -> 24576."""
    for batch in (4096, 256):
        shape = Shape(32, 1024, batch, steps_for(32, 1024, batch, quick))
        yield from single_sae_rows(shape)
        yield timed(shape, "fast, 5 standard + 5 l0_approx", {1024: 10}, lambda s, c: time_fast(
            [make(s.d_in, s.d_sae, seed) for seed, make in enumerate(NOTEBOOK_04_GROUP)], s, c))
    for d_sae in NOTEBOOK_05_SIZES:
        yield from single_sae_rows(Shape(128, d_sae, 256, steps_for(128, d_sae, 256, quick)))
    total = sum(NOTEBOOK_05_SIZES)
    yield timed(Shape(128, total, 256, steps_for(128, total, 256, quick)), "fast, unit_norm 256 ... 8192 in one step",
                dict.fromkeys(NOTEBOOK_05_SIZES, 1), lambda s, c: time_fast(
                    [unit_norm_sae(128, d_sae, seed) for seed, d_sae in enumerate(NOTEBOOK_05_SIZES)], s, c))
    if not quick:
        yield from single_sae_rows(Shape(768, 24576, 4096, 4), unit_norm=False)


def print_hand_vs_autograd(rows: list[Row]) -> None:
    """Issue 22's table: per shape, the hand-written backward (a) against autograd over the same stacked tensors
    (b), each step time taken relative to the products timed beside it (so a busy machine slows both sides of a
    ratio alike); (b) / (a) <= AUTOGRAD_WITHIN means the hand derivation no longer pays for itself there."""
    print(f"\n{'d_in -> d_sae, batch':>20} {'SAEs':>4} {'arm':<28} {'(a) ratio':>9} {'(b) ratio':>9} {'(b)/(a)':>7}")
    autograd = {(r.shape, r.n_saes, r.trainer.removeprefix("autograd, ")): r for r in rows
                if r.trainer.startswith("autograd")}
    for row in rows:
        match = autograd.get((row.shape, row.n_saes, row.trainer.removeprefix("fast, ")))
        if row.trainer.startswith("fast") and match:
            slower = row.ratio / match.ratio  # (b)'s step time over (a)'s, each in units of its own products
            keep = "keep (a)" if slower > AUTOGRAD_WITHIN else "use (b)"
            print(f"{row.shape.label():>20} {row.n_saes:>4} {row.trainer.removeprefix('fast, '):<28} "
                  f"{row.ratio:9.2f} {match.ratio:9.2f} {slower:7.2f}  {keep}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip 768 -> 24576, fewer steps")
    args = parser.parse_args()
    # the trainers' progress bars would break the table's rows (tqdm reads TQDM_DISABLE only when imported)
    tqdm_std.tqdm.__init__ = functools.partialmethod(tqdm_std.tqdm.__init__, disable=True)
    print(f"torch threads: {torch.get_num_threads()}")
    print(HEADER)
    rows = []
    for row in itertools.chain(toy_rows(args.quick), notebook_rows(args.quick)):
        print(row.line(), flush=True)
        rows.append(row)
    print_hand_vs_autograd(rows)
    (d_in, d_sae, batch), trainer, minimum = TARGET
    target = next(r for r in rows if (r.shape.d_in, r.shape.d_sae, r.shape.batch) == (d_in, d_sae, batch)
                  and r.trainer == trainer)
    verdict = "meets" if target.ratio >= minimum else "MISSES"
    print(f"{trainer} at {target.shape.label()}: ratio {target.ratio:.2f}, {verdict} the issue's {minimum} target")


if __name__ == "__main__":
    main()
