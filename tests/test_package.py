"""The package's shape: no import cycle, no private name crossing modules, no star import, small modules."""

import ast
from pathlib import Path

import pytest

import reslib as rl

PACKAGE = Path(rl.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 320  # STYLE.md: "under ~300 lines", counted after ruff format (plus the @typechecked lines)


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    tree = ast.parse(path.read_text())
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _graph() -> dict[str, set[str]]:
    names = {_name(p) for p in MODULES}
    graph = {}
    for path in MODULES:
        edges = set()
        for node in _imports(path):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reslib"):
                targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
                edges.add(next(t for t in targets if t in names))
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in names)
        graph[_name(path)] = edges - {_name(path)}
    return graph


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


def test_core_is_the_ground_floor():
    assert _graph()["reslib.argtypes"] == set(), "reslib.argtypes imports nothing from reslib"
    assert _graph()["reslib.core"] <= {"reslib.argtypes"}, "reslib.core imports only reslib.argtypes"
    assert _graph()["reslib.checks.answers"] == set(), "reslib.checks.answers imports nothing from reslib"
    assert _graph()["reslib.checks.core"] <= {"reslib.argtypes", "reslib.core", "reslib.checks.answers"}, (
        "reslib.checks.core imports no topic module"
    )


def test_every_check_and_figure_is_one_hop_away():
    for package in (rl.viz, rl.checks):
        for module in {_name(p) for p in MODULES if _name(p).startswith(package.__name__ + ".")}:
            sub = __import__(module, fromlist=["__all__"])
            missing = set(sub.__all__) - set(package.__all__)
            assert not missing, f"{module} exports {sorted(missing)}; {package.__name__} must re-export them"
