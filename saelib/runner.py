"""Run a notebook headlessly with papermill: output to a temporary file moved into place only on success,
timings and machine paths scrubbed from the stored notebook, run time recorded in results/runtimes.json.

    python -m saelib.runner notebooks/01_toy_composite_features.ipynb [-p NAME VALUE ...] [--output PATH]
"""

import argparse
import ast
import difflib
import json
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from saelib.atomic import atomic_write_json
from saelib.params import ParameterError
from saelib.paths import ROOT, results_dir

# the kernel draws figures inline, so the stored notebook shows them (a global MPLBACKEND=Agg would drop them)
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
MACHINE_PATH = re.compile(r"(/root/|/work/|/tmp/|/home/|/Users/|[A-Z]:\\\\Users)")
TIMING_KEYS = ("start_time", "end_time", "duration", "exception", "execution")


def scrub_notebook(nb: dict[str, Any]) -> dict[str, Any]:
    """Drop papermill's timings and paths from notebook and cell metadata; keep the kernelspec python3."""
    nb["metadata"].pop("papermill", None)
    nb["metadata"]["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {})
        meta.pop("papermill", None)
        meta.pop("execution", None)
        if cell["cell_type"] == "code":
            for i, output in enumerate(cell.get("outputs", [])):
                output.get("metadata", {}).pop("papermill", None)
                cell["outputs"][i] = output
    return nb


def output_problems(nb: dict[str, Any]) -> list[str]:
    """Stored outputs that must not be committed: errors and machine paths."""
    problems = []
    for index, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            text = json.dumps(output)
            if output.get("output_type") == "error":
                problems.append(f"cell {index}: an error output")
            elif MACHINE_PATH.search(text):
                problems.append(f"cell {index}: a machine path in an output: {MACHINE_PATH.search(text).group(0)}")
    return problems


def record_runtime(notebook: str, seconds: float, parameters: dict[str, Any]) -> None:
    """Merge one notebook's wall-clock run time into results/runtimes.json."""
    path = results_dir() / "runtimes.json"
    runtimes = json.loads(path.read_text()) if path.exists() else {}
    runtimes[notebook] = {"seconds": round(seconds, 1), "parameters": parameters}
    atomic_write_json(path, runtimes)


def check_parameter_names(notebook: Path, parameters: dict[str, Any]) -> None:
    """Every name in `parameters` must be defined in the notebook's parameters cell; else a ParameterError naming
    it and the closest defined name (before any compute)."""
    import papermill

    defined = list(papermill.inspect_notebook(str(notebook)))
    for name in parameters:
        if name not in defined:
            close = difflib.get_close_matches(name, defined, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ParameterError(name, f"{Path(notebook).name} defines no such parameter; {hint}"
                                       f"its parameters are {defined}", parameters[name])


def run_notebook(notebook: Path, output: Path | None = None, parameters: dict[str, Any] | None = None,
                 check_outputs: bool = True) -> float:
    """Execute `notebook` with papermill (kernel python3, cwd = its folder); return the run time in seconds."""
    import papermill

    notebook = Path(notebook).resolve()
    output = Path(output).resolve() if output else notebook
    parameters = dict(parameters or {})
    check_parameter_names(notebook, parameters)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=".ipynb", dir=output.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    backend = os.environ.get("MPLBACKEND")
    try:
        os.environ["MPLBACKEND"] = INLINE_BACKEND  # inherited by the kernel papermill starts
        started = time.perf_counter()
        papermill.execute_notebook(str(notebook), str(tmp), parameters=parameters, kernel_name="python3",
                                   cwd=str(notebook.parent), progress_bar=False)
        seconds = time.perf_counter() - started
        nb = scrub_notebook(json.loads(tmp.read_text()))
        problems = output_problems(nb) if check_outputs else []
        if problems:
            raise RuntimeError(f"{notebook.name} ran, but its outputs cannot be stored: " + "; ".join(problems))
        tmp.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
        if backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = backend
    record_runtime(notebook.stem, seconds, parameters)
    return seconds


def _parse_value(text: str) -> Any:
    """A papermill -p value: a python literal if it parses as one, else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv: list[str] | None = None) -> int:
    """Command line: run one notebook in place (or to --output)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    args = parser.parse_args(argv)
    # a terminated run unwinds like Ctrl-C, so its temporary output is removed rather than left behind
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    parameters = {name: _parse_value(value) for name, value in args.parameter}
    try:
        seconds = run_notebook(args.notebook, args.output, parameters)
    except ParameterError as error:
        parser.exit(2, f"{error}\n")
    name = args.notebook.resolve().relative_to(ROOT) if args.notebook.resolve().is_relative_to(ROOT) else args.notebook
    print(f"{name}: ran in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
