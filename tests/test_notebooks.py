"""Notebook hygiene: what nbval cannot see (size, stripped widget state, structure)."""

import ast
import builtins
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_series_starts_with_notebook_01():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "01_sequential_networks.ipynb"
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(NOTEBOOKS) + 1))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_small_stripped_and_executed(path):
    assert path.stat().st_size < 2_000_000
    nb = json.loads(path.read_text())
    assert "widgets" not in nb["metadata"], "strip the widget state: make outputs"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code), "store outputs: make outputs"
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_template(path):
    nb = json.loads(path.read_text())
    text = ["".join(c["source"]) for c in nb["cells"]]
    markdown = "\n".join(t for c, t in zip(nb["cells"], text, strict=True) if c["cell_type"] == "markdown")
    assert text[0].startswith(f"# {path.name[:2]} · ")
    for heading in ("Learning goals", "| key term | 한국어 |", "Exercises", "Summary", "References"):
        assert heading in markdown, f"{path.name} lacks '{heading}'"
    code = "\n".join(t for c, t in zip(nb["cells"], text, strict=True) if c["cell_type"] == "code")
    assert "rl.checks.check_" in code and "raise NotImplementedError" in code
    assert "cuda" not in code.replace("rl.device()", ""), "never hard-code a device"
    assert "get_dataset(" not in code and "torch.load(" not in code


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_plots_and_widgets_are_not_compared_by_nbval(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        kinds = {k for o in cell["outputs"] for k in o.get("data", {})}
        if kinds & {"application/vnd.plotly.v1+json", "application/vnd.jupyter.widget-view+json"}:
            assert "# NBVAL_IGNORE_OUTPUT" in "".join(cell["source"]), "".join(cell["source"])[:80]


# Module aliases a notebook function may use without taking them as arguments. They are
# the series' imports (setup cells and one `import math`): modules, not values, so they
# cannot change between cells the way a notebook variable (x, t, data, SEED) can.
MODULES = {"rl", "torch", "nn", "F", "np", "math", "itertools", "copy", "functools"}


def _names_bound_in(nodes: list[ast.AST]) -> set[str]:
    """Names a scope binds (assignments, loops, with/except targets, imports, nested defs)."""
    bound, declared_global = set(), set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            continue  # its body is its own scope
        elif isinstance(node, ast.Lambda):
            continue
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            declared_global |= set(node.names)
        stack.extend(ast.iter_child_nodes(node))
    return bound - declared_global


def _names_loaded_in(nodes: list[ast.AST]) -> tuple[set[str], list[ast.AST]]:
    """Names a scope reads, and the functions nested in it (checked as scopes of their own)."""
    loaded, nested = set(), []
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            loaded.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            nested.append(node)
            stack.extend(node.args.defaults + [d for d in node.args.kw_defaults if d])
            stack.extend(getattr(node, "decorator_list", []))
            continue
        stack.extend(ast.iter_child_nodes(node))
    return loaded, nested


def _function_globals(fn: ast.AST, enclosing: set[str], allowed: set[str]) -> list[str]:
    """'fn reads x' for every name `fn` (or a function inside it) reads from the notebook's globals."""
    a = fn.args
    params = {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg] if p}
    body = fn.body if isinstance(fn.body, list) else [fn.body]
    local = enclosing | params | _names_bound_in(body)
    loaded, nested = _names_loaded_in(body)
    name = getattr(fn, "name", "<lambda>")
    found = [f"{name} reads {n}" for n in sorted(loaded - local - allowed)]
    for inner in nested:
        found += _function_globals(inner, local, allowed)
    return found


