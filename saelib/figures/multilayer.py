"""The figures of notebook 03 (multilayer features): each draws what the notebook computed and returns it, laid
out and saved by the caller (`saelib.figures.common.save_and_show`)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from saelib.multilayer import (
    POST,
    StackRun,
    best_layer_share,
    learned_by_layer,
    learned_sizes,
    main_run_index,
    mean_lens_curves,
)


def _shape_label(arch: str, d_model: int, n_layers: int) -> str:
    """Legend label of one (architecture, width, depth)."""
    return f"{'post' if arch == POST.name else 'robustness arm'}, d = {d_model}, L = {n_layers}"


def plot_capacity(runs: pd.DataFrame, stop_fraction: float, loss_threshold: float, max_steps: int) -> plt.Figure:
    """Per run: the share learned at the output when training stopped, and the epochs it trained, against size."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for i, ((arch, d, depth), group) in enumerate(runs.groupby(["arch", "d_model", "n_layers"], sort=False)):
        style = dict(color=f"C{i}", marker="o" if arch == POST.name else "s", alpha=0.7)
        axes[0].scatter(group["size"], group.output_learned, label=_shape_label(arch, d, depth), **style)
        axes[1].scatter(group["size"], group.epochs, **style)
    axes[0].axhline(stop_fraction, color="grey", ls="--", lw=1)
    axes[0].set(xscale="log", xlabel="unique pairs in the dataset", ylabel=f"share with output loss < {loss_threshold}",
                title="learned at the output when training stopped (one point per seed)")
    axes[0].legend(fontsize="small")
    axes[1].set(xscale="log", yscale="log", xlabel="unique pairs in the dataset", ylabel="epochs trained",
                title=f"epochs to the stopping rule (cap: {max_steps} steps)")
    return fig


def plot_loss_curves(stacks: list[StackRun], fraction: float) -> plt.Figure:
    """Every network's mean output loss over its training, one panel per (architecture, width, depth), each curve
    ending where its run stopped, with the last `fraction` of the longest run shaded (the convergence measure fits
    each run's own last stretch)."""
    fig, axes = plt.subplots(1, len(stacks), figsize=(4.2 * len(stacks), 3.6), squeeze=False)
    for ax, stack in zip(axes[0], stacks, strict=True):
        for run, (size, _) in enumerate(stack.runs):
            steps, losses = zip(*stack.result.curves[run], strict=True)
            ax.plot(steps, losses, color=f"C{sorted({s for s, _ in stack.runs}).index(size)}", alpha=0.6, lw=1)
        last = max(step for curve in stack.result.curves for step, _ in curve)
        ax.axvspan((1 - fraction) * last, last, color="0.9", zorder=0)
        ax.set(yscale="log", xlabel="Adam step", ylabel="mean output loss (nats, its dataset)",
               title=_shape_label(stack.arch.name, stack.d_model, stack.n_layers))
    return fig


def plot_loss_by_layer(stacks: list[StackRun], cells: pd.DataFrame) -> plt.Figure:
    """One panel per stack: the seed-mean lens loss by layer for every size (dotted: not learned), and chance."""
    fig, axes = plt.subplots(1, len(stacks), figsize=(4.6 * len(stacks), 4.2), squeeze=False)
    for ax, stack in zip(axes[0], stacks, strict=True):
        learned = learned_sizes(cells, stack)
        for i, (size, curve) in enumerate(mean_lens_curves(stack).items()):
            ok = size in learned
            ax.plot(np.arange(stack.n_layers + 1), curve, "o-" if ok else ":", ms=3, color=f"C{i}",
                    label=f"{size} pairs" + ("" if ok else " (not learned)"))
        ax.axhline(np.log(stack.d_model), color="grey", lw=1, ls="--")
        ax.set(xlabel="layer (0 = embedding, L = output)", ylabel="mean cross-entropy (nats; dashed: chance, ln d)",
               title=f"{stack.arch.name}\nd = {stack.d_model}, L = {stack.n_layers}")
        ax.legend(fontsize="x-small")
    return fig


