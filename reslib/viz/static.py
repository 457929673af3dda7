"""Static explorers: a live explorer driven through a grid of its controls, one plotly frame per value.

Without a kernel (a website, a Binder still starting) a live explorer is dead. `static_explorer` runs
its own `update(**values)` (the same compute and figure code) for each value of its main control(s) and
keeps each drawing as a frame of a `go.Figure` with a slider: the two cannot drift.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import json
import math
import re
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from reslib.language import tr
from reslib.validate import require_int, typechecked
from reslib.viz.explorer import Explorer
from reslib.viz.registry import EXPLORERS
from reslib.viz.style import STATUS_TEXT

__all__ = ["control_grid", "static_explorer"]

MAX_FRAMES = 400  # more frames than this would store megabytes in a notebook
_SIGNIFICANT = 4  # digits kept of every float: the JSON stays small and plots look the same
_LABELLED_STEPS = 12  # above this many steps the slider shows only the current value's label
_TYPED_LENGTH = 16  # numeric lists at least this long are stored as typed arrays


def _round(value: object) -> object:
    """Floats to 4 significant digits, NaN and inf to None, tuples and arrays to lists, recursively."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return float(f"{value:.{_SIGNIFICANT}g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_round(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return _round(value.tolist())
    return value


def _is_number(v: object) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _array(values: list) -> np.ndarray:
    """float32, or float64 where a value is past float32's range (notebook 04 draws such values)."""
    a = np.array(values, dtype=float)
    return a if np.nanmax(np.abs(a), initial=0.0) > 1e38 else a.astype(np.float32)


def _typed(value: object) -> object:
    """Long numeric lists (and rectangular lists of them) as NumPy arrays, recursively.

    plotly stores an array as one base64 string (a typed array plotly.js reads), about 5 bytes
    a number, where a notebook's indented JSON spends about 20 on each listed number. None (a
    gap) becomes NaN, which plotly.js draws as a gap too.
    """
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if not isinstance(value, list) or not value:
        return value
    rows = value if all(isinstance(r, list) for r in value) else None
    if rows and len({len(r) for r in rows}) == 1 and all(_is_number(v) for r in rows for v in r):
        return _array([[np.nan if v is None else v for v in r] for r in rows])
    if len(value) >= _TYPED_LENGTH and all(_is_number(v) for v in value):
        return _array([np.nan if v is None else v for v in value])
    return [_typed(v) for v in value]


def _thin(values: list, count: int) -> list:
    """At most `count` of `values`, evenly spaced, first and last kept."""
    if len(values) <= count:
        return values
    indices = np.unique(np.linspace(0, len(values) - 1, count).round().astype(int))
    return [values[i] for i in indices]


def _numeric(control: widgets.ValueWidget) -> list | None:
    """Every value a numeric slider can take, or None for a control of another kind."""
    if isinstance(control, widgets.IntSlider):
        return list(range(control.min, control.max + 1, control.step))
    if isinstance(control, widgets.FloatLogSlider):
        exponents = np.arange(control.min, control.max + control.step / 2, control.step)
        return [float(f"{control.base**e:.10g}") for e in exponents]
    if isinstance(control, widgets.FloatSlider):
        return [
            round(float(v), 10) for v in np.arange(control.min, control.max + control.step / 2, control.step)
        ]
    return None


def _discrete(name: str, control: widgets.ValueWidget) -> list:
    """Every option of a dropdown, toggle, selection slider or check box."""
    if isinstance(control, (widgets.Checkbox, widgets.ToggleButton)):
        return [False, True]
    options = getattr(control, "options", None)
    if options is None:
        raise TypeError(
            f"controls: {name!r} is a {type(control).__name__}, which static_explorer cannot step through; "
            "name sliders, dropdowns, toggle buttons, selection sliders or check boxes"
        )
    return [o[1] if isinstance(o, tuple) and len(o) == 2 and isinstance(o[0], str) else o for o in options]


@typechecked
def control_grid(explorer: Explorer, controls: str | Sequence[str], max_frames: int = 60) -> list[dict]:
    """The combinations of the named controls' values, at most `max_frames`: what a static copy draws.

    Integer and float sliders are thinned evenly (ends kept), so that every slider gets the same
    number of values; dropdowns, toggle buttons, selection sliders and check boxes give all their
    options. The benchmark steps through the grid of all of an explorer's controls.

    Args:
        explorer: a live explorer.
        controls: the name of one of its controls, or several distinct names.
        max_frames: at most this many combinations (1 to 400).

    Returns:
        One dict of control values per combination, the last control changing fastest.

    Raises:
        ValueError: an unknown or repeated control, or a grid that cannot fit in `max_frames`.
        TypeError: a named control that cannot be stepped through (a text box, a button).
    """
    max_frames = require_int(
        "max_frames", max_frames, minimum=1, maximum=MAX_FRAMES, fix="e.g. max_frames=60"
    )
    names = [controls] if isinstance(controls, str) else list(controls)
    unknown = [n for n in names if n not in explorer.controls]
    if unknown or not names or len(set(names)) < len(names):
        raise ValueError(
            f"controls must name distinct controls of this explorer, one or more of "
            f"{sorted(explorer.controls)}, got {controls!r}; e.g. controls={sorted(explorer.controls)[0]!r}"
        )
    numeric = {n: _numeric(explorer.controls[n]) for n in names}
    discrete = {n: _discrete(n, explorer.controls[n]) for n in names if numeric[n] is None}
    fixed = math.prod(len(v) for v in discrete.values())
    sliders = [n for n in names if numeric[n] is not None]
    share = int((max_frames / fixed) ** (1 / len(sliders)) + 1e-9) if sliders else 0
    if fixed > max_frames or (sliders and share < 2):
        sizes = ", ".join(f"{n}: {len(discrete.get(n) or numeric[n])}" for n in names)
        raise ValueError(
            f"controls: {names} make too many frames for max_frames={max_frames} ({sizes} values); "
            "name fewer controls (e.g. controls=['" + names[0] + "']) or raise max_frames"
        )
    values = {n: discrete[n] if n in discrete else _thin(numeric[n], share) for n in names}
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(values[n] for n in names))]


