"""The interactive path, tested for real: `make lab` starts JupyterLab (on a free loopback port, with a random token),
a notebook is opened through the server's REST API (contents, sessions) and its cells run at the smoke profile
through the kernel's websocket channel, as JupyterLab's page does; a parameter is edited and the cells re-run. The
server and every kernel it started are gone afterwards, also when a test fails. Plus the headless contrast (the
papermill runner shows no progress bars) and, where Debian's chromium is installed, the page a person sees."""

import ast
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import psutil
import pytest
import websocket  # websocket-client, a dependency of jupyter_server

from saelib.paths import ROOT
from saelib.runner import run_notebook

WIDGET = "application/vnd.jupyter.widget-view+json"
START_TIMEOUT_S = 180  # a loaded 2-core machine needs ~15 s; `make lab` may first (re)install a stale environment
CELL_TIMEOUT_S = 180
# should pytest itself be killed (no cleanup can run then), the orphaned server culls its idle kernels and exits
ORPHAN_TIMEOUTS = ["--MappingKernelManager.cull_idle_timeout=600", "--MappingKernelManager.cull_interval=60",
                   "--ServerApp.shutdown_no_activity_timeout=900"]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="`make lab` needs make")

SETUP_SOURCE = """\
import os
import sys

import matplotlib
import matplotlib.pyplot as plt
import torch
from tqdm.auto import tqdm
from tqdm.notebook import tqdm as widget_tqdm

import saelib
import saelib.activations
import saelib.paths
import saelib.target_model
from saelib.params import resolve_profile

P = resolve_profile(globals())
{"saelib": saelib.__file__, "prefix": sys.prefix, "TQDM_DISABLE": os.environ.get("TQDM_DISABLE"),
 "backend": matplotlib.get_backend(), "figures": str(saelib.paths.figures_dir()),
 "widget_bars": {name: issubclass(module.tqdm, widget_tqdm) for name, module in sys.modules.items()
                 if name.startswith("saelib") and hasattr(module, "tqdm")}}"""
TRAIN_SOURCE = """\
generator = torch.Generator().manual_seed(P.SEED)
x = torch.randn(256, 4, generator=generator)
W = torch.nn.Parameter(0.1 * torch.randn(4, 8, generator=generator))  # a tied SAE with 8 latents
optimizer = torch.optim.Adam([W], lr=1e-2)
for step in tqdm(range(P.N_STEPS), desc="training a tiny SAE"):
    f = torch.relu(x @ W)
    loss = (f @ W.T - x).pow(2).sum(-1).mean() + 0.05 * f.sum(-1).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
round(loss.item(), 6)"""
FIGURE_SOURCE = """\
fig, ax = plt.subplots(figsize=(4, 3))
ax.bar(range(8), W.detach().norm(dim=0))
ax.set(xlabel="latent", ylabel="decoder norm")
plt.show()"""
CELLS = [  # (cell type, source): a small notebook written like the companion's, run at the smoke profile
    ("markdown", "# Lab check\n\nA tiny SAE trains with a progress bar, then a figure."),
    ("parameters", "from saelib.params import per_profile\nPROFILE = \"smoke\"  # smoke | default | paper\n"
                   "SEED = 0  # every random draw derives from it\n"
                   "N_STEPS = per_profile(50, 500, 5000)  # training steps"),
    ("code", SETUP_SOURCE),
    ("code", TRAIN_SOURCE),
    ("code", FIGURE_SOURCE),
]
PARAMETERS, SETUP, TRAIN, FIGURE = 1, 2, 3, 4  # indices of the code cells in CELLS


