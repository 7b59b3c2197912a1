"""Text for the target model: the offline default (the Python standard library's own source, byte-level tokens)
and the real path (a Hugging Face dataset tokenised by a pretrained model's tokenizer).
"""

import hashlib
import sysconfig
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Folder names left out of the stdlib corpus: test suites (huge, repetitive, atypical) and installed packages.
EXCLUDED_DIRS = frozenset({"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"})
FILE_SEPARATOR = b"\n\n"


@dataclass(frozen=True)
class Corpus:
    """A byte corpus and what identifies it."""

    data: np.ndarray  # uint8, one token per byte
    sha256: str
    n_files: int
    source: str


def stdlib_source_files(root: Path | None = None) -> list[Path]:
    """The standard library's .py files under `root`, test folders excluded, sorted by relative path."""
    root = Path(root or sysconfig.get_paths()["stdlib"])
    files = [p for p in root.rglob("*.py") if not EXCLUDED_DIRS.intersection(p.relative_to(root).parts[:-1])]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def read_byte_corpus(files: Iterable[Path], max_bytes: int, source: str) -> Corpus:
    """Concatenate `files` (in the given order, separated by a blank line) up to `max_bytes` bytes."""
    chunks, total, n_files = [], 0, 0
    for path in files:
        if total >= max_bytes:
            break
        content = Path(path).read_bytes() + FILE_SEPARATOR
        chunks.append(content)
        total += len(content)
        n_files += 1
    blob = b"".join(chunks)[:max_bytes]
    if not blob:
        raise ValueError("the corpus is empty: no files were read")
    return Corpus(np.frombuffer(blob, dtype=np.uint8).copy(), hashlib.sha256(blob).hexdigest(), n_files, source)


def stdlib_corpus(max_bytes: int) -> Corpus:
    """The default offline corpus: this Python's standard library source, read deterministically."""
    return read_byte_corpus(stdlib_source_files(), max_bytes, source="python-stdlib")


def token_windows(tokens: np.ndarray, n_ctx: int) -> np.ndarray:
    """Cut a 1-D token stream into non-overlapping windows of `n_ctx` tokens, shape [n_windows, n_ctx]."""
    n_windows = len(tokens) // n_ctx
    if n_windows == 0:
        raise ValueError(f"{len(tokens)} tokens are fewer than one context of {n_ctx}")
    return np.ascontiguousarray(tokens[: n_windows * n_ctx].reshape(n_windows, n_ctx)).astype(np.int64)


def train_val_split(windows: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split windows into (train, held-out) by a seeded permutation; at least one window each."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction={val_fraction} must lie strictly between 0 and 1")
    order = np.random.default_rng(seed).permutation(len(windows))
    n_val = min(max(1, round(len(windows) * val_fraction)), len(windows) - 1)
    return windows[np.sort(order[n_val:])], windows[np.sort(order[:n_val])]


def unigram_cross_entropy(train_tokens: np.ndarray, eval_tokens: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy (nats/token) of `eval_tokens` under the add-one-smoothed unigram model of `train_tokens`."""
    counts = np.bincount(train_tokens.ravel(), minlength=vocab_size).astype(np.float64) + 1.0
    log_probs = np.log(counts / counts.sum())
    return float(-log_probs[eval_tokens.ravel()].mean())


def decode_bytes(tokens: Iterable[int]) -> str:
    """Byte tokens back to text (undecodable bytes shown as replacement characters)."""
    return bytes(int(t) for t in tokens).decode("utf-8", errors="replace")


def load_text_dataset(path: str, split: str = "train", text_column: str = "text", max_texts: int | None = None,
                      **load_kwargs) -> list[str]:
    """Texts from a Hugging Face dataset: a hub name (needs the network) or a local builder such as "text"."""
    from datasets import load_dataset

    dataset = load_dataset(path, split=split, **load_kwargs)
    if text_column not in dataset.column_names:
        raise ValueError(f"text_column={text_column!r} is not a column of {path!r}: {dataset.column_names}")
    n = len(dataset) if max_texts is None else min(max_texts, len(dataset))
    return [dataset[i][text_column] for i in range(n)]


def tokenize_texts(texts: Iterable[str], encode: Callable[[str], list[int]], separator: list[int]) -> np.ndarray:
    """Encode each text and join them, `separator` tokens between texts, into one 1-D stream."""
    stream: list[int] = []
    for text in texts:
        stream.extend(encode(text))
        stream.extend(separator)
    return np.asarray(stream, dtype=np.int64)
