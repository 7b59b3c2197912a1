"""Repository-root-relative locations, read when used, so papermill, nbval, an interactive kernel and the tests
agree wherever they start.

`SAELIB_ARTIFACTS`, when set, moves everything a run writes under that folder: results, figures, REPORT.md and
the caches (the test suite sets it alone to isolate a test). `SAELIB_DATA` names the caches' folder (keyed by config
hash) on its own: `make seeds`, `make paper` and `make test` point it at data/ so that their runs share the caches.
"""

import os
from pathlib import Path

ROOT: Path = Path(__file__).resolve().parent.parent


def _from_env(name: str) -> Path | None:
    """The folder an environment variable names, resolved, or None when it is unset or empty."""
    value = os.environ.get(name)
    return Path(value).resolve() if value else None


def artifacts_dir() -> Path:
    """Where a run writes its results, figures and report: `SAELIB_ARTIFACTS`, else the repository root."""
    return _from_env("SAELIB_ARTIFACTS") or ROOT


def data_dir() -> Path:
    """The caches' folder: `SAELIB_DATA`, else data/ under the artifacts folder."""
    return _from_env("SAELIB_DATA") or artifacts_dir() / "data"


def results_dir() -> Path:
    """Ledgers, summaries and runtimes."""
    return artifacts_dir() / "results"


def figures_dir() -> Path:
    """Saved figures."""
    return artifacts_dir() / "figures"


def report_path() -> Path:
    """REPORT.md."""
    return artifacts_dir() / "REPORT.md"


def ensure_dir(path: Path) -> Path:
    """Create `path` (and parents) if missing and return it."""
    path.mkdir(parents=True, exist_ok=True)
    return path
