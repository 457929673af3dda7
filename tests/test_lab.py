"""`make lab` (tools/lab.py): 127.0.0.1 and a fresh token on the command line, which no config can undo."""

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tools import lab

ROOT = Path(__file__).resolve().parents[1]


def test_the_command_binds_localhost_and_passes_the_token():
    cmd = lab.command("abc123", 8899, ["--allow-root", "notebooks/01_sequential_networks.ipynb"])
    assert cmd[:4] == [sys.executable, "-m", "jupyter", "lab"]
    assert "--ServerApp.ip=127.0.0.1" in cmd and "--IdentityProvider.token=abc123" in cmd
    assert "--ServerApp.port=8899" in cmd and "--ServerApp.port_retries=0" in cmd
    with pytest.raises(ValueError, match="empty token"):
        lab.command("", 8899, [])


def test_main_prints_the_url_with_the_token_it_passes(monkeypatch, capsys):
    ran = []
    monkeypatch.setattr(lab.os, "execv", lambda path, cmd: ran.append(cmd))
    lab.main(["--no-browser"])
    lab.main(["--no-browser"])
    first, second = ran
    token = next(a for a in first if a.startswith("--IdentityProvider.token=")).split("=", 1)[1]
    assert len(token) >= 32 and token not in " ".join(second)  # fresh each time
    assert f"/lab?token={token}" in capsys.readouterr().out
    assert first[-1] == lab.FIRST_NOTEBOOK


def test_the_makefile_starts_lab_through_tools_lab():
    recipe = (ROOT / "Makefile").read_text().split("\nlab: install\n", 1)[1].split("\n\n", 1)[0]
    assert "-m tools.lab" in recipe and "jupyter lab" not in recipe


@pytest.mark.slow
def test_a_config_that_empties_the_token_cannot_turn_authentication_off(tmp_path):
    # the review's attack: a user config with an empty token and a public bind
    config = 'c.IdentityProvider.token = ""\nc.ServerApp.ip = "0.0.0.0"\n'
    (tmp_path / "jupyter_server_config.py").write_text(config)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    args = [sys.executable, "-m", "tools.lab", "--no-browser"]
    if os.getuid() == 0:
        args.append("--allow-root")
    server = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        url = re.search(
            r"http://127\.0\.0\.1:(\d+)/lab\?token=(\S+)", server.stdout.readline() + server.stdout.readline()
        )
        assert url, "tools.lab printed no URL"
        base, token = f"http://127.0.0.1:{url[1]}", url[2]

        def status(path):
            try:
                return urllib.request.urlopen(base + path, timeout=5).status
            except urllib.error.HTTPError as e:
                return e.code

        deadline = time.monotonic() + 60
        while True:
            try:
                ok = status(f"/api/status?token={token}")
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline and server.poll() is None, "JupyterLab did not start"
                time.sleep(0.5)
        assert ok == 200
        assert status("/api/contents") == 403  # no token: refused, despite the config
    finally:
        server.terminate()
        server.wait(timeout=30)