def plot_datapoint_curves(main: StackRun, contrast: StackRun, cells: pd.DataFrame, sizes: list[int],
                          n_examples: int, threshold: float, rng: np.random.Generator) -> plt.Figure:
    """Left: `n_examples` random datapoints' lens loss in `main`'s main run; middle: the share learned by layer
    per size in both stacks (solid: main, dashed: contrast); right: histograms of the best-layer share."""
    run_index = main_run_index(main, cells)
    losses = main.losses[run_index]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for i in rng.choice(losses.shape[1], size=n_examples, replace=False):
        axes[0].plot(np.arange(main.n_layers + 1), losses[:, i], "o-", ms=3, alpha=0.8)
    axes[0].axhline(threshold, color="grey", ls="--", lw=1)
    axes[0].set(yscale="log", xlabel="layer (0 = embedding, L = output)", ylabel="cross-entropy (nats)",
                title=f"post's network: {n_examples} datapoints ({main.runs[run_index][0]} pairs)")
    for stack, style in ((main, "o-"), (contrast, "s--")):
        for i, size in enumerate(sizes):
            axes[1].plot(np.arange(stack.n_layers + 1) / stack.n_layers, learned_by_layer(stack, size, threshold),
                         style, ms=3, color=f"C{i}", label=f"{size} pairs" if stack is main else None)
    axes[1].set(xlabel="layer / L", ylabel=f"share with lens loss < {threshold}",
                title="learned by layer (solid: post, dashed: robustness arm)")
    axes[1].legend(fontsize="small")
    for stack, color in ((main, "C0"), (contrast, "C3")):
        shares = best_layer_share(stack.losses[main_run_index(stack, cells)])
        axes[2].hist(np.clip(shares[np.isfinite(shares)], 0, 1.5), bins=np.linspace(0, 1.5, 31), alpha=0.6,
                     color=color, label=stack.arch.name)
    axes[2].axvline(0.5, color="grey", ls="--", lw=1)
    axes[2].set(xlabel="best one-layer gain in p(correct) / total gain (clipped at 1.5)", ylabel="datapoints",
                title="how decisive is the best layer?")
    axes[2].legend(fontsize="small")
    return fig


def plot_grad_norms(main: StackRun, contrast: StackRun, cells: pd.DataFrame, peak_factor: float) -> plt.Figure:
    """Left: each datapoint's gradient norms over its median layer in `main`'s main run; right: both stacks' mean
    profiles with 10–90% bands and the peak threshold."""
    norms = main.norms[main_run_index(main, cells)]
    relative = norms / np.median(norms, axis=1, keepdims=True)
    order = np.lexsort((relative.max(axis=1), relative.argmax(axis=1)))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1.2, 1]})
    im = axes[0].imshow(relative[order], aspect="auto", cmap="magma", interpolation="nearest",
                        extent=(0.5, main.n_layers + 0.5, len(order), 0))
    fig.colorbar(im, ax=axes[0], label="gradient norm / datapoint's median layer")
    axes[0].grid(False)
    axes[0].set(xlabel="layer l", ylabel="datapoint (sorted by its largest layer)",
                title=f"post's network: ‖∂ logit_correct / ∂ W_l‖ (d = {main.d_model}, L = {main.n_layers})")
    for stack, color in ((main, "C0"), (contrast, "C3")):
        norms = stack.norms[main_run_index(stack, cells)]
        rel = norms / np.median(norms, axis=1, keepdims=True)
        layers = np.arange(1, stack.n_layers + 1)
        axes[1].fill_between(layers, *np.percentile(rel, [10, 90], axis=0), alpha=0.2, color=color)
        axes[1].plot(layers, rel.mean(axis=0), "o-", color=color, label=f"{stack.arch.name}: mean (band: 10–90%)")
    axes[1].axhline(peak_factor, color="grey", ls="--", lw=1, label=f"peak threshold ({peak_factor:g}× median)")
    axes[1].set(xlabel="layer l", ylabel="gradient norm / datapoint's median layer", title="mean profiles")
    axes[1].legend(fontsize="small")
    return fig


def plot_size_trend(runs: pd.DataFrame, cells: pd.DataFrame, threshold: float) -> plt.Figure:
    """Per run, the share learned over the intermediate layers against dataset size (filled: learned sizes, open:
    beyond the capacity limit), with the seed median of the learned sizes."""
    ok = cells.set_index(["arch", "d_model", "n_layers", "size"]).learned
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, ((arch, d, depth), group) in enumerate(runs.groupby(["arch", "d_model", "n_layers"], sort=False)):
        learned = group["size"].map(lambda size, key=(arch, d, depth): ok[(*key, size)])
        marker = "o" if arch == POST.name else "s"
        ax.scatter(group["size"][learned], group.intermediate_learned[learned], color=f"C{i}", marker=marker,
                   label=_shape_label(arch, d, depth))
        ax.scatter(group["size"][~learned], group.intermediate_learned[~learned], facecolors="none",
                   edgecolors=f"C{i}", marker=marker)
        medians = group[learned].groupby("size").intermediate_learned.median()
        ax.plot(medians.index, medians.values, color=f"C{i}", lw=1)
    ax.set(xscale="log", xlabel="unique pairs in the dataset",
           ylabel=f"share below {threshold}, mean over layers 1..L−1", title="learned by the intermediate layers")
    ax.legend(fontsize="small")
    return fig
