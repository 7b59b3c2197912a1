"""The figures of notebook 05 (MCS against random dictionaries): each function draws one figure from values the
notebook computed and returns it, laid out and saved by the caller (`saelib.figures.common.save_and_show`).

Two recipes appear in most figures: the post's (solid, blue) and sae-lens's contrast arm (dotted or dashed, red).
"""

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from saelib.metrics.mcs import emd_matrix, fixed_bandwidth_kde, random_mcs_cdf, random_mcs_pdf

GRID = np.linspace(-1, 1, 1001)  # MCS values at which densities are drawn
ARM_COLORS = ("C0", "C3")  # the post recipe, the contrast arm
CAUSE_COLORS = ("C7", "C1", "C4", "C2", "C0")  # saelib.metrics.mcs.LOW_MCS_CAUSES, then HIGH_MCS


def plot_training_curves(histories: Mapping[tuple[str, int], pd.DataFrame], sizes: Sequence[int], main: str,
                         d_in: int) -> plt.Figure:
    """L0 and per-dimension MSE against step for every (recipe, size) history: `main` solid, the other dotted."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.3), sharex=True)
    for (arm, size), history in histories.items():
        style = dict(color=f"C{list(sizes).index(size)}", linestyle="-" if arm == main else ":",
                     label=f"{size}" if arm == main else None)
        axes[0].plot(history["step"], history["l0"], **style)
        axes[1].plot(history["step"], history["mse"] / d_in, **style)
    axes[0].set_ylabel("L0 (active latents per token)")
    axes[1].set_ylabel("reconstruction MSE per dimension\n(the post's MSELoss scale)")
    for ax in axes:
        ax.set_xlabel("training step (batches of 256 activations)")
        ax.set_yscale("log")
    axes[1].plot([], [], color="grey", linestyle=":", label="sae-lens recipe, contrast")
    axes[1].legend(title="post recipe, dictionary size", fontsize="small", ncols=2)
    fig.suptitle("Training curves on training batches: post recipe (solid), sae-lens recipe (dotted)")
    return fig


def plot_focus_histogram(post: np.ndarray, hungarian: np.ndarray, contrast: np.ndarray, random: np.ndarray,
                         modes: Sequence[float], d: int, sizes: tuple[int, int], cutoff: float,
                         bandwidth: float) -> plt.Figure:
    """The focus dictionary's MCS histogram (post recipe), its one-to-one matching, the contrast arm, one random
    baseline, the footnote law and the post recipe's KDE with its modes; `sizes` = (focus, reference)."""
    focus, reference = sizes
    fig, ax = plt.subplots(figsize=(9, 4.8))
    bins = np.linspace(-0.1, 1.0, 111)
    ax.hist(post, bins=bins, density=True, alpha=0.55, color="C0",
            label=f"post recipe: {focus} vs {reference} (max cosine)")
    step = dict(bins=bins, density=True, histtype="step")
    ax.hist(hungarian, **step, color="C2", linewidth=1.3, label="post recipe, one-to-one (Hungarian) matching")
    ax.hist(contrast, **step, color="C3", linewidth=1.5, linestyle="--",
            label=f"sae-lens recipe, contrast: {focus} vs {reference}")
    ax.hist(random, **step, color="C1", linewidth=1.2, label=f"N(0,1) random: {focus} vs {reference}")
    ax.plot(GRID, random_mcs_pdf(GRID, d, reference), color="k", linewidth=1.3,
            label=f"footnote law, K={d}, M={reference}")
    ax.plot(GRID, fixed_bandwidth_kde(post, GRID, bandwidth), color="C0", linestyle="--", linewidth=1,
            label=f"KDE of the post recipe (bandwidth {bandwidth})")
    for mode in modes:
        ax.axvline(mode, color="C0", linestyle=":", linewidth=1)
    ax.axvline(cutoff, color="grey", linestyle="--", linewidth=1)
    ax.set_xlim(bins[0], bins[-1])
    ax.set_xlabel(f"maximum cosine similarity against the {reference}-feature dictionary of the same recipe")
    ax.set_ylabel("density (per unit MCS)")
    ax.set_title(f"MCS of each of the {focus} learned features (post recipe: {(post < cutoff).mean():.0%} "
                 f"below {cutoff}; contrast: {(contrast < cutoff).mean():.0%})")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def plot_emd_and_null(low_samples: Mapping[str, np.ndarray], emd_stats: Mapping[str, pd.DataFrame], title: str
                      ) -> plt.Figure:
    """Left: the pairwise EMDs of the named low-MCS samples (×1000). Right: per size, each recipe's learned-vs-
    random EMD ratio (`emd_stats[arm]`: rows sizes, columns n_low, ratio, null median, null) with the 5–95 % range
    of its n-matched null; the first recipe is the post's, the second the contrast arm."""
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.6), gridspec_kw={"width_ratios": [1, 1.15]})
    labels = list(low_samples)
    sns.heatmap(pd.DataFrame(emd_matrix(low_samples) * 1000, index=labels, columns=labels), annot=True,
                fmt=".1f", cmap="viridis", ax=axes[0], square=True, cbar_kws={"label": "EMD × 1000 (MCS units)"})
    axes[0].set_title(title)
    axes[0].set_xlabel("MCS sample")
    axes[0].set_ylabel("MCS sample")
    (post, post_stats), (contrast, contrast_stats) = emd_stats.items()
    sizes = list(post_stats.index)
    for index, size in enumerate(sizes):
        for arm, marker, color, offset in ((post, "o", "C0", -0.12), (contrast, "s", "C3", 0.12)):
            row = emd_stats[arm].loc[size]
            spread = np.quantile(row["null"], [0.05, 0.5, 0.95]) / row["null median"]
            axes[1].plot([index + offset] * 2, spread[[0, 2]], color="grey", linewidth=3, alpha=0.5)
            axes[1].scatter(index + offset, row["ratio"], marker=marker, color=color,
                            label=(arm if index == 0 else None), zorder=3)
    axes[1].axhline(2, color="k", linestyle="--", linewidth=1, label="the post's 2x")
    axes[1].set_yscale("log")
    axes[1].set_xticks(range(len(sizes)), [f"{s}\n(n = {post_stats.loc[s, 'n_low']:.0f} / "
                                           f"{contrast_stats.loc[s, 'n_low']:.0f})" for s in sizes])
    axes[1].set_xlabel("dictionary size (learned features below the cutoff: post / contrast)")
    axes[1].set_ylabel("mean EMD(learned, random) / null median\n(grey: 5-95% of the n-matched null)")
    axes[1].set_title("learned vs random below the cutoff, against a null of the same n")
    axes[1].legend(fontsize="small")
    return fig


