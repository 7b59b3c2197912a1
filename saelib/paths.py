"""Repository-root-relative locations, so papermill, nbval and an interactive kernel agree wherever they start.

`SAELIB_ARTIFACTS`, when set, moves RESULTS and FIGURES under that folder (the test suite uses it so that
smoke runs never overwrite the committed figures). DATA (caches keyed by config hash) stays in data/ unless
`SAELIB_DATA` names another folder (the determinism test uses it so that a second run recomputes everything).
"""

import os
from pathlib import Path

ROOT: Path = Path(__file__).resolve().parent.parent
DATA: Path = Path(os.environ["SAELIB_DATA"]).resolve() if os.environ.get("SAELIB_DATA") else ROOT / "data"
_ARTIFACTS: Path = Path(os.environ["SAELIB_ARTIFACTS"]).resolve() if os.environ.get("SAELIB_ARTIFACTS") else ROOT
RESULTS: Path = _ARTIFACTS / "results"
FIGURES: Path = _ARTIFACTS / "figures"
REPORT: Path = _ARTIFACTS / "REPORT.md"


def ensure_dir(path: Path) -> Path:
    """Create `path` (and parents) if missing and return it."""
    path.mkdir(parents=True, exist_ok=True)
    return path
