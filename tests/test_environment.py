"""pyproject.toml holds every pin; constraints.txt, binder/, environment.yml and pre-commit follow it.

`make lock` (tools/lock.py) writes those files from pyproject.toml; these tests fail when one of them
disagrees with it on a version, so a pin changed by hand in one place cannot go unnoticed.
"""

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import reslib
from tools import lock

ROOT = Path(__file__).resolve().parents[1]
PROJECT = lock.read_project()
PINS = lock.versions(PROJECT.pins)  # {canonical name: version}, every pin of pyproject.toml
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
    "nbformat": "nbformat",
    "nbclient": "nbclient",
    "nbconvert": "nbconvert",
    "jinja2": "jinja2",
    "nbgrader": "nbgrader",
    "ipykernel": "ipykernel",
    "jupyter_server_mathjax": "jupyter-server-mathjax",
    "jupyterlab": "jupyterlab",
    "IPython": "jupyterlab",
    "reslib": None,
    "tools": None,
}


def pins_in(lines: list[str]) -> dict[str, str]:
    """`{canonical name: version}` of lines that pin with `==`; a name pinned twice is an error."""
    found = {}
    for line in lines:
        match = lock.PIN.match(line.strip())
        if match:
            name = lock.canonical(match["name"])
            assert name not in found, f"{name} is pinned twice"
            found[name] = match["version"]
    return found


def environment_yml() -> tuple[list[str], list[str]]:
    """environment.yml's conda packages and its pip lines (the entries under `- pip:`)."""
    conda, pip = [], []
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("\ndependencies:") :].splitlines()[1:]:
        if (m := re.match(r"^  - (\S+)$", line)) and m[1] != "pip:":
            conda.append(m[1])
        elif m := re.match(r"^      - (.+)$", line):
            pip.append(m[1].strip())
    return conda, pip


def binder_lines() -> list[str]:
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_every_pyproject_requirement_is_an_exact_pin():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [r for g in project["optional-dependencies"].values() for r in g]
    assert [r for r in reqs if not lock.PIN.match(r)] == []
    assert len(PINS) == len(reqs), "a package is pinned in two groups"
    assert set(project["optional-dependencies"]) == {"lab", "test", "course"}


def test_constraints_pin_every_package_at_pyprojects_version():
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pinned = pins_in(lines)
    differ = {
        name: (version, pinned.get(name)) for name, version in PINS.items() if pinned.get(name) != version
    }
    assert not differ, f"pyproject.toml vs constraints.txt (run make lock): {differ}"
    assert [line for line in lines if not line.startswith("#")][0] == f"torch=={PINS['torch']}"
    assert all(lock.PIN.match(line) for line in lines if not line.startswith("#")), "a line is not a pin"


def test_binder_pins_the_runtime_and_lab_packages_at_pyprojects_versions():
    lines = binder_lines()
    wanted = lock.versions(PROJECT.runtime + PROJECT.extras["lab"])
    assert pins_in(lines) == wanted, "binder/requirements.txt vs pyproject.toml: run make lock"
    assert not set(pins_in(lines)) & set(lock.versions(PROJECT.extras["test"])), "Binder runs no tests"
    assert f"--extra-index-url {lock.TORCH_INDEX}" in lines  # CPU-only PyTorch
    assert [line for line in lines if not lock.PIN.match(line)] == [f"--extra-index-url {lock.TORCH_INDEX}"]


def test_environment_yml_pins_every_package_at_pyprojects_version():
    conda, pip = environment_yml()
    assert conda == [f"python={PROJECT.python}", "pip"], "conda gives Python and pip; pip the rest"
    learner = {k: v for k, v in PINS.items() if k not in lock.versions(PROJECT.extras["course"])}
    assert pins_in(pip) == learner, "environment.yml vs pyproject.toml: run make lock"
    assert "nbgrader" not in pins_in(pip), "nbgrader is for lecturers, in its own environment"
    assert pip[:2] == [f"--extra-index-url {lock.TORCH_INDEX}", "--constraint constraints.txt"]
    assert pip[-1] == "--editable ."


def test_one_python_version_everywhere():
    assert PROJECT.python == "3.11"
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == f"python-{PROJECT.python}"
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert ruff["target-version"] == "py" + PROJECT.python.replace(".", "")
    version = tuple(map(int, PROJECT.python.split(".")))
    assert f"sys.version_info < {version}" in (ROOT / "Makefile").read_text()
    assert sys.version_info >= version


def test_pre_commit_runs_the_pinned_ruff():
    text = (ROOT / ".pre-commit-config.yaml").read_text()
    revs = re.findall(r"repo: https://github.com/astral-sh/ruff-pre-commit\n\s+rev: v(\S+)", text)
    assert revs == [PINS["ruff"]], (
        f".pre-commit-config.yaml runs ruff {revs}, pyproject.toml pins {PINS['ruff']}"
    )


