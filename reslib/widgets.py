"""Live explorers: thin ipywidgets wiring over pure compute and figure functions.

Every explorer is an `Explorer`: controls on top, a status line, and a
`go.FigureWidget` redrawn inside `batch_update()` whenever a control moves.
`Explorer.update(**values)` moves controls from code, so tests (and lecturers)
can drive an explorer without a browser.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping

import ipywidgets as widgets
import plotly.graph_objects as go

from reslib.data import TensorData
from reslib.data import mnist1d as load_mnist1d
from reslib.gradients import gradient_flow
from reslib.plotting import gradient_flow_figure, update_gradient_flow_figure

__all__ = ["Explorer", "gradient_explorer"]


class Explorer(widgets.VBox):
    """Controls, a status line and a figure, kept in sync.

    Args:
        controls: name -> ipywidget with a `value`.
        figure: the `go.FigureWidget` to redraw.
        redraw: called with the control values inside `figure.batch_update()`;
            returns a status sentence shown above the figure.
    """

    def __init__(self, controls: Mapping[str, widgets.ValueWidget], figure: go.FigureWidget,
                 redraw: Callable[..., str]):
        self.controls = dict(controls)
        self.figure = figure
        self.status = widgets.HTML()
        self.error: Exception | None = None
        self._redraw = redraw
        self._holding = False
        super().__init__([widgets.HBox(list(self.controls.values())), self.status, figure])
        for control in self.controls.values():
            control.observe(self._on_change, "value")
        self.update()

    @property
    def values(self) -> dict:
        return {name: c.value for name, c in self.controls.items()}

    def _on_change(self, change: dict) -> None:
        if not self._holding:
            self.update()

    def update(self, **values) -> None:
        """Set any controls given by name, then recompute and redraw once."""
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(f"unknown controls {sorted(unknown)}; this explorer has "
                             f"{sorted(self.controls)}")
        self._holding = True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._holding = False
        try:
            with self.figure.batch_update():
                message = self._redraw(**self.values)
            self.error = None
            self.status.value = f"<span style='color:#444'>{html.escape(message)}</span>"
        except Exception as exc:  # show what happened instead of a silent dead widget
            self.error = exc
            self.status.value = (f"<span style='color:#cf222e'>could not draw: "
                                 f"{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</span>")


def gradient_explorer(data: TensorData | None = None, width: int = 64, batch_size: int = 256,
                      seed: int = 0) -> Explorer:
    """Notebook 01: depth (1-50) and activation -> per-layer gradient norm and activation histograms.

    Args:
        data: where the batch comes from; MNIST-1D by default.
        width: units per hidden layer.
        batch_size: examples in the batch pushed through the network.
        seed: seed of the initial weights (the same for every depth and activation).
    """
    data = data if data is not None else load_mnist1d()
    x, y = data.x_train[:batch_size], data.y_train[:batch_size]
    cache: dict[tuple, dict] = {}
    figure = go.FigureWidget(gradient_flow_figure())

    def redraw(depth: int, activation: str) -> str:
        key = (depth, activation)
        if key not in cache:
            cache[key] = gradient_flow(depth, activation, x, y, width=width, seed=seed)
        result = cache[key]
        update_gradient_flow_figure(figure, result)
        return f"depth {depth}, {width} {activation} units per layer: {result['status']}"

    controls = {
        "depth": widgets.IntSlider(value=20, min=1, max=50, description="depth",
                                   continuous_update=True),
        "activation": widgets.Dropdown(options=["sigmoid", "tanh", "relu"], value="sigmoid",
                                       description="activation"),
    }
    return Explorer(controls, figure, redraw)
