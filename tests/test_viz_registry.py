"""The explorer registry: every explorer registered, built from its demo, driven through every control.

One parametrized test per registered explorer replaces a list kept by hand in each test file: a new
explorer is built and driven here as soon as it is registered, and a test fails until it is.
"""

import ast
import json
import re
import typing
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

import reslib as rl
from reslib.viz.registry import EXPLORERS, register_explorer

ROOT = Path(__file__).resolve().parents[1]
VIZ = ROOT / "reslib" / "viz"


def _builders() -> dict[str, object]:
    """Every public function of rl.viz that returns an `Explorer`."""
    found = {}
    for name in rl.viz.__all__:
        obj = getattr(rl.viz, name)
        if callable(obj) and not isinstance(obj, type):
            hints = typing.get_type_hints(getattr(obj, "__wrapped__", obj))
            if hints.get("return") is rl.viz.Explorer:
                found[name] = obj
    return found


def test_every_function_that_builds_an_explorer_is_registered():
    builders = _builders()
    assert len(builders) >= 17  # the series' explorers, found by their return type
    missing = sorted(set(builders) - set(EXPLORERS))
    assert not missing, f"register {missing} with reslib.viz.registry.register_explorer next to the function"
    assert all(EXPLORERS[name].factory is builders[name] for name in builders)
    assert set(EXPLORERS) == set(builders)  # and nothing else is


def _drawing(explorer: rl.viz.Explorer) -> str:
    """What the figure draws now: its traces and layout, as plotly's JSON."""
    return explorer.figure.to_json()


def _others(explorer: rl.viz.Explorer, control: str) -> list:
    """Other values of one control: its ends and a few between, every option of a dropdown."""
    current = explorer.values[control]
    return [v[control] for v in rl.viz.control_grid(explorer, [control], 400) if v[control] != current]


BUILT: dict[str, rl.viz.Explorer] = {}  # each explorer is built once, by the first test below


def _built(name: str) -> rl.viz.Explorer:
    if name not in BUILT:
        BUILT[name] = EXPLORERS[name].build()
    return BUILT[name]


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_every_registered_explorer_builds_from_its_demo_and_every_control_redraws(name):
    entry = EXPLORERS[name]
    rng = torch.get_rng_state()
    explorer = BUILT[name] = entry.build()
    assert torch.equal(torch.get_rng_state(), rng), "the demo or the build changed torch's global RNG"
    assert isinstance(explorer, rl.viz.Explorer) and explorer.name == name
    assert explorer.error is None, explorer.error
    assert set(entry.sweep) <= set(explorer.controls), f"sweep {entry.sweep} names no control of {name}"
    start = explorer.values
    for control in explorer.controls:
        before, changed = _drawing(explorer), []
        for value in _others(explorer, control):  # the first value that draws something else will do
            explorer.update(**{control: value})
            assert explorer.error is None, f"{name} failed at {control}={value!r}: {explorer.error}"
            if _drawing(explorer) != before:
                changed.append(value)
                break
        assert changed, f"{name}: moving {control!r} away from {start[control]!r} never changed the figure"
        explorer.update(**start)
    # numpy arrays in widget traces make plotly raise in the kernel when plotly.js echoes them back
    arrays = [
        k for t in explorer.figure.data for k in ("x", "y", "z") if k in t and isinstance(t[k], np.ndarray)
    ]
    assert not arrays, f"{name} puts numpy arrays in its traces' {arrays}: use plain_list"


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_a_static_copy_without_controls_steps_through_the_registered_sweep(name):
    explorer, sweep = _built(name), EXPLORERS[name].sweep
    figure = rl.viz.static_explorer(explorer, max_frames=12)
    grid = rl.viz.control_grid(explorer, sweep, 12)
    assert [frame.name for frame in figure.frames] == [
        ", ".join(f"{k}={v}" for k, v in g.items()) for g in grid
    ]


def _static_calls(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """(explorer, controls) of each static copy there: `rl.viz.static_explorer(<explorer>, controls)`.

    <explorer> is `rl.viz.<name>(...)`, or a variable an earlier cell assigned it to (the live explorer).
    """
    calls, built = [], {}  # built: variable -> the rl.viz function whose explorer it holds
    cells = json.loads(path.read_text())["cells"]
    for tree in (ast.parse("".join(c["source"])) for c in cells if c["cell_type"] == "code"):
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and node.value.func.attr.endswith("_explorer")
            ):
                built |= {target.id: node.value.func.attr for target in node.targets}
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "static_explorer":
                inner, controls = node.args[0], ast.literal_eval(node.args[1])
                name = built[inner.id] if isinstance(inner, ast.Name) else inner.func.attr
                calls.append((name, (controls,) if isinstance(controls, str) else tuple(controls)))
    return calls


NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_the_registered_sweeps_are_the_notebooks_static_copies():
    calls = [call for path in NOTEBOOKS for call in _static_calls(path)]
    assert len(calls) >= 17
    for explorer, controls in calls:
        assert explorer in EXPLORERS, f"a notebook's static copy of {explorer}, which is not registered"
        registered = EXPLORERS[explorer].sweep
        assert registered == controls, f"{explorer}: a notebook sweeps {controls}, the registry {registered}"


