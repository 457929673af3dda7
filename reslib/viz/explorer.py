"""The shared base of every explorer and figure: `Explorer`, traces found by key, plotly-safe values.

Every explorer is an `Explorer`: controls on top, a status line, and a
`go.FigureWidget` redrawn inside `batch_update()` whenever a control moves.
`Explorer.update(**values)` moves controls from code, so tests (and lecturers)
can drive an explorer without a browser. Updaters find the traces they redraw with
`find_trace(figure, key)`, by the key a figure builder put in the trace's `meta`, never by position.
"""

from __future__ import annotations

import copy
import html
from collections.abc import Callable, Mapping

import ipywidgets as widgets
import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import torch
from plotly.basedatatypes import BaseTraceType

from reslib.language import LANGUAGES, local_language, tr
from reslib.validate import require_bool, require_float, require_int, require_tensor, typechecked
from reslib.viz.style import ERROR_TEXT, STATUS_TEXT

__all__ = [
    "UPDATE_LIMIT",
    "Explorer",
    "architecture_label",
    "find_trace",
    "image_grid",
    "image_trace",
    "is_explorer_note",
    "plain_list",
    "require_control",
]


@typechecked
def find_trace(figure: go.Figure | go.FigureWidget, key: str) -> BaseTraceType:
    """The one trace of `figure` whose `meta` is `key`.

    Figure builders give each trace an updater redraws a key (`go.Scatter(..., meta="norms")`),
    and updaters look it up here, so adding or reordering traces cannot redraw the wrong one.
    The key is the trace's `meta`, not its `name`: a name shows in legends and hover labels,
    `meta` only where a hover template asks for `%{meta}`.

    Raises:
        ValueError: no trace, or more than one, has this key.
    """
    found = [t for t in figure.data if t.meta == key]
    if len(found) != 1:
        keys = [t.meta for t in figure.data if t.meta is not None]
        raise ValueError(
            f"key {key!r} names {len(found)} traces of this figure, not one; its trace keys are {keys}: "
            "pass the figure that the matching figure builder made"
        )
    return found[0]


def _same(value: object, option: object) -> bool:
    """`value == option`, False where that is no bool (an array), and True never equal to 1."""
    try:
        return bool(value == option) and isinstance(value, bool) == isinstance(option, bool)
    except (TypeError, ValueError, RuntimeError):
        return False