def plot_low_histograms(learned: Mapping[int, np.ndarray], random: Mapping[int, np.ndarray], d: int,
                        reference: int, cutoff: float) -> plt.Figure:
    """Per dictionary size: the learned and one random MCS sample below `cutoff`, with the footnote law conditioned
    on MCS < cutoff."""
    sizes = list(learned)
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.8), sharey=False)
    low_bins = np.linspace(0.1, cutoff, 41)
    law = random_mcs_pdf(low_bins, d, reference) / random_mcs_cdf(cutoff, d, reference)
    for ax, size in zip(np.atleast_1d(axes), sizes, strict=True):
        ax.hist(learned[size][learned[size] < cutoff], bins=low_bins, density=True, alpha=0.6, label="post recipe")
        ax.hist(random[size][random[size] < cutoff], bins=low_bins, density=True, histtype="step", linewidth=1.3,
                label="N(0,1) random")
        ax.plot(low_bins, law, color="k", linewidth=1, label="footnote law, given MCS < cutoff")
        ax.set_title(f"{size} vs {reference}: {(learned[size] < cutoff).sum():.0f} features below {cutoff}",
                     fontsize="small")
        ax.set_xlabel("maximum cosine similarity")
        ax.set_ylabel("density (per unit MCS)")
    np.atleast_1d(axes)[0].legend(fontsize="x-small", loc="upper left")
    return fig