def test_every_generated_file_is_what_make_lock_writes():
    assert lock.check(PROJECT) == [], "run make lock"


def changed_pin(tmp_path: Path, name: str, version: str) -> lock.Project:
    """pyproject.toml's pins with one of them changed (in a copy)."""
    path = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text()
    path.write_text(text.replace(f'"{name}=={PINS[name]}"', f'"{name}=={version}"'))
    return lock.read_project(path)


def test_make_lock_follows_a_changed_pin_and_keeps_every_other(tmp_path):
    project = changed_pin(tmp_path, "tqdm", "4.66.0")
    assert project.version("tqdm") == "4.66.0" and project.version("torch") == PINS["torch"]
    kept = lock.kept_constraints(project, (ROOT / "constraints.txt").read_text())
    assert not [line for line in kept if line.lower().startswith("tqdm==")]  # free to move
    assert f"numpy=={PINS['numpy']}" in kept and f"torch=={PINS['torch']}" in kept
    assert "\ntqdm==4.66.0\n" in lock.render_binder(project)
    assert "      - tqdm==4.66.0\n" in lock.render_environment(project)
    frozen = ["Jinja2==3.1.6", "tqdm==4.66.0", "torch==2.13.0+cpu", "anyio==4.16.0"]  # as pip freeze
    pins = lock.render_constraints(project, frozen).splitlines()[2:]
    assert pins == [f"torch=={PINS['torch']}", "anyio==4.16.0", "Jinja2==3.1.6", "tqdm==4.66.0"]
    ruff = changed_pin(tmp_path, "ruff", "0.9.0")
    pre_commit = lock.render_pre_commit(ruff, (ROOT / ".pre-commit-config.yaml").read_text())
    assert "rev: v0.9.0\n" in pre_commit and pre_commit.count("rev: ") == 1


def test_make_lock_does_not_need_an_installed_venv():
    lock_rule = recipe("lock")
    assert lock_rule.splitlines()[0].strip() == "", "lock must not depend on install (its old pins conflict)"
    assert "$(PYTHON) -m tools.lock" in lock_rule


def recipe(target: str) -> str:
    """The Makefile's rule for `target`: its prerequisites line and its commands."""
    return (ROOT / "Makefile").read_text().split(f"\n{target}:", 1)[1].split("\n\n", 1)[0]


def test_ci_lints_first_then_runs_each_test_once():
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert [line.split()[1] for line in lines if line.startswith("make ")] == ["lint", "test"]
    assert "pytest" not in recipe("lint")  # lint runs no test, and make test runs each one once
    assert recipe("test").count("pytest tests") == 1


def test_make_clean_removes_everything_gitignore_names():
    clean = recipe("clean")
    for line in (ROOT / ".gitignore").read_text().split():
        name = line.strip("/")
        assert ("$(VENV)" if name == ".venv" else name) in clean, f"make clean leaves {line}"


def test_the_version_is_written_once():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "reslib.__version__"}
    assert importlib.metadata.version("reslib") == reslib.__version__


def test_bare_pytest_collects_from_the_repository_root():
    """`pytest` (not only `python -m pytest`, which puts the cwd on sys.path) imports tools/."""
    pytest_script = Path(sys.executable).parent / "pytest"
    if not pytest_script.exists():
        pytest.skip(f"no pytest script beside {sys.executable}")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [str(pytest_script), "--collect-only", "-q", "-p", "no:cacheprovider", "tests/test_lab.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "test_the_command_binds_localhost_and_passes_the_token" in run.stdout


def test_binder_starts_jupyter_with_one_thread():
    start = ROOT / "binder" / "start"
    assert os.access(start, os.X_OK), "binder/start must be executable"
    lines = [line.strip() for line in start.read_text().splitlines() if not line.startswith("#")]
    assert "export OMP_NUM_THREADS=1" in lines and "export MKL_NUM_THREADS=1" in lines
    assert lines[-1] == 'exec "$@"'  # then Binder's own command, unchanged


def test_the_binder_bench_pins_one_cpu_and_cuts_the_network():
    pytest.importorskip("nbclient")  # tools.bench runs notebooks: the lab extra
    from tools import bench

    command = bench.binder_command(["--binder"])
    if command is None:
        pytest.skip("no taskset here (not Linux)")
    i = command.index("taskset")
    assert command[i : i + 3] == ["taskset", "-c", "0"]
    assert command[-2:] == ["tools.bench", "--binder"]
    if os.geteuid() == 0 and shutil.which("unshare") and shutil.which("ip"):
        assert command[:2] == ["unshare", "--net"] and "ip link set lo up" in command[4]


def test_the_bench_counts_the_seconds_of_the_cells_that_train():
    pytest.importorskip("nbclient")  # tools.bench runs notebooks: the lab extra
    import nbformat

    from tools import bench

    def cell(source, start, end):
        times = {
            "iopub.execute_input": f"2026-01-01T00:00:{start}Z",
            "shell.execute_reply": f"2026-01-01T00:00:{end}Z",
        }
        return nbformat.v4.new_code_cell(source, metadata={"execution": times})

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        cell("import reslib as rl", "00.000000", "02.000000"),
        cell("rl.train.fit(net, data, epochs=3, lr=0.1)", "02.000000", "05.500000"),
        cell("runs = rl.runtime.parallel(calls)", "05.500000", "07.000000"),
        cell("rl.sequences.train_sequence_models(models, data, 150, 3e-3)", "07.000000", "08.000000"),
        cell("scaled_runs = train_scaled()", "08.000000", "08.250000"),
        cell("rl.viz.depth_explorer()  # profit(x), data.x_train(: not a training", "08.250000", "09.000000"),
        nbformat.v4.new_code_cell("rl.train.fit(net, data)"),  # never ran: no times
        nbformat.v4.new_markdown_cell("`fit(model, data)` trains"),
    ]
    assert bench.training_seconds(nb) == pytest.approx(6.25)