def _kind(value: object) -> str:
    """What kind of value a control's option is: 'number' (ints and floats alike), 'bool', 'str', ..."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "number"
    return type(value).__name__


@typechecked
def require_control(name: str, value: object, control: widgets.ValueWidget) -> object:
    """Return `value` if `control` can show it as it is: one of its options, a number in its range.

    An ipywidgets slider clamps a value outside its range without a word (`channels=10**12` became
    1024), and a dropdown takes None (no selection), which every later redraw then fails on. So an
    explorer checks a value before a control gets it: an argument of its builder that sets a
    control's first value, or a value sent to `Explorer.update`.

    Raises:
        TypeError: a value of the wrong type for the control (a string for a slider, None).
        ValueError: a value outside the slider's range, or not one of the control's options.
    """
    options = getattr(control, "_options_values", None)
    if options is not None:  # Dropdown, ToggleButtons, SelectionSlider, ...
        if not any(_same(value, o) for o in options):
            # None, or a string where the options are numbers, is a wrong type; 3 for 1, 2, 4 a wrong value
            kinds = {_kind(o) for o in options}
            error = ValueError if _kind(value) in kinds else TypeError
            got = f"{value!r}" if error is ValueError else f"{value!r} ({type(value).__name__})"
            raise error(f"{name} must be one of {', '.join(map(repr, options))}, got {got}")
    elif isinstance(control, (widgets.Checkbox, widgets.ToggleButton)):
        require_bool(name, value)
    elif isinstance(control, widgets.FloatLogSlider):
        low, high = control.base**control.min, control.base**control.max
        require_float(
            name, value, low * (1 - 1e-9), high * (1 + 1e-9), fix=f"the slider's range, {low:g} to {high:g}"
        )
    elif isinstance(control, (widgets.IntSlider, widgets.BoundedIntText)):
        require_int(name, value, control.min, control.max, fix="the slider's range")
    elif isinstance(control, (widgets.FloatSlider, widgets.BoundedFloatText)):
        require_float(name, value, control.min, control.max, fix="the slider's range")
    return value


@typechecked
def architecture_label(architecture: str) -> str:
    """A network's kind as the learner reads it: "plain" and "residual" in the current language.

    The key stays English (a dict key, an option's value); any other label is shown as it is.
    """
    return {"plain": tr("plain"), "residual": tr("residual")}.get(architecture, architecture)


@typechecked
def is_explorer_note(text: str) -> bool:
    """Whether `text` is a stored explorer's plain text (`repr(explorer)`), in any language reslib speaks.

    What the website and the slideshow test use to tell an explorer's output from another widget's
    (a prediction form, a progress bar), whichever edition stored it.
    """
    for code in LANGUAGES:
        with local_language(code):
            template = tr("<live explorer ({names}): run this notebook to use it>")  # no fields: as written
        head, _, tail = template.partition("{names}")
        if text.startswith(head) and text.endswith(tail):
            return True
    return False


@typechecked
def plain_list(values) -> list:
    """A plain list with None for non-finite values.

    FigureWidget traces get lists, not numpy arrays: plotly compares the arrays it holds with
    what plotly.js sends back (sometimes as dicts), and a numpy array there raises in the kernel.
    """
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def require_real(name: str, value: object, ndim: int, fix: str) -> torch.Tensor:
    """`value` if it is a tensor of `ndim` dimensions of finite real numbers (floats or ints) to draw.

    Not complex, not NaN or infinity, not on the meta device (it holds no values).

    A figure draws values, so NaN in a model's output (a diverged run) is refused here with the
    argument's name, rather than drawn as an empty picture.
    """
    if isinstance(value, torch.Tensor) and (value.is_complex() or value.dtype == torch.bool):
        raise TypeError(
            f"{name} must hold real numbers (floats or ints), got dtype {value.dtype}; draw {name}.abs() "
            f"or {name}.real ({fix})"
        )
    return require_tensor(name, value, ndim=ndim, fix=fix, finite=True)


@typechecked
def image_grid(z: torch.Tensor) -> list[list[float]]:
    """A 2-D tensor as nested plain lists, first row at the bottom (plotly heatmaps draw y upwards).

    Raises:
        TypeError: `z` is not a tensor of real numbers (complex cannot be drawn).
        ValueError: `z` is not 2-D, is empty, holds NaN or infinity, or is on the meta device.
    """
    require_real("z", z, ndim=2, fix="one image (H, W)")
    return [[round(float(v), 4) for v in row] for row in z.detach().cpu().flip(0).tolist()]


# The longest one update (a slider move) may be expected to take, estimated from an explorer's
# arguments with `reslib.guard.require_work` before it is built. The style's aim is 100 ms; past
# this a learner thinks the kernel hung. The notebooks' explorers update in 0.01-0.2 s.
UPDATE_LIMIT = 10.0  # seconds

_COLORSCALES = {name.lower() for name in px.colors.named_colorscales()}


@typechecked
def image_trace(
    z: torch.Tensor, colorscale: str = "gray", zmin: float | None = None, zmax: float | None = None
) -> go.Heatmap:
    """A heat map trace of the image `z` (H, W), first row at the bottom, without a colour bar.

    Raises:
        TypeError: `z` is not a tensor of real numbers; an unknown `colorscale`.
        ValueError: `z` is not 2-D, is empty, holds NaN or infinity, or is on the meta device.
    """
    require_real("z", z, ndim=2, fix="one image (H, W)")
    for name, value in (("zmin", zmin), ("zmax", zmax)):
        if value is not None:
            require_float(name, value)
    if colorscale.lower() not in _COLORSCALES:
        raise ValueError(
            f"colorscale must be a plotly colour scale such as 'gray' or 'Viridis', not {colorscale!r}"
        )
    return go.Heatmap(z=image_grid(z), colorscale=colorscale, showscale=False, zmin=zmin, zmax=zmax)


def _keep_set_properties(input_data: object, delta_data: object, prop_path: tuple = ()) -> list:
    """Plotly's `BaseFigureWidget._remove_overlapping_props`, for an explorer's figure: remove nothing."""
    return []


@typechecked
class Explorer(widgets.VBox):
    """Controls, a status line and a figure, kept in sync.

    Args:
        controls: name -> ipywidget with a `value`.
        figure: the `go.FigureWidget` to redraw.
        redraw: called with the control values inside `figure.batch_update()`;
            returns a status sentence shown above the figure.
        name: the name of the function that built it, as in `reslib.viz.registry.EXPLORERS`
            (where its demo arguments and the controls a static copy steps through are kept).

    Raises:
        TypeError, ValueError: the first draw failed: a bad argument to the explorer's builder
            fails its cell. Later updates (slider moves) show errors in the status line instead.
    """

    def __init__(
        self,
        controls: Mapping[str, widgets.ValueWidget],
        figure: go.FigureWidget,
        redraw: Callable[..., str],
        name: str | None = None,
    ):
        self.name = name
        self.controls = dict(controls)
        self.figure = figure
        # plotly moves a property the browser reports back (a view's trace and layout deltas) out of
        # the figure's own properties when the figure set it too, e.g. a trace's name; the widget state
        # stored for later views (`_store_figure_state`) would then lose it, and a slideshow's legend
        # would show plotly's default name ("trace 4"). Keep every property the figure set.
        figure._remove_overlapping_props = _keep_set_properties
        self.status = widgets.HTML()
        self.error: Exception | None = None
        self._redraw = redraw
        self._holding = False
        super().__init__([widgets.HBox(list(self.controls.values())), self.status, figure])
        for control in self.controls.values():
            control.observe(self._on_change, "value")
        self.update()
        if isinstance(self.error, (TypeError, ValueError)):  # a bad argument to the builder fails its cell
            raise self.error

    @property
    def values(self) -> dict:
        return {name: c.value for name, c in self.controls.items()}

    def __repr__(self) -> str:
        """What GitHub and nbviewer show for a stored explorer: its control names, never their values.

        ipywidgets' own repr lists every child's current value, so a stored output goes stale
        whenever a default changes, and it means nothing to a reader without a kernel.
        """
        names = ", ".join(getattr(self, "controls", {}))
        return tr("<live explorer ({names}): run this notebook to use it>", names=names)

    def _repr_mimebundle_(self, **kwargs) -> dict | None:
        """The widget view for a live kernel, with `repr(self)` whole as its plain text."""
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            data["text/plain"] = repr(self)  # ipywidgets would cut it at 110 characters
        return data

    def _store_figure_state(self) -> None:
        """Copy what the figure draws now into its widget state, as plotly does when it displays one.

        A FigureWidget sends its changes as restyle messages, which only views open at the time
        receive; a view built later from the stored state (a RISE slideshow, a reloaded page) would
        draw the figure as it was built. plotly refreshes that state in its own `_repr_mimebundle_`,
        which never runs for a figure inside a box like this one. Open views ignore the change
        (plotly.js's `do_data` does nothing), so this costs a copy, not a second drawing. It also
        keeps current a figure model that applied updates before its view could draw them (one whose
        plotly module loaded late: binder/rise-widgets, docs/maintenance.md).
        """
        self.figure._widget_layout = copy.deepcopy(self.figure._layout_obj._props)
        self.figure._widget_data = copy.deepcopy(self.figure._data)

    def _on_change(self, change: dict) -> None:
        if not self._holding:
            self.update()

    def update(self, **values) -> None:
        """Set any controls given by name, then recompute and redraw once.

        Raises:
            TypeError, ValueError: an unknown control, or a value its control cannot take (see
                `require_control`); then no control changes and the explorer works as before.
        """
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(f"unknown controls {sorted(unknown)}; this explorer has {sorted(self.controls)}")
        for name, value in values.items():
            require_control(f"{self.name or 'Explorer'}.update: {name}", value, self.controls[name])
        before = self.values
        self._holding = True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        except Exception:  # a value a widget refused after all: give every control its value back
            for name, value in before.items():
                self.controls[name].value = value
            raise
        finally:
            self._holding = False
        try:
            with self.figure.batch_update():
                message = self._redraw(**self.values)
            self._store_figure_state()
            self.error = None
            self.status.value = f"<span style='color:{STATUS_TEXT}'>{html.escape(message)}</span>"
        except Exception as exc:  # show what happened instead of a silent dead widget
            self.error = exc
            message = tr("could not draw: {error}: {message}", error=type(exc).__name__, message=str(exc))
            self.status.value = f"<span style='color:{ERROR_TEXT}'>{html.escape(message)}</span>"
