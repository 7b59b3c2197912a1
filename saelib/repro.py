"""Seeding, device choice and an environment fingerprint stored with results."""

import ast
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


def notebook_code(path: Path) -> list[str]:
    """A notebook's code cells (papermill's injected parameters cell left out): its code, not its outputs or
    prose; [] when the notebook does not exist."""
    if not path.exists():
        return []
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"
            and "injected-parameters" not in c.get("metadata", {}).get("tags", [])]


def _module_file(package: Path, module: str) -> Path | None:
    """The source file of a dotted saelib module name (a module or a package's __init__), or None."""
    base = package.parent.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _saelib_imports(code: str, package: Path) -> set[str]:
    """The dotted saelib module names that `code` imports (`from saelib.x import y` also tries saelib.x.y)."""
    names = set()
    python = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))
    for node in ast.walk(ast.parse(python)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.split(".")[0] == "saelib"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "saelib":
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names
                      if _module_file(package, f"{node.module}.{alias.name}")}
    return names


def saelib_files_used(cells: list[str]) -> list[Path]:
    """The saelib source files that code cells run when imported: the modules they import, what those import
    in turn, and every package __init__ on the way (saelib's own registers the SAE variants)."""
    package = Path(__file__).resolve().parent
    pending, seen = {"saelib"}.union(*(_saelib_imports(cell, package) for cell in cells)), set()
    while pending:
        module = pending.pop()
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            path = _module_file(package, name)
            if path is None or path in seen:
                continue
            seen.add(path)
            pending |= _saelib_imports(path.read_text(encoding="utf-8"), package)
    return sorted(seen)


def code_digests(notebook: str) -> dict[str, str]:
    """The digests of what produced a notebook's ledger: its code cells, and the saelib source files they run
    (`saelib_files_used`), so a change elsewhere in the package does not mark its ledger as older code."""
    root = Path(__file__).resolve().parent.parent
    cells = notebook_code(root / "notebooks" / f"{notebook}.ipynb")
    files = saelib_files_used(cells) if cells else []
    parts = [f"{p.relative_to(root).as_posix()}\n{p.read_text(encoding='utf-8')}" for p in files]
    return {"notebook": _sha("\n\x00".join(cells).encode()) if cells else "absent",
            "saelib": _sha("\n\x00".join(parts).encode())}
