"""Seeding, device choice and an environment fingerprint stored with results."""

import hashlib
import json
import os
import platform
import random
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

FINGERPRINT_PACKAGES = ("torch", "transformer-lens", "sae-lens", "numpy", "scipy")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch, and switch torch to deterministic algorithms."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)


def pick_device(preferred: str | None = None) -> torch.device:
    """`preferred` if given (or $SAELIB_DEVICE), else cuda > mps > cpu."""
    choice = preferred or os.environ.get("SAELIB_DEVICE")
    if choice:
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _version(package: str) -> str:
    """Installed version of `package`, or 'absent'."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def environment_fingerprint(device: torch.device | None = None) -> dict[str, str]:
    """Versions, python, platform and device: enough to tell two runs' environments apart."""
    device = device or pick_device()
    fingerprint = {name: _version(name) for name in FINGERPRINT_PACKAGES}
    fingerprint.update(
        python=platform.python_version(),
        platform=platform.machine(),
        device=str(device),
        device_name=torch.cuda.get_device_name(device) if device.type == "cuda" else device.type,
        torch_threads=str(torch.get_num_threads()),
    )
    return fingerprint


def _sha(blob: bytes) -> str:
    """A short SHA-256 of `blob`."""
    return hashlib.sha256(blob).hexdigest()[:12]


def notebook_code_digest(path: Path) -> str:
    """A digest of a notebook's code cells (papermill's injected parameters cell left out): its code, not its
    outputs or prose."""
    if not path.exists():
        return "absent"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"
            and "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    return _sha("\n\x00".join(code).encode())


def saelib_source_digest() -> str:
    """A digest of the package's Python source (every saelib/**/*.py, by relative path)."""
    package = Path(__file__).resolve().parent
    parts = [f"{p.relative_to(package).as_posix()}\n{p.read_text(encoding='utf-8')}"
             for p in sorted(package.rglob("*.py"))]
    return _sha("\n\x00".join(parts).encode())


def code_digests(notebook: str) -> dict[str, str]:
    """The digests of what produced a notebook's ledger: its code cells and saelib's source."""
    root = Path(__file__).resolve().parent.parent
    return {"notebook": notebook_code_digest(root / "notebooks" / f"{notebook}.ipynb"),
            "saelib": saelib_source_digest()}