def write_notebook(path: Path, marker: str = "") -> Path:
    """Write CELLS (plus a markdown `marker`) as a notebook with the companion's kernelspec, python3."""
    cells = []
    for kind, source in CELLS:
        if kind == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(source + (f"\n\n{marker}" if marker else "")))
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
            cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those of `processes` still running (zombies count as gone)."""
    running = []
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
        except psutil.NoSuchProcess:
            pass
    return running


class LabServer:
    """`make lab` on a free loopback port with a random token, its log in `folder`; stopped on exit, with every
    process it started (make, the server, its kernels) gone and its port closed, whatever happened inside."""

    def __init__(self, folder: Path):
        self.folder, self.port, self.token = Path(folder), free_port(), secrets.token_hex(24)
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "LabServer":
        args = ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0", *ORPHAN_TIMEOUTS]  # `make lab` adds --allow-root for root itself
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        # what `make test` exports: `make lab` must keep these headless settings out of the lab's kernels
        env.update(TQDM_DISABLE="1", MPLBACKEND="Agg", JUPYTER_TOKEN=self.token,
                   SAELIB_ARTIFACTS=str(self.folder), JUPYTER_RUNTIME_DIR=str(self.folder / "runtime"),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.folder / "workspaces"))
        with open(self.folder / "lab.log", "wb") as log:
            self.proc = subprocess.Popen(["make", "-s", "--no-print-directory", "lab", "LAB_ARGS=" + " ".join(args)],
                                         cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        left = self.stop()
        assert not left, f"left running after the server stopped: {left}"
        assert not port_open(self.port), f"port {self.port} still open after the server stopped"

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"`make lab` exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"JupyterLab did not answer within {START_TIMEOUT_S} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        """The end of the server's log."""
        return (self.folder / "lab.log").read_text(errors="replace")[-n:]

    def fetch(self, method: str, path: str, body: dict | None = None) -> bytes:
        """One HTTP request to the server (token in the header); the reply's body."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.read()

    def api(self, method: str, path: str, body: dict | None = None) -> dict | list | None:
        """One REST call to the server; the decoded JSON reply."""
        text = self.fetch(method, path, body)
        return json.loads(text) if text else None

    def processes(self) -> list[psutil.Process]:
        """`make lab` and all its descendants now (the server and its kernels, which run in their own sessions)."""
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> list[str]:
        """SIGTERM the process group (the server shuts its kernels down), SIGKILL whatever is left after 30 s
        (kernels included, whose process groups are their own); return what still runs after that."""
        processes = self.processes()  # before anything exits: an orphaned kernel is no longer a descendant
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        _, left = psutil.wait_procs(processes, timeout=30)
        for process in left:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(left, timeout=10)
        self.proc.wait(timeout=10)
        return [f"{p.pid} {p.name()}" for p in alive(processes)]


class KernelChannel:
    """The kernel's websocket channel, as JupyterLab's page uses it: send execute requests, collect the replies."""

    def __init__(self, server: LabServer, kernel_id: str, session_id: str):
        url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels?session_id={session_id}"
        self.session = session_id
        self.ws = websocket.create_connection(url, header=[f"Authorization: token {server.token}"],
                                              timeout=CELL_TIMEOUT_S)

    def execute(self, code: str) -> tuple[dict, list[dict]]:
        """Run `code`; return the execute_reply content and the iopub output messages it produced."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": self.session,
                       "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        reply, outputs, idle = None, [], False
        while reply is None or not idle:
            raw = self.ws.recv()
            if isinstance(raw, bytes):  # a message with binary buffers: widget state, not needed here
                continue
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["channel"] == "shell" and msg["msg_type"] == "execute_reply":
                reply = msg["content"]
            elif msg["msg_type"] == "status":
                idle = msg["content"]["execution_state"] == "idle"
            elif msg["msg_type"] in ("stream", "display_data", "update_display_data", "execute_result", "error"):
                outputs.append(msg)
        return reply, outputs

    def close(self) -> None:
        self.ws.close()


def result_of(outputs: list[dict]):
    """The cell's value (its execute_result's text/plain, as a Python literal)."""
    return ast.literal_eval(next(m["content"]["data"]["text/plain"] for m in outputs
                                 if m["msg_type"] == "execute_result"))


def mime_types(outputs: list[dict]) -> set[str]:
    """Every MIME type among the displayed outputs."""
    return {mime for m in outputs for mime in m["content"].get("data", {})}