def notebook_functions_reading_globals(cells: dict[int, str]) -> list[str]:
    """Every notebook-global name read inside a function defined in `cells` (cell index -> code).

    Allowed: parameters and locals (of the function or one that encloses it), builtins,
    the module aliases in MODULES, and the functions and classes the notebook defines.
    Checked: every `def` (methods included) and the lambdas inside one. A lambda at the
    top level of a cell is an expression read where it stands, next to the values it uses.
    """
    trees = {i: ast.parse(source) for i, source in cells.items()}
    defined = {
        node.name
        for tree in trees.values()
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    allowed = set(dir(builtins)) | MODULES | defined
    found = []
    for i, tree in trees.items():
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_outermost(fn, tree):
                found += [f"cell {i}: {message}" for message in _function_globals(fn, set(), allowed)]
    return found


def _is_outermost(fn: ast.AST, tree: ast.Module) -> bool:
    """True for a function at the top of a cell or a method of a top-level class (not nested)."""
    return fn in tree.body or any(isinstance(node, ast.ClassDef) and fn in node.body for node in tree.body)


def test_the_global_detector_finds_a_function_that_reads_a_notebook_global():
    cells = {
        0: "import torch\nimport reslib as rl\nx0, t = 0.5, 1.0",
        2: "def loss(w):\n    h = torch.sigmoid(w * x0)\n    return 0.5 * (h - t) ** 2",
        3: "def fine(w, x0, t):\n    h = [torch.sigmoid(w * v) for v in (x0,)]\n"
        "    return helper(h, t) + len(h)",
        4: "def helper(h, t):\n    inner = lambda z: z * t\n    return inner(h[0])",
        5: "def outer(a):\n    def inner(b):\n        return a + b + t\n    return inner",
        6: "scale = 2\nclass Net(torch.nn.Module):\n    def forward(self, x):\n        return x * scale",
        7: "def counter():\n    global total\n    return total + 1",
        8: "print(sorted([3, 1], key=lambda v: v * t))",
    }
    assert notebook_functions_reading_globals(cells) == [
        "cell 2: loss reads t",
        "cell 2: loss reads x0",
        "cell 5: inner reads t",
        "cell 6: forward reads scale",
        "cell 7: counter reads total",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_functions_take_what_they_use_as_arguments(path):
    nb = json.loads(path.read_text())
    cells = {i: "".join(c["source"]) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"}
    found = notebook_functions_reading_globals(cells)
    assert not found, (
        f"pass these as arguments (CONTRIBUTING.md: no function reads a notebook global): {found}"
    )


# Learners never met the study notes this series grew from (CONTRIBUTING.md, "Words a learner reads"):
# random seeds (SEED, seed=0) are fine; "the seed notes", "seed note 001" or `SeedStandard` are not.
SOURCE_NOTES = re.compile(r"(?i:seed[ -]?notes?\b|seed-\d|seed blog|the seed's)|\bSeed[A-Z]\w*")


@pytest.mark.parametrize(
    "path", NOTEBOOKS + sorted((ROOT / "notebooks" / "solutions").glob("*.py")), ids=lambda p: p.name
)
def test_learner_text_never_calls_the_source_notes_seed(path):
    if path.suffix == ".ipynb":
        text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
    else:
        text = path.read_text()
    assert not SOURCE_NOTES.findall(text), "say 'a popular tutorial' or 'study notes', or state the claim"


def test_the_source_notes_pattern_spares_random_seeds():
    assert not SOURCE_NOTES.search("SEED = 0\nrl.set_seed(SEED)\nseed=s, seeds=(0, 1). Seeds 0 and 1.")
    for leak in ("the seed notes", "our seed note 001", "seed-001 block", "class SeedStandard", "Seed notes"):
        assert SOURCE_NOTES.search(leak), leak


def _printed(cell) -> str:
    out = []
    for o in cell["outputs"]:
        out.append("".join(o.get("text", "")))
        out.append("".join(o.get("data", {}).get("text/plain", "")))
    return "".join(out)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_printed_claim_is_also_asserted(path):
    # A lesson's claim printed as True/False must be an assert too: on a GPU nbval runs lax and
    # compares no output, so only the assert checks the claim there.
    nb = json.loads(path.read_text())
    bare = []
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or "NBVAL_IGNORE_OUTPUT" in source or "assert" in source:
            continue
        if re.search(r"\b(True|False)\b", _printed(cell)):
            bare.append(i)
    assert not bare, f"cells {bare} print True/False without an assert: assert the claim, with a margin"