def third_party_imports(source: str) -> set[str]:
    """Top-level names of every absolute import, function-level ones included."""
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


def assert_declared(sources, declared: set[str], where: str) -> None:
    for path, source in sources:
        for module in third_party_imports(source):
            assert module in IMPORT_TO_PYPI, f"{path.relative_to(ROOT)} imports {module}: add it to the map"
            dist = IMPORT_TO_PYPI[module]
            assert dist is None or dist in declared, (
                f"{path.relative_to(ROOT)} imports {module}, not in {where}"
            )


def test_every_third_party_import_is_declared():
    # reslib and the notebooks run on Binder: what they import is a runtime or lab pin, in every file
    binder = set(pins_in(binder_lines()))
    conda = set(pins_in(environment_yml()[1]))
    library = [(p, p.read_text()) for p in sorted((ROOT / "reslib").rglob("*.py"))]
    assert len(library) > len(list((ROOT / "reslib").glob("*.py")))  # the subpackages too
    assert_declared([*library, *notebook_sources()], binder & conda, "binder/requirements.txt")
    # the tools run in make's .venv (lab and test extras); the course's in .venv-course (+ course)
    tools = [(p, p.read_text()) for p in sorted((ROOT / "tools").glob("*.py"))]
    course = {"course.py", "grading_kernel.py"}
    assert_declared([t for t in tools if t[0].name not in course], set(PINS) & conda, "pyproject.toml")
    assert_declared([t for t in tools if t[0].name in course], set(PINS), "pyproject.toml")


def test_nbval_formats_a_kernel_message_only_when_its_debug_line_is_kept(caplog):
    """conftest.py defers nbval's `pformat` of each kernel message (1.3 s of notebook 11's test)."""
    import logging
    import pprint

    from nbval import kernel

    assert kernel.pformat is not pprint.pformat  # conftest.py's LazyFormat stands in its place
    msg = {"header": {"msg_type": "stream"}, "content": {"text": "x" * 200, "name": "stdout"}}
    assert str(kernel.pformat(msg)) == pprint.pformat(msg)

    class Counted(dict):
        formats = 0

        def __repr__(self):
            Counted.formats += 1
            return super().__repr__()

    logger = logging.getLogger(kernel.__name__)
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.debug("Kernel message (%s):\n%s", "iopub", kernel.pformat(Counted(a=1)))
    assert Counted.formats == 0  # no debug log kept: never formatted
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        logger.debug("Kernel message (%s):\n%s", "iopub", kernel.pformat(Counted(a=1)))
    assert Counted.formats >= 1 and "{'a': 1}" in caplog.text  # once per handler that keeps it


def test_importing_nbformat_builds_no_grammar():
    # Every kernel that shows a plotly figure imports nbformat (plotly's renderers check its version), and
    # so does every nbval run. jsonschema >= 4.25 imports rfc3987-syntax there, which builds a Lark
    # grammar: 0.7-1 s each time on 2 cores (pyproject.toml holds jsonschema at 4.24).
    code = "import sys, nbformat, plotly.io as pio; pio.renderers.default; print(sorted(sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(ast.literal_eval(run.stdout))
    assert not {"lark", "rfc3987_syntax"} & loaded, (
        "importing nbformat loads rfc3987-syntax, whose Lark grammar costs every kernel about a second: "
        "keep jsonschema below 4.25 in pyproject.toml, or find what else brings it"
    )