def problems(reply: dict, outputs: list[dict]) -> str:
    """The error a cell raised, if any, as text ('' when it ran cleanly)."""
    errors = [m["content"] for m in outputs if m["msg_type"] == "error"]
    if reply["status"] == "ok" and not errors:
        return ""
    return "\n".join(e.get("ename", "") + ": " + e.get("evalue", "") for e in errors) or reply["status"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One `make lab` server for this module, serving the repository, plus a scratch folder inside it (under the
    ignored build/) for the test's notebooks: (server, scratch folder relative to the repository root)."""
    (ROOT / "build").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="lab-test-", dir=ROOT / "build"))
    try:
        with LabServer(tmp_path_factory.mktemp("lab")) as server:
            yield server, scratch.relative_to(ROOT).as_posix()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_lab_serves_the_repository_with_this_environment_as_kernel_python3(lab):
    server, _ = lab
    listed = {item["name"] for item in server.api("GET", "/api/contents/notebooks")["content"]}
    assert {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")} <= listed
    specs = server.api("GET", "/api/kernelspecs")["kernelspecs"]
    wanted = {nbformat.read(p, as_version=4).metadata.kernelspec.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert wanted == {"python3"} and "python3" in specs
    argv = specs["python3"]["spec"]["argv"]
    assert os.path.samefile(Path(argv[0]).parent, Path(sys.executable).parent), "kernel python3 is another environment"
    page = server.fetch("GET", "/lab").decode()
    assert "@jupyter-widgets/jupyterlab-manager" in page, "JupyterLab cannot show widgets (progress bars)"


def test_notebook_runs_in_a_live_kernel_with_progress_bars_and_figures_and_reruns_after_a_parameter_edit(lab):
    server, scratch = lab
    write_notebook(ROOT / scratch / "lab_check.ipynb")
    model = server.api("GET", f"/api/contents/{scratch}/lab_check.ipynb?content=1")
    cells, kernel = model["content"]["cells"], model["content"]["metadata"]["kernelspec"]["name"]
    session = server.api("POST", "/api/sessions", {"path": f"{scratch}/lab_check.ipynb", "type": "notebook",
                                                   "name": "lab_check.ipynb", "kernel": {"name": kernel}})
    assert session["kernel"]["name"] == "python3"
    channel = KernelChannel(server, session["kernel"]["id"], session["id"])
    try:
        runs = {}
        for index, cell in enumerate(cells):
            if cell["cell_type"] == "code":
                reply, runs[index] = channel.execute(cell["source"])
                assert not problems(reply, runs[index]), f"cell {index} failed: {problems(reply, runs[index])}"
        setup = result_of(runs[SETUP])
        assert Path(setup["saelib"]).resolve().is_relative_to(ROOT), "the kernel imports another saelib"
        assert Path(setup["prefix"]).resolve() == Path(sys.prefix).resolve()
        assert Path(setup["figures"]) == server.folder.resolve() / "figures", "SAELIB_ARTIFACTS is not the kernel's"
        assert setup["TQDM_DISABLE"] is None and "inline" in setup["backend"], "headless settings leaked into lab"
        bars = setup["widget_bars"]  # saelib module -> whether its tqdm is the widget one
        assert "saelib.target_model" in bars and all(bars.values()), f"saelib loops without widget bars: {bars}"
        assert WIDGET in mime_types(runs[TRAIN]), "training showed no progress-bar widget"
        png = next(m["content"]["data"]["image/png"] for m in runs[FIGURE] if "image/png" in m["content"]["data"])
        assert base64.b64decode(png).startswith(b"\x89PNG\r\n\x1a\n")

        def rerun(seed: int) -> float:  # edit SEED in the parameters cell, re-run it and the cells that use it
            for source in (cells[PARAMETERS]["source"].replace("SEED = 0", f"SEED = {seed}"), cells[SETUP]["source"],
                           cells[TRAIN]["source"]):
                reply, outputs = channel.execute(source)
                assert not problems(reply, outputs), problems(reply, outputs)
            return result_of(outputs)

        first = result_of(runs[TRAIN])
        assert rerun(1) != first, "editing SEED changed nothing"
        assert rerun(0) == first, "re-running at SEED 0 did not reproduce the first run"
    finally:
        channel.close()
    server.api("DELETE", f"/api/sessions/{session['id']}")
    assert server.api("GET", "/api/kernels") == []


def test_the_same_notebook_run_headless_shows_no_progress_bars(tmp_path, isolated_dirs, monkeypatch):
    for name, value in {"TQDM_DISABLE": "1", "MPLBACKEND": "Agg", "SAELIB_ARTIFACTS": str(isolated_dirs)}.items():
        monkeypatch.setenv(name, value)  # what `make test` and `make all` export for papermill's kernels
    output = tmp_path / "headless.ipynb"
    run_notebook(write_notebook(tmp_path / "lab_check.ipynb"), output, check_outputs=False)  # it prints paths
    outputs = [o for cell in nbformat.read(output, as_version=4).cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if WIDGET in o.get("data", {})], "a progress-bar widget in a headless run"
    assert not [o for o in outputs if o.get("output_type") == "stream" and "%|" in o["text"]], "a text progress bar"


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                    reason="no chromium to load the JupyterLab page (apt-get install chromium)")
def test_jupyterlab_page_opens_the_notebook_with_kernel_python3(lab, tmp_path):
    server, scratch = lab
    marker = f"marker-{secrets.token_hex(8)}"
    write_notebook(ROOT / scratch / "page_check.ipynb", marker)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
               "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
               f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,800", "--virtual-time-budget=30000",
               "--dump-dom", f"http://127.0.0.1:{server.port}/lab/tree/{scratch}/page_check.ipynb?token={server.token}"]
    browser = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        dom, _ = browser.communicate(timeout=120)
    finally:
        try:
            os.killpg(browser.pid, signal.SIGKILL)  # the browser's helper processes too
        except ProcessLookupError:
            pass
        browser.wait()
    dom = dom.decode(errors="replace")
    assert marker in dom, "the page did not render the notebook"
    assert "Python 3" in dom, "the page shows no Python 3 kernel"
    sessions = server.api("GET", "/api/sessions")
    assert [s["kernel"]["name"] for s in sessions if s["path"] == f"{scratch}/page_check.ipynb"] == ["python3"]


def test_server_and_kernels_are_gone_and_the_port_closed_even_when_a_test_fails(tmp_path):
    with pytest.raises(RuntimeError, match="a failing test"):
        with LabServer(tmp_path) as server:
            server.api("POST", "/api/kernels", {"name": "python3"})
            started = server.processes()
            assert any("ipykernel_launcher" in " ".join(p.cmdline()) for p in started), "no kernel process"
            raise RuntimeError("a failing test")
    assert not alive(started), "a process outlived the failed test"
    assert not port_open(server.port)
