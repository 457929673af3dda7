"""`make lab` (tools/lab.py): 127.0.0.1 and a fresh token on the command line, which no config can undo."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import jsonschema
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
    ran, installed = [], []
    monkeypatch.setattr(lab.os, "execv", lambda path, cmd: ran.append(cmd))
    monkeypatch.setattr(lab, "install_settings", lambda: installed.append(True))
    lab.main(["--no-browser"])
    lab.main(["--no-browser"])
    first, second = ran
    token = next(a for a in first if a.startswith("--IdentityProvider.token=")).split("=", 1)[1]
    assert len(token) >= 32 and token not in " ".join(second)  # fresh each time
    assert f"/lab?token={token}" in capsys.readouterr().out
    assert first[-1] == lab.FIRST_NOTEBOOK
    assert installed == [True, True]  # the settings, before every start


def test_the_settings_switch_off_the_news_and_keep_the_interface_english():
    settings = json.loads(lab.SETTINGS.read_text())
    notification = settings["@jupyterlab/apputils-extension:notification"]
    assert notification == {"fetchNews": "false", "checkForUpdates": False}
    assert settings["@jupyterlab/translation-extension:plugin"] == {"locale": "en"}  # Korean: a choice


def test_the_korean_language_pack_is_installed():
    """Settings -> Language lists 한국어, and JupyterLab's own strings have Korean translations."""
    pytest.importorskip("jupyterlab_server")  # the lab extra, as in every test that needs JupyterLab
    from jupyterlab_server.translation_utils import get_language_pack, get_language_packs

    packs, message = get_language_packs()
    assert "ko_KR" in packs, f"no Korean language pack ({message or 'make install'})"
    korean, _ = get_language_pack("ko_KR")
    assert korean["jupyterlab"]["Settings"] == ["설정"]


def test_every_setting_is_one_jupyterlab_knows(tmp_path):
    """Each override names an installed plugin's setting and a value its schema accepts."""
    pytest.importorskip("jupyterlab")
    from jupyter_core.paths import jupyter_path
    from jupyterlab.commands import get_app_dir
    from jupyterlab_server.settings_utils import get_settings

    lab.install_settings(tmp_path)
    for plugin, values in json.loads(lab.SETTINGS.read_text()).items():
        found, warnings = get_settings(
            str(tmp_path / "settings"),
            str(Path(get_app_dir()) / "schemas"),
            str(tmp_path / "user-settings"),
            schema_name=plugin,
            labextensions_path=jupyter_path("labextensions"),
        )
        assert not [w for w in warnings if w], warnings
        for key, value in values.items():
            schema = found["schema"]["properties"][key]  # KeyError: no such setting
            jsonschema.validate(value, schema)
            assert schema["default"] == value, f"JupyterLab did not read {plugin}:{key} from the file"


def test_make_install_and_binder_install_the_settings(tmp_path):
    makefile = (ROOT / "Makefile").read_text()
    install = makefile.split("\n$(STAMP):", 1)[1].split("\n\n", 1)[0]
    lab_files = makefile.split("\nLAB_FILES := ", 1)[1].split("\n", 1)[0].split()
    assert "$(LAB_FILES)" in install.splitlines()[0]  # a changed file re-installs
    shipped = [p.relative_to(ROOT).as_posix() for p in lab.RISE_WIDGETS.rglob("*") if p.is_file()]
    assert sorted(lab_files) == sorted(["binder/overrides.json", *shipped])
    assert "$(PY) -m tools.lab --install-settings" in install
    assert "python -m tools.lab --install-settings" in (ROOT / "binder" / "postBuild").read_text()
    target = lab.install_settings(tmp_path)
    assert target == tmp_path / "settings" / "overrides.json"
    assert target.read_bytes() == lab.SETTINGS.read_bytes()
    extension = tmp_path.parent / "labextensions" / "reslib-rise-widgets"
    assert lab.extension_path(tmp_path) == extension
    package = json.loads((extension / "package.json").read_text())
    assert package["name"] == lab.RISE_WIDGETS_NAME
    assert (extension / package["jupyterlab"]["_build"]["load"]).is_file()


def test_make_labs_environment_has_the_settings():
    """`make install` ran in this environment: JupyterLab here reads the series' overrides."""
    pytest.importorskip("jupyterlab")
    target = lab.settings_path()
    assert target.parent.name == "settings"
    if not target.exists():
        pytest.skip(f"{target} is missing: this environment was not made by `make install`")
    assert json.loads(target.read_text()) == json.loads(lab.SETTINGS.read_text()), "run make install"
    installed = lab.extension_path() / "static" / "remoteEntry.js"
    assert installed.exists(), "the RISE widgets extension is missing: run make install"
    assert installed.read_bytes() == (lab.RISE_WIDGETS / "static" / "remoteEntry.js").read_bytes()


def test_the_makefile_starts_lab_through_tools_lab():
    recipe = (ROOT / "Makefile").read_text().split("\nlab: install\n", 1)[1].split("\n\n", 1)[0]
    assert "-m tools.lab" in recipe and "jupyter lab" not in recipe


@pytest.mark.slow
def test_a_config_that_empties_the_token_cannot_turn_authentication_off(tmp_path):
    pytest.importorskip("jupyterlab")
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


@pytest.mark.parametrize(
    "arg",
    [
        "--ServerApp.ip=0.0.0.0",
        "--ip=0.0.0.0",
        "--IdentityProvider.token=",
        "--port=80",
        "--ServerApp.allow_remote_access=True",
    ],
)
def test_a_callers_arguments_cannot_open_the_server_or_drop_the_token(arg):
    with pytest.raises(ValueError, match="sets the address, port and token itself"):
        lab.command("abc123", 8899, [arg])
    assert lab.command("abc123", 8899, ["--allow-root"])[-1] == "--allow-root"  # others pass through