@pytest.mark.parametrize(
    "path",
    NOTEBOOKS + sorted((ROOT / "notebooks" / "ko").glob("[0-9][0-9]_*.ipynb")),
    ids=lambda p: str(p.relative_to(ROOT / "notebooks")),
)
def test_each_static_copy_sweeps_the_live_explorer_not_a_second_one(path):
    # a second explorer would compute again, and every frontend would load one more plotly model for it
    cells = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    copies = [
        node
        for tree in map(ast.parse, cells)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "static_explorer"
    ]
    built = [ast.unparse(c.args[0]) for c in copies if not isinstance(c.args[0], ast.Name)]
    assert not built, f"{path.name}: static copies of a new explorer {built}; pass the live one's variable"


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_each_explorer_is_shown_live_in_its_notebook(name):
    path = ROOT / "notebooks" / f"{EXPLORERS[name].notebook}.ipynb"
    assert path.exists(), f"{name}: no notebook {path.name}"
    cells = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    live = [c for c in cells if f"rl.viz.{name}(" in c and "static_explorer(" not in c]
    assert live, f"{path.name} never builds rl.viz.{name} live"


def test_register_explorer_refuses_what_it_cannot_use():
    euler = EXPLORERS["euler_explorer"]

    def not_an_explorer_name():
        return euler.factory()

    with pytest.raises(ValueError, match="factory must be a function named like"):
        register_explorer(not_an_explorer_name, euler.demo, ("depth",), euler.notebook)
    with pytest.raises(ValueError, match="sweep must name one or more distinct controls"):
        register_explorer(euler.factory, euler.demo, ("depth", "depth"), euler.notebook)
    with pytest.raises(ValueError, match="sweep"):
        register_explorer(euler.factory, euler.demo, (), euler.notebook)
    with pytest.raises(ValueError, match="notebook must be"):
        register_explorer(euler.factory, euler.demo, ("depth",), "10_why_residual_nets_train.ipynb")
    with pytest.raises(TypeError, match="demo must be a function"):
        register_explorer(euler.factory, dict, ("depth",), euler.notebook)

    def euler_explorer():  # another function under a registered name
        return euler.factory()

    with pytest.raises(ValueError, match="already registered by reslib.viz.euler"):
        register_explorer(euler_explorer, euler.demo, ("depth",), euler.notebook)
    again = register_explorer(euler.factory, euler.demo, euler.sweep, euler.notebook)
    assert again == euler and EXPLORERS["euler_explorer"] == euler  # the module itself may register again


def test_find_trace_finds_one_trace_by_its_key():
    figure = go.Figure([go.Scatter(y=[1], name="shown", meta="a"), go.Bar(y=[2], meta="b")])
    assert rl.viz.find_trace(figure, "b").type == "bar"
    with pytest.raises(ValueError, match=r"key 'shown' names 0 traces .* \['a', 'b'\]"):
        rl.viz.find_trace(figure, "shown")  # the legend's name is not the key
    figure.add_trace(go.Scatter(meta="a"))
    with pytest.raises(ValueError, match="key 'a' names 2 traces"):
        rl.viz.find_trace(figure, "a")


def _sources() -> list[tuple[str, str]]:
    return [(path.name, path.read_text()) for path in sorted(VIZ.glob("*.py"))]


def test_updaters_find_traces_by_key_not_by_position():
    assert re.search(r"\.data\[", "fig.data[4].x = []")  # the pattern finds positional access
    offenders = [name for name, text in _sources() if re.search(r"\.data\[", text)]
    assert not offenders, (
        f"{offenders} index figure.data by position: give the trace a meta key, use find_trace"
    )


def test_colours_and_layout_come_from_the_style_module():
    colour = re.compile(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b")
    offenders = {
        name: colour.findall(text) for name, text in _sources() if name != "style.py" and colour.search(text)
    }
    assert not offenders, f"colours typed outside reslib/viz/style.py: {offenders}"
    layouts = [
        name for name, text in _sources() if name != "style.py" and re.search(r"^LAYOUT\s*=", text, re.M)
    ]
    assert not layouts, f"a layout defined outside reslib/viz/style.py: {layouts}"


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_every_explorer_draws_its_tick_labels_without_plotlys_overflow_check(name):
    """reslib/viz/style.py: the check cost half of each redraw in a slideshow (a layout per label)."""
    layout = _built(name).figure.layout
    axes = [k for k in layout.to_plotly_json() if k.startswith(("xaxis", "yaxis"))] or ["xaxis", "yaxis"]
    for axis in axes:
        own = layout[axis].ticklabeloverflow  # None: the template's
        assert (own or layout.template.layout[axis[0] + "axis"].ticklabeloverflow) == "allow", axis


def test_the_internal_updaters_are_private():
    public = [name for name in rl.viz.__all__ if name.startswith("update_")]
    assert not public, f"{public}: an updater is wiring, not an API; drive the explorer or the figure builder"
