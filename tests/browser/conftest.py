"""A real JupyterLab on a free localhost port, driven by Debian's Chromium through Playwright.

Skipped, with a clear reason, when Chromium or Playwright is missing, except under
``CI=true``, where that fails. No browser is downloaded: Playwright is pointed at
the system binary.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def pytest_collection_modifyitems(config, items):
    reason = None
    if CHROMIUM is None:
        reason = "browser test SKIPPED: chromium not found (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "browser test SKIPPED: the Python package playwright is not installed"
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            if reason and ci:
                raise pytest.UsageError(f"{reason}; under CI=true the browser tests must run")
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(folder: Path) -> None:
    """User settings for the test's JupyterLab only: every cell stays in the page
    (no windowing, so a widget far down can be scrolled to), and no news toast."""
    import json

    for name, value in {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
    }.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value), encoding="utf-8")


class Lab:
    """A running JupyterLab server serving a copy of ``notebooks/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        settings = root.parent / f"{root.name}-settings"
        _write_settings(settings)
        # Workspaces (the open tabs JupyterLab reopens on the next page load) in a folder of
        # this server's own: the user's folder is shared by every JupyterLab of the account,
        # earlier test runs included, and a tab restored from it opens a notebook, and starts a
        # kernel, that the test did not ask for (see driver.py).
        env = dict(os.environ, CH9_MODEL_SOURCE="bundled", HF_HUB_OFFLINE="1",
                   TRANSFORMERS_OFFLINE="1", JUPYTER_PLATFORM_DIRS="1",
                   JUPYTERLAB_SETTINGS_DIR=str(settings),
                   JUPYTERLAB_WORKSPACES_DIR=str(root.parent / f"{root.name}-workspaces"))
        env.pop("MPLBACKEND", None)  # the kernel must keep its inline backend
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={self.port}",
            "--ip=127.0.0.1", f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None", "--ServerApp.open_browser=False",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log = open(root / "lab.log", "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self._wait()

    def _wait(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited: see {self.root / 'lab.log'}")
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2)
                return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError("JupyterLab did not start within 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("lab")
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(nb, root / nb.name)  # run copies: the committed outputs stay untouched
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_student import build

    build(root / "student", sorted((ROOT / "notebooks").glob("09_*.ipynb")))
    server = Lab(root)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "page" in item.funcargs:
        try:  # what the page looked like when the test failed
            item.funcargs["page"].screenshot(path=str(BUILD / f"FAILED-{item.name}.png"))
        except Exception:  # noqa: BLE001 - a screenshot must not hide the failure
            pass


def _shutdown_kernels(lab: Lab) -> None:
    """Stop every kernel, so each test's notebook runs on a quiet machine."""
    import json

    base = f"{lab.url}/api/kernels"
    with urllib.request.urlopen(f"{base}?token={lab.token}", timeout=10) as r:
        kernels = json.load(r)
    for k in kernels:
        req = urllib.request.Request(f"{base}/{k['id']}?token={lab.token}", method="DELETE")
        urllib.request.urlopen(req, timeout=30).close()


@pytest.fixture
def page(browser, lab, request):
    BUILD.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    t0 = time.monotonic()
    console = open(BUILD / f"console-{request.node.name}.log", "w", encoding="utf-8", buffering=1)
    pg.on("console", lambda m: console.write(f"{time.monotonic() - t0:8.2f} {m.type}: {m.text}\n"))
    pg.on("pageerror", lambda e: console.write(f"{time.monotonic() - t0:8.2f} pageerror: {e}\n"))
    yield pg
    console.close()
    context.close()
    _shutdown_kernels(lab)