def _label(combo: dict) -> str:
    def show(v: object) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    return ", ".join(f"{k}={show(v)}" for k, v in combo.items())


def _status(explorer: Explorer) -> str:
    """The status line's sentence as plain text plotly can show (its own tags removed)."""
    text = html.unescape(re.sub(r"<[^>]+>", "", explorer.status.value))
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _snapshot(explorer: Explorer) -> tuple[list[dict], dict]:
    """The figure's traces and layout (without its template), floats rounded."""
    figure = explorer.figure
    data = [_round(trace.to_plotly_json()) for trace in figure.data]
    layout = figure.layout.to_plotly_json()
    layout.pop("template", None)
    layout = _round(layout)
    title = layout.get("title", {}).get("text") if isinstance(layout.get("title"), dict) else None
    status = _status(explorer)
    layout["title"] = {"text": f"{title}<br><sub>{status}</sub>" if title else status, "font": {"size": 13}}
    if title:  # two lines above the subplot titles
        layout["margin"] = {**layout.get("margin", {}), "t": max(layout.get("margin", {}).get("t", 0), 100)}
    return data, layout


def _varies(values: object) -> bool:
    return len({json.dumps(v, sort_keys=True) for v in values}) > 1


def _changing(layouts: list[dict]) -> list[str]:
    """The top-level layout keys whose value is not the same in every frame."""
    return [
        k for k in sorted({k for layout in layouts for k in layout}) if _varies(x.get(k) for x in layouts)
    ]


def _frame_layout(layout: dict, keys: list[str], ranged: set[str]) -> dict:
    part = {k: layout.get(k) for k in keys}
    for k in ranged:  # an axis whose range is fixed in some frames and free in others
        part[k] = {**(part[k] or {}), "autorange": "range" not in (part[k] or {})}
    return part


def _fill(traces: list[list[dict]]) -> list[list[dict]]:
    """Each frame's traces with only the keys that change between frames.

    A key some frames lack is None there (plotly resets it); `visible` is always explicit, and
    `type` always kept (a frame's trace without one would be read as a scatter).
    What every frame shares stays in the figure's own traces only: the JSON stays small.
    """
    for i in range(len(traces[0])):
        keys = {k for frame in traces for k in frame[i]}
        for frame in traces:
            frame[i].setdefault("visible", True)
            for k in keys - frame[i].keys():
                frame[i][k] = None
    changing = [
        [k for k in traces[0][i] if k == "type" or _varies(f[i][k] for f in traces)]
        for i in range(len(traces[0]))
    ]
    return [
        [{k: trace[k] for k in keys} for trace, keys in zip(frame, changing, strict=True)] for frame in traces
    ]


