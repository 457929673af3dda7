"""A JupyterLab server on 127.0.0.1 serving a throw-away copy of the notebooks, and a Chromium."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ROOT = Path(__file__).resolve().parents[2]
# Debian installs chromium, Ubuntu and others chromium-browser: look on the PATH, not at one path.
CHROMIUM = Path(shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium")
# Without the background-networking flags Chromium hangs on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Keep every cell in the DOM (no windowing) and stop JupyterLab asking the network for news.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def notebooks_dir() -> Path:
    """The notebooks under test: `RESLIB_NOTEBOOKS_DIR`, else the repository's `notebooks/`."""
    return Path(os.environ.get("RESLIB_NOTEBOOKS_DIR", ROOT / "notebooks")).resolve()


def require_browser() -> None:
    """Skip without Chromium or Playwright; fail instead where RESLIB_REQUIRE_BROWSER is set (CI)."""
    missing = None
    if not CHROMIUM.exists():
        missing = (
            f"Chromium not found: no chromium or chromium-browser on the PATH, nor {CHROMIUM} "
            "(Debian/Ubuntu: apt-get install chromium)"
        )
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed (make install)"
    if missing and os.environ.get("RESLIB_REQUIRE_BROWSER"):
        pytest.fail(missing)
    if missing:
        pytest.skip(missing)


@dataclass
class Lab:
    url: str
    token: str
    root: Path

    def notebook_url(self, name: str) -> str:
        # `reset` starts from an empty workspace, so only this notebook is open.
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"

    def api(self, path: str, method: str = "GET") -> object:
        request = urllib.request.Request(
            f"{self.url}/api/{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        """End every session, so finished notebooks' kernels do not hold memory and CPU."""
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Start JupyterLab on a copy of the notebooks with a random token; stop it afterwards."""
    require_browser()
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    shutil.copytree(notebooks_dir(), root)  # JupyterLab autosaves: never serve the originals
    for name, value in LAB_SETTINGS.items():
        path = base / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    port, token = free_port(), secrets.token_hex(24)
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # never wander to another port
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={base / 'settings'}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
        "--LabApp.expose_app_in_browser=True",
    ]  # window.jupyterapp, as JupyterLab's own UI tests use
    if hasattr(os, "getuid") and os.getuid() == 0:
        cmd.append("--allow-root")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(base / "config")}  # ignore ~/.jupyter
    log_path = base / "lab.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env)
        url = f"http://127.0.0.1:{port}"
        lab = Lab(url, token, root)
        deadline = time.monotonic() + 60
        while True:
            try:
                lab.api("status")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    pytest.fail(f"JupyterLab did not start; {log_path}:\n{log_path.read_text()[-2000:]}")
                time.sleep(0.5)
        try:
            yield lab
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture(scope="session")
def browser(lab: Lab, chromium: Browser) -> Browser:
    """Debian's Chromium, driven by Playwright (no browser download), with the JupyterLab server up."""
    return chromium


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium for pages that need no JupyterLab (the static site); skips where it is missing."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The median slider-to-redraw times the browser tests measured (target <= 80 ms), where they ran,
    and how many plotly messages the notebooks' views held while their slideshows drew."""
    from .lab_view import REDRAW_MS
    from .test_slides import HELD_BEHIND_SLIDES, SLIDES_REDRAW_MS

    for where, times in (("JupyterLab", REDRAW_MS), ("the RISE slideshow (a mouse drag)", SLIDES_REDRAW_MS)):
        if times:
            ordered = sorted(times)
            terminalreporter.write_line(
                f"slider-to-redraw in {where}: median {statistics.median(ordered):.0f} ms over "
                f"{len(ordered)} moves (fastest {ordered[0]:.0f}, slowest {ordered[-1]:.0f}; "
                f"target median <= 80 ms)"
            )
    if HELD_BEHIND_SLIDES:
        terminalreporter.write_line(
            f"plotly messages the notebooks' own views held, off screen, while their slideshows drew: "
            f"{sum(HELD_BEHIND_SLIDES.values())} in {len(HELD_BEHIND_SLIDES)} notebooks "
            f"(none in {sorted(n for n, held in HELD_BEHIND_SLIDES.items() if held == 0)})"
        )
