"""Activation store: a model's activations at one hook, cached in data/activations/<hash>/ as memory-mapped
.npy shards with a manifest (config hash, row count, dtype, per-shard checksums). A cache that is incomplete,
corrupt or made for another config is detected and rebuilt, never silently used.

Row i of the cache is token i of the split's windows read in order: window i // n_ctx, position i % n_ctx (with
`spread=True`, of the windows `spread_windows` picks evenly over the whole split, in order).
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from saelib.atomic import atomic_dir, atomic_write_json
from saelib.paths import data_dir
from saelib.repro import pick_device
from saelib.target_model import TargetModel

MANIFEST = "manifest.json"
DTYPE = "float32"


class CacheError(ValueError):
    """A cached activation folder is missing, incomplete, corrupt or made for another config."""


@dataclass
class ActivationCache:
    """Activations [n_rows, d] spread over memory-mapped shards; index it like an array with ints or slices."""

    shards: list[np.ndarray]
    hook_name: str

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, width)."""
        return (sum(len(s) for s in self.shards), self.shards[0].shape[1])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: int | slice | np.ndarray) -> np.ndarray:
        """Rows at `index` (an int, a slice or an integer array), gathered across shards."""
        if isinstance(index, (int, np.integer)):
            return self[np.array([index])][0]
        rows = np.arange(len(self))[index] if isinstance(index, slice) else np.asarray(index)
        offsets = np.cumsum([0] + [len(s) for s in self.shards])
        which = np.searchsorted(offsets, rows, side="right") - 1
        out = np.empty((len(rows), self.shape[1]), dtype=DTYPE)
        for shard_index in np.unique(which):
            mask = which == shard_index
            out[mask] = self.shards[shard_index][rows[mask] - offsets[shard_index]]
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        array = np.concatenate(self.shards) if len(self.shards) > 1 else np.asarray(self.shards[0])
        return array.astype(dtype) if dtype is not None else array


def cache_key(model_key: str, hook_name: str, n_tokens: int, split: str) -> str:
    """A short hash naming the cache of these settings."""
    blob = json.dumps([model_key, hook_name, n_tokens, split, DTYPE]).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def hook_layer(hook_name: str) -> int:
    """The block index a hook name belongs to ("blocks.2.mlp.hook_post" -> 2)."""
    parts = hook_name.split(".")
    if len(parts) < 3 or parts[0] != "blocks" or not parts[1].isdigit():
        raise ValueError(f"hook_name={hook_name!r} is not a per-block hook such as 'blocks.2.mlp.hook_post'")
    return int(parts[1])


def open_cache(folder: Path, key: str) -> ActivationCache:
    """Open and verify a cache folder against `key`; raise CacheError on any mismatch or corruption."""
    manifest_path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
        if manifest["config_hash"] != key or manifest["dtype"] != DTYPE:
            raise CacheError(f"{folder.name}: manifest is for another config")
        shards = []
        for shard in manifest["shards"]:
            path = Path(folder) / shard["file"]
            if file_sha256(path) != shard["sha256"]:
                raise CacheError(f"{folder.name}: {shard['file']} does not match its checksum")
            shards.append(np.load(path, mmap_mode="r"))
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as error:
        raise CacheError(f"{Path(folder).name}: unreadable cache ({error.__class__.__name__})") from error
    if sum(len(s) for s in shards) != manifest["n_rows"] or any(s.shape[1] != manifest["d"] for s in shards):
        raise CacheError(f"{folder.name}: shard shapes disagree with the manifest")
    return ActivationCache(shards, manifest["hook_name"])


@torch.no_grad()
def write_cache(tm: TargetModel, hook_name: str, windows: np.ndarray, folder: Path, key: str,
                shard_rows: int, batch_windows: int = 64) -> None:
    """Run the model over `windows`, write the hook's activations as shards plus manifest, atomically."""
    with atomic_dir(folder) as staging:
        layer, n_ctx, device = hook_layer(hook_name), windows.shape[1], tm.model.cfg.device
        n_rows = windows.size
        d = None
        shard_files, shard, shard_start, written = [], None, 0, 0
        for start in tqdm(range(0, len(windows), batch_windows), desc=f"caching {hook_name}"):
            tokens = torch.as_tensor(windows[start:start + batch_windows], device=device)
            _, cache = tm.model.run_with_cache(tokens, names_filter=hook_name, stop_at_layer=layer + 1)
            acts = cache[hook_name].reshape(-1, cache[hook_name].shape[-1]).float().cpu().numpy()
            d = acts.shape[1]
            while len(acts):
                if shard is None:
                    rows = min(shard_rows, n_rows - written)
                    name = f"shard_{len(shard_files):03d}.npy"
                    shard = np.lib.format.open_memmap(staging / name, mode="w+", dtype=DTYPE, shape=(rows, d))
                    shard_files.append(name)
                    shard_start = 0
                take = min(len(acts), len(shard) - shard_start)
                shard[shard_start:shard_start + take] = acts[:take]
                shard_start, written, acts = shard_start + take, written + take, acts[take:]
                if shard_start == len(shard):
                    shard.flush()
                    shard = None
        assert written == n_rows == len(windows) * n_ctx
        atomic_write_json(staging / MANIFEST, {
            "config_hash": key, "hook_name": hook_name, "model_key": tm.key, "n_rows": n_rows, "d": d,
            "dtype": DTYPE, "n_ctx": n_ctx,
            "shards": [{"file": f, "sha256": file_sha256(staging / f)} for f in shard_files],
        })


def spread_windows(n_windows: int, n_available: int) -> np.ndarray:
    """`n_windows` distinct window indices, in order, evenly spaced over `n_available` windows."""
    return np.floor(np.linspace(0, n_available - 1, n_windows)).astype(int)


def cached_activations(tm: TargetModel, hook_name: str, n_tokens: int, split: str = "train",
                       shard_rows: int = 1 << 20, spread: bool = False) -> ActivationCache:
    """Activations of `tm` at `hook_name` for n_tokens tokens (whole windows) of a split, cached: its first windows,
    or with `spread` windows evenly spaced over the whole split (a sample of all of it, not of its first files)."""
    windows = {"train": tm.train_tokens, "val": tm.val_tokens}.get(split)
    if windows is None:
        raise ValueError(f"split={split!r} must be 'train' or 'val'")
    n_windows = -(-n_tokens // windows.shape[1])
    if n_tokens <= 0 or n_windows > len(windows):
        raise ValueError(f"n_tokens={n_tokens} must be between 1 and the split's {windows.size} tokens")
    key = cache_key(tm.key, hook_name, n_windows * windows.shape[1], f"{split}-spread" if spread else split)
    chosen = windows[spread_windows(n_windows, len(windows))] if spread else windows[:n_windows]
    folder = data_dir() / "activations" / key
    try:
        return open_cache(folder, key)
    except CacheError:
        write_cache(tm, hook_name, chosen, folder, key, shard_rows)
        return open_cache(folder, key)


def activation_batches(acts: ActivationCache | np.ndarray, batch_size: int, seed: int,
                       device: torch.device | str | None = None) -> Iterator[torch.Tensor]:
    """An endless stream of float32 batches drawn without replacement, reshuffled every epoch (seeded)."""
    device = device or pick_device()
    rng = np.random.default_rng(seed)
    n = len(acts)
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} is larger than the {n} cached rows")
    while True:
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            rows = np.sort(order[start:start + batch_size])  # sorted reads are faster on a memmap
            yield torch.from_numpy(np.ascontiguousarray(acts[rows])).to(device)
