"""pyproject.toml, environment.yml and binder/ must describe the same environment."""

import ast
import json
import os
import re
import shutil
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch-cpu": "torch"}
IMPORT_TO_PYPI = {
    "torch": "torch",
    "numpy": "numpy",
    "mnist1d": "mnist1d",
    "tqdm": "tqdm",
    "plotly": "plotly",
    "anywidget": "anywidget",
    "ipywidgets": "ipywidgets",
    "pytest": "pytest",
    "psutil": "psutil",
    "playwright": "playwright",
    "reslib": None,
    "IPython": "jupyterlab",
}


def name_of(requirement: str) -> str:
    """The distribution name, normalised as pip does (jupyterlab_rise == jupyterlab-rise)."""
    return re.sub(r"[-_.]+", "-", re.split(r"[\s=<>!~\[;]", requirement.strip(), maxsplit=1)[0].lower())


def pyproject_packages() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [r for group in project["optional-dependencies"].values() for r in group]
    return {name_of(r) for r in reqs}


def environment_yml_packages() -> set[str]:
    names = set()
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("dependencies:") :].splitlines():
        m = re.match(r"^\s*-\s+([A-Za-z0-9_.\-]+)", line)
        if m and not line.strip().startswith("- --"):
            names.add(CONDA_TO_PYPI.get(name_of(m.group(1)), name_of(m.group(1))))
    return names - {"python", "pip"}


def binder_packages() -> set[str]:
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    return {name_of(l) for l in lines if l.strip() and not l.lstrip().startswith(("#", "-"))}


def test_the_three_environments_name_the_same_packages():
    pyproject = pyproject_packages()
    assert environment_yml_packages() == pyproject
    assert binder_packages() == pyproject


def test_pins_agree_between_pyproject_and_binder():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [r for g in project["optional-dependencies"].values() for r in g]
    binder = {l.strip() for l in (ROOT / "binder" / "requirements.txt").read_text().splitlines()}
    assert set(reqs) <= binder


def test_constraints_pin_every_package_at_pyprojects_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [r for g in project["optional-dependencies"].values() for r in g]
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            pins[name_of(line)] = line.split("==", 1)[1].strip()
    for req in reqs:
        assert pins.get(name_of(req)) == req.split("==", 1)[1], f"constraints.txt does not pin {req}"


def test_binder_starts_jupyter_with_one_thread():
    start = ROOT / "binder" / "start"
    assert os.access(start, os.X_OK), "binder/start must be executable"
    lines = [line.strip() for line in start.read_text().splitlines() if not line.startswith("#")]
    assert "export OMP_NUM_THREADS=1" in lines and "export MKL_NUM_THREADS=1" in lines
    assert lines[-1] == 'exec "$@"'  # then Binder's own command, unchanged


def test_the_binder_bench_pins_one_cpu_and_cuts_the_network():
    from tools import bench

    command = bench.binder_command(["--binder"])
    if command is None:
        pytest.skip("no taskset here (not Linux)")
    i = command.index("taskset")
    assert command[i : i + 3] == ["taskset", "-c", "0"]
    assert command[-2:] == ["tools.bench", "--binder"]
    if os.geteuid() == 0 and shutil.which("unshare") and shutil.which("ip"):
        assert command[:2] == ["unshare", "--net"] and "ip link set lo up" in command[4]


def third_party_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names}


def notebook_sources():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        yield path, "\n".join(l for l in code.splitlines() if not l.lstrip().startswith(("%", "!")))


def test_every_third_party_import_is_declared_everywhere():
    sources = [(p, p.read_text()) for p in sorted((ROOT / "reslib").glob("*.py"))]
    sources += list(notebook_sources())
    declared = pyproject_packages() & environment_yml_packages() & binder_packages()
    for path, source in sources:
        for module in third_party_imports(source):
            assert module in IMPORT_TO_PYPI, f"{path.name} imports {module}: add it to the map"
            dist = IMPORT_TO_PYPI[module]
            assert dist is None or dist in declared, f"{path.name} imports {module}, undeclared"
