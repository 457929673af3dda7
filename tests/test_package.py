"""The package's shape: no import cycle, no private name across modules, no star import, one home per job."""

import ast
import json
import re
from pathlib import Path

import pytest

import reslib as rl

PACKAGE = Path(rl.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
ROOT = PACKAGE.parent
# A runaway file, not a budget: modules are split along ideas (CONTRIBUTING.md), never to fit a count.
MAX_LINES = 600


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    tree = ast.parse(path.read_text())
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _edges(nodes: list[ast.ImportFrom | ast.Import], names: set[str]) -> set[str]:
    """The reslib modules that these import statements reach (every one: `from reslib import a, b`)."""
    edges = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reslib"):
            modules = {f"{node.module}.{a.name}" for a in node.names} & names
            edges.update(modules or {node.module})
        elif isinstance(node, ast.Import):
            edges.update(a.name for a in node.names if a.name in names)
    return edges


def _graph() -> dict[str, set[str]]:
    names = {_name(p) for p in MODULES}
    return {_name(p): _edges(_imports(p), names) - {_name(p)} for p in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle among modules, ignoring the edges of a package to its own submodules."""
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + "."):  # a package re-exporting its submodules
                continue
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_the_cycle_detector_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"p": {"p.x"}, "p.x": {"q"}, "q": set()}) == []


def test_the_graph_keeps_every_module_of_one_import():
    tree = ast.parse(
        "from reslib import mlp, blocks\nfrom reslib.validate import require_int\nimport reslib.viz"
    )
    nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert _edges(nodes, {_name(p) for p in MODULES}) == {
        "reslib.mlp",
        "reslib.blocks",
        "reslib.validate",
        "reslib.viz",
    }


def test_reslib_has_no_import_cycle():
    assert _cycles(_graph()) == []


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_private_name_or_star_is_imported_across_modules(path):
    for node in _imports(path):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reslib"):
            names = [a.name for a in node.names]
            assert "*" not in names, f"{_name(path)}: star import from {node.module}"
            private = [n for n in names if n.startswith("_")]
            where = f"{_name(path)} imports private {private} from {node.module}"
            assert not private, f"{where}: promote or move it"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_modules_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{_name(path)} has {lines} lines; split it by topic"


def test_the_ground_floor_imports_nothing_above_it():
    graph = _graph()
    assert graph["reslib.validate"] == set(), "reslib.validate imports nothing from reslib"
    assert graph["reslib.guard"] <= {"reslib.validate"}, "reslib.guard imports only reslib.validate"
    for module in ("reslib.workers", "reslib.layers", "reslib.inits"):
        assert graph[module] <= {"reslib.validate", "reslib.guard"}, f"{module} imports only the guards"
    # runtime.parallel's worker processes: a module of their own, on the same floor
    assert graph["reslib.runtime"] <= {"reslib.validate", "reslib.guard", "reslib.workers"}
    # what reslib says, in the learner's language: every level may speak, so it stands on validation only
    assert graph["reslib.language"] <= {"reslib.validate"}, "reslib.language imports only reslib.validate"
    speak = {"reslib.language"}
    assert graph["reslib.checks.answers"] <= {"reslib.runtime"} | speak, "checks.answers: the RNGs only"
    assert graph["reslib.checks.values"] <= speak, "reslib.checks.values: nothing but the words"
    # and reslib.checks itself, when grade() is called, to look its check up by name
    grading = {"reslib.validate", "reslib.checks"} | speak
    assert graph["reslib.checks.grading"] <= grading, "grading: validation only"
    ground = {"reslib.validate", "reslib.runtime", "reslib.checks.answers", "reslib.checks.values"}
    ground |= {"reslib.checks.grading"} | speak
    assert graph["reslib.checks.core"] <= ground, "reslib.checks.core imports no topic module"


def _functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_check_means_an_exercise_check_only(path):
    """Argument checks are `require_*` in reslib.validate; `check_*` names the graders in reslib.checks."""
    if _name(path).startswith("reslib.checks"):
        return
    named = [f for f in _functions(path) if re.match(r"_?check_", f)]
    assert not named, f"{_name(path)} defines {named}: call an argument check require_* (reslib.validate)"


# The idioms that change global state, written once in reslib.runtime (local_seed, num_threads).
BY_HAND = re.compile(r"\bfork_rng\(|\bset_num_threads\(|\bget_num_threads\(")


def _sources() -> list[tuple[str, str]]:
    found = [(str(p.relative_to(ROOT)), p.read_text()) for p in MODULES if _name(p) != "reslib.runtime"]
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        found.append((str(path.relative_to(ROOT)), "\n".join(code)))
    return found


def test_the_rng_and_thread_idioms_live_in_runtime_only():
    assert BY_HAND.search("with torch.random.fork_rng(devices=[]):")  # the pattern finds the idiom
    offenders = {where: BY_HAND.findall(text) for where, text in _sources() if BY_HAND.search(text)}
    assert not offenders, f"use reslib.runtime.local_seed / num_threads instead: {offenders}"


def test_every_check_and_figure_is_one_hop_away():
    for package in (rl.viz, rl.checks):
        for module in {_name(p) for p in MODULES if _name(p).startswith(package.__name__ + ".")}:
            sub = __import__(module, fromlist=["__all__"])
            missing = set(sub.__all__) - set(package.__all__)
            assert not missing, f"{module} exports {sorted(missing)}; {package.__name__} must re-export them"
