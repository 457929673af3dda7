"""The Colab path, tested without Colab: `rl.runtime.colab_setup`, the install snippet, the links.

What these tests cannot show: that Colab's network, its preinstalled torch and plotly, and its widget
frontend work with the notebooks. The README's "On Colab" says so.
"""

import importlib.util
import json
import re
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

import reslib as rl
from tools.site import BINDER, REPOSITORY

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# The top of every setup cell, after its nbval marker. Where reslib is missing (on Colab only) it installs
# reslib without its pinned dependencies, which would replace Colab's torch, numpy and plotly (gigabytes),
# then the two Colab lacks, at our pins. Edit it here and in all notebooks together.
COLAB_INSTALL = """\
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("reslib") is None:  # on Colab: add reslib and what Colab lacks, keep its torch
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.check_call([*pip, "--no-deps", "git+https://github.com/reslib/reslib"])
    subprocess.check_call([*pip, "mnist1d==0.0.2.post1", "anywidget==0.11.0"])

"""
# The one line after `import reslib as rl` (and its blank line) in every setup cell.
COLAB_CALL = "rl.runtime.colab_setup()"
# What Colab's runtime brings itself; every other dependency of reslib is installed by COLAB_INSTALL.
COLAB_HAS = {"torch", "numpy", "tqdm", "plotly", "ipywidgets"}
# The repository is the one the website's and the README's Binder links name (tools/site.py).
PIP = [sys.executable, "-m", "pip", "install", "-q"]
PIP_COMMANDS = [
    [*PIP, "--no-deps", f"git+https://github.com/{REPOSITORY}"],
    [*PIP, "mnist1d==0.0.2.post1", "anywidget==0.11.0"],
]
COLAB = f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{{file}}"


@pytest.fixture
def widget_manager(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A fake `google.colab.output` whose `enable_custom_widget_manager` records each call."""
    calls: list[str] = []
    output = types.ModuleType("google.colab.output")
    output.enable_custom_widget_manager = lambda: calls.append("enable_custom_widget_manager")
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)  # off Colab, until a test adds it
    return calls


def test_on_colab_the_widget_manager_is_turned_on_once(widget_manager, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    said = rl.runtime.colab_setup()
    assert widget_manager == ["enable_custom_widget_manager"]
    assert "widget manager" in said
    assert capsys.readouterr() == ("", "")


def test_off_colab_nothing_is_called_or_printed(widget_manager, capsys):
    said = rl.runtime.colab_setup()
    assert widget_manager == []
    assert said == "not on Colab: nothing to do"
    assert capsys.readouterr() == ("", "")
    assert rl.runtime.colab_setup(on_colab=False) == said and widget_manager == []


def test_on_colab_can_be_forced_for_a_test(widget_manager):
    rl.runtime.colab_setup(on_colab=True)
    assert widget_manager == ["enable_custom_widget_manager"]


def test_a_forced_colab_without_google_colab_is_refused_by_name(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab.output", None)  # None in sys.modules: ImportError
    with pytest.raises(ValueError, match=r"on_colab=True.*leave on_colab at None"):
        rl.runtime.colab_setup(on_colab=True)
    with pytest.raises(TypeError, match="on_colab"):
        rl.runtime.colab_setup(on_colab="yes")


def _run_snippet(monkeypatch: pytest.MonkeyPatch, reslib_missing: bool) -> list[list[str]]:
    """Exec COLAB_INSTALL with pip replaced by a recorder; return the commands it would have run."""
    commands: list[list[str]] = []
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if reslib_missing and name == "reslib" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(subprocess, "check_call", lambda command: commands.append(command) or 0)
    exec(COLAB_INSTALL, {})
    return commands


def test_the_snippet_installs_reslib_from_github_when_it_is_missing(monkeypatch):
    assert _run_snippet(monkeypatch, reslib_missing=True) == PIP_COMMANDS


def test_the_snippet_installs_at_our_pins_what_colab_lacks():
    """A new dependency in pyproject.toml, or a pin `make lock` moved, fails until the snippet follows."""
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lacking = sorted(pin for pin in pins if pin.split("==")[0] not in COLAB_HAS)
    assert sorted(PIP_COMMANDS[1][len(PIP) :]) == lacking


def test_the_snippet_does_nothing_where_reslib_is_importable(monkeypatch):
    assert _run_snippet(monkeypatch, reslib_missing=False) == []


def test_a_failed_install_stops_the_setup_cell(monkeypatch):
    def pip_fails(command: list[str]) -> int:
        raise subprocess.CalledProcessError(1, command)

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    monkeypatch.setattr(subprocess, "check_call", pip_fails)
    with pytest.raises(subprocess.CalledProcessError):
        exec(COLAB_INSTALL, {})


def _cells(path: Path) -> list[str]:
    return ["".join(cell["source"]) for cell in json.loads(path.read_text())["cells"]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_setup_cell_starts_with_the_snippet_and_calls_colab_setup(path):
    setup = _cells(path)[2]
    assert setup.startswith("# NBVAL_IGNORE_OUTPUT\n" + COLAB_INSTALL), f"{path.name}: copy COLAB_INSTALL"
    assert f"import reslib as rl\n\n{COLAB_CALL}  #" in setup, f"{path.name}: call it after the import"
    assert setup.count("check_call(") == 2 and setup.count(COLAB_CALL) == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_links_to_itself_on_binder_and_colab(path):
    title = _cells(path)[0]
    links = dict(re.findall(r"\[Open in (\w+)\]\(([^)]+)\)", title))
    assert links == {"Binder": BINDER.format(file=path.name), "Colab": COLAB.format(file=path.name)}


def test_the_readme_links_every_notebook_on_binder_and_colab():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        row = next(line for line in readme.splitlines() if line.startswith(f"| {path.name[:2]} |"))
        assert f"]({BINDER.format(file=path.name)})" in row, row
        assert f"]({COLAB.format(file=path.name)})" in row, row
    assert "## On Colab" in readme