@typechecked
def static_explorer(
    explorer: Explorer, controls: str | Sequence[str] | None = None, max_frames: int = 60
) -> go.Figure:
    """The explorer as a plain plotly figure with its own slider: one precomputed frame per value.

    The explorer is driven through every combination of the named controls' values with
    `explorer.update(**values)` (its own compute and figure code), and each drawing is kept as
    a plotly frame; its values are restored afterwards. Integer and float sliders are thinned
    to at most `max_frames` values (evenly spaced, ends kept); dropdowns, toggle buttons,
    selection sliders and check boxes give all their options (`control_grid`). A value the
    explorer cannot draw keeps its slider step, marked "(could not draw)", with the error as its title.
    Meanwhile its widgets hold their messages: each sends what changed once, at the end, so the
    sweep's drawings never reach an open view or a frontend (427 messages, 623 kB, for notebook 03's
    path explorer).

    Args:
        explorer: a live explorer, e.g. `rl.viz.variance_explorer()`; in a notebook, the one shown
            above (not a second one: it would compute again, and every frontend would load its model).
        controls: the control name(s) to step through (keys of `explorer.controls`); None: the
            sweep registered for this explorer (`reslib.viz.registry.EXPLORERS[explorer.name].sweep`),
            or the first control of an explorer that is not registered.
        max_frames: at most this many frames (1 to 400).

    Returns:
        A `go.Figure` with `frames` and a slider whose steps animate to them; it starts at the
        frame nearest the explorer's values, and draws without a kernel.

    Raises:
        ValueError: an unknown control, a grid larger than `max_frames`, or no value drawable.
        TypeError: a named control that cannot be stepped through (a text box, a button).
    """
    if controls is None:
        entry = EXPLORERS.get(explorer.name) if explorer.name is not None else None
        controls = entry.sweep if entry is not None else list(explorer.controls)[:1]
    grid = control_grid(explorer, controls, max_frames)
    names = list(grid[0])
    original = explorer.values
    frames: list[tuple[list[dict], dict] | None] = []
    errors: list[Exception] = []
    # The sweep is the kernel's own business: its widgets send what changed once, at the end (the values
    # restored), not every drawing to every open view and to every frontend that holds its models.
    with contextlib.ExitStack() as held:
        for widget in (explorer, explorer.figure, explorer.status, *explorer.controls.values()):
            held.enter_context(widget.hold_sync())
        try:
            for combo in grid:
                explorer.update(**combo)
                if explorer.error is not None:
                    errors.append(explorer.error)
                    frames.append(None)
                else:
                    frames.append(_snapshot(explorer))
        finally:
            explorer.update(**original)
    drawn = [f for f in frames if f is not None]
    if not drawn:
        raise ValueError(
            f"explorer could not draw any of the {len(grid)} values of controls {names}; "
            f"the first error: {type(errors[0]).__name__}: {errors[0]}"
        ) from errors[0]
    if len({len(data) for data, _ in drawn}) > 1:
        raise ValueError(
            "explorer changed its number of traces between values; a static copy needs fixed ones"
        )
    labels = [_label(combo) for combo in grid]
    frames_drawn = [f is not None for f in frames]
    failed, blank = iter(errors), [{"type": t.get("type"), "visible": False} for t in drawn[0][0]]
    for i, frame in enumerate(frames):
        if frame is None:
            exc = next(failed)
            message = tr("could not draw: {error}: {message}", error=type(exc).__name__, message=str(exc))
            frames[i] = (blank, {"title": {"text": message.replace("<", "&lt;")}})
            labels[i] = tr("{values} (could not draw)", values=labels[i])
    start = _nearest(grid, original, frames_drawn)
    return _assemble(frames, labels, start, explorer.figure.layout.template)


def _nearest(grid: list[dict], values: dict, drawn: list[bool]) -> int:
    """The index of the drawn combination closest to the explorer's own values (the slider starts there)."""

    def distance(combo: dict) -> tuple:
        return tuple(
            abs(v - values[k]) if v is not None and _is_number(v) else v != values[k]
            for k, v in combo.items()
        )

    return min((i for i in range(len(grid)) if drawn[i]), key=lambda i: distance(grid[i]))


def _assemble(frames: list, labels: list[str], start: int, template: object) -> go.Figure:
    """The figure: the start frame drawn, every frame attached, one slider step per frame."""
    datas = _fill([data for data, _ in frames])
    layouts = [layout for _, layout in frames]
    keys = _changing(layouts)
    axes = [k for k in keys if re.fullmatch(r"[xy]axis\d*", k)]
    ranged = {k for k in axes if _varies("range" in (x.get(k) or {}) for x in layouts)}
    base_data, base_layout = frames[start]
    animate = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    steps = [dict(method="animate", label=label, args=[[label], animate]) for label in labels]
    legend = base_layout.get("legend", {})
    below = (
        60 if legend.get("orientation") == "h" and legend.get("y", 1) < 0 else 0
    )  # a legend under the plot
    current = dict(font=dict(size=13, color=STATUS_TEXT))
    slider = dict(active=start, steps=steps, pad=dict(t=60 + below), currentvalue=current)
    if len(steps) > _LABELLED_STEPS:
        slider["font"] = dict(color="rgba(0,0,0,0)")  # many labels overlap: the current one shows above
    height = (base_layout.get("height") or 450) + 90 + below
    figure = go.Figure(data=_typed(base_data), layout={**base_layout, "sliders": [slider], "height": height})
    figure.layout.template = template
    figure.frames = [
        go.Frame(name=label, data=_typed(data), layout=_frame_layout(layout, keys, ranged))
        for label, data, (_, layout) in zip(labels, datas, frames, strict=True)
    ]
    return figure