def plot_mcs_scatter(scatter: Mapping[str, Sequence[np.ndarray]], r: Mapping[str, float],
                     scatter_sizes: Sequence[int], focus: int) -> plt.Figure:
    """Per recipe (post first, then the contrast arm): each focus feature's MCS against the two larger
    dictionaries, with its Pearson r in the title."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.4), sharex=True, sharey=True)
    for ax, arm, color in zip(axes, scatter, ARM_COLORS, strict=True):
        x, y = scatter[arm]
        ax.scatter(x, y, s=4, alpha=0.4, color=color)
        ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--")
        ax.set_xlabel(f"MCS against the {scatter_sizes[0]}-feature dictionary")
        ax.set_ylabel(f"MCS against the {scatter_sizes[1]}-feature dictionary")
        ax.set_title(f"{arm}: {focus} features, Pearson r = {r[arm]:.2f}")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
    return fig


def plot_high_low_counts(counts: pd.DataFrame, reference: int, cutoff: float) -> plt.Figure:
    """High- and low-MCS counts and the high-MCS share against dictionary size (`counts`: rows (recipe, size),
    columns high-MCS, low-MCS, share high; post recipe solid, contrast dotted)."""
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 4.3))
    arms = list(dict.fromkeys(counts.index.get_level_values(0)))
    sizes = list(counts.loc[arms[0]].index)
    for arm, style in zip(arms, ("-", ":"), strict=True):
        axes[0].plot(sizes, counts.loc[arm, "high-MCS"], style, marker="o", color="C0", label=f"high-MCS, {arm}")
        axes[0].plot(sizes, counts.loc[arm, "low-MCS"], style, marker="s", color="C1", label=f"low-MCS, {arm}")
        axes[1].plot(sizes, counts.loc[arm, "share high"], style, marker="o", color="C0", label=f"high-MCS, {arm}")
    axes[0].set_ylabel("number of features")
    axes[1].set_ylabel("share of features that are high-MCS")
    axes[1].set_ylim(0, 1)
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.set_xlabel("dictionary size (features)")
        ax.legend(fontsize="x-small")
    fig.suptitle(f"Each dictionary against the {reference}-feature one of its recipe (MCS cutoff {cutoff})")
    return fig


def plot_ablation(ablation: pd.DataFrame, d: int, reference: int, cutoff: float, bandwidth: float) -> plt.Figure:
    """The 2 × 2 ablation's MCS histograms (rows of `ablation`, in row-major order: columns mcs, low mode, dead
    share, never fire at init, share below cutoff), each with its KDE and the footnote law; blue: has the low mode."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), sharex=True)
    bins = np.linspace(-0.1, 1.0, 89)
    for ax, (name, row) in zip(axes.flat, ablation.iterrows(), strict=True):
        ax.hist(row["mcs"], bins=bins, density=True, alpha=0.55, color="C0" if row["low mode"] else "C7")
        ax.plot(GRID, fixed_bandwidth_kde(row["mcs"], GRID, bandwidth), color="C0", linewidth=1)
        ax.plot(GRID, random_mcs_pdf(GRID, d, reference), color="k", linewidth=1, linestyle="--")
        ax.axvline(cutoff, color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"{name}: dead {row['dead share']:.0%} (at init {row['never fire at init']:.0%}), "
                     f"{row['share below cutoff']:.0%} below {cutoff}", fontsize="small")
        ax.set_xlim(bins[0], bins[-1])
        ax.set_ylabel("density (per unit MCS)")
    for ax in axes[1]:
        ax.set_xlabel(f"MCS against the same-centring {reference} reference")
    axes[0, 0].plot([], [], color="k", linestyle="--", label=f"footnote law, M={reference}")
    axes[0, 0].plot([], [], color="C0", label="KDE")
    axes[0, 0].legend(fontsize="small")
    fig.suptitle("2 × 2 ablation at the focus size: rows centring, columns initialisation (blue: has the low mode)")
    return fig


def plot_low_mcs_explanations(low_shares: pd.DataFrame, labels: np.ndarray, cosine_to_init: np.ndarray,
                              mcs: np.ndarray, classes: Sequence[str], focus: int, reference: int,
                              cutoff: float) -> plt.Figure:
    """Left: each recipe's low-MCS features split by cause (`low_shares`: rows recipes, columns causes). Right: the
    post recipe's features by cosine with their initial direction and MCS, coloured by class (`classes`: the causes,
    then the high-MCS label)."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1, 1.3]})
    low_shares.plot.barh(stacked=True, ax=axes[0], color=list(CAUSE_COLORS[:low_shares.shape[1]]), legend=False)
    axes[0].set_xlabel(f"share of the {focus}-dictionary's low-MCS features (MCS < {cutoff})")
    axes[0].set_ylabel("")
    axes[0].legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(0, -0.18), ncols=2)
    for cause, color in zip(classes, CAUSE_COLORS, strict=True):
        chosen = labels == cause
        axes[1].scatter(cosine_to_init[chosen], mcs[chosen], s=5, alpha=0.5, color=color,
                        label=f"{cause} ({chosen.sum()})")
    axes[1].axhline(cutoff, color="grey", linestyle=":", linewidth=1)
    axes[1].set_xlabel("cosine of each decoder direction with its initial direction")
    axes[1].set_ylabel(f"MCS against the {reference} dictionary")
    axes[1].set_title(f"post recipe, {focus} features")
    axes[1].legend(fontsize="x-small", markerscale=3)
    return fig
