"""Gradient flow through sequential networks: per-layer gradient norms and activations, and their explorer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reslib.data import TensorData
from reslib.data import mnist1d as load_mnist1d
from reslib.gradients import GradientFlow, gradient_flow
from reslib.guard import require_work
from reslib.language import tr
from reslib.runtime import num_threads
from reslib.validate import require_int, require_seed, typechecked
from reslib.viz.explorer import UPDATE_LIMIT, Explorer, find_trace, plain_list
from reslib.viz.registry import register_explorer
from reslib.viz.style import BLUE, COLORS, GREEN, LAYOUT, ORANGE, RED

__all__ = [
    "gradient_explorer",
    "gradient_flow_figure",
    "gradient_norms_figure",
]

_HISTOGRAMS = ("first", "middle", "last")  # the hidden layers whose activations are drawn


@typechecked
def gradient_norms_figure(norms: Mapping[str, Sequence[float]], title: str = "") -> go.Figure:
    r"""$\lVert\partial L/\partial W_k\rVert$ against layer $k$ on a log axis, one line per label."""
    fig = go.Figure()
    for label, values in norms.items():
        v = np.asarray(values, dtype=float)
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, len(v) + 1),
                y=np.where(v > 0, v, np.nan),
                name=label,
                mode="lines+markers",
                line=dict(color=COLORS.get(label)),
            )
        )
    fig.update_xaxes(title_text=tr("layer k (1 = next to the input)"))
    fig.update_yaxes(title_text=tr("gradient norm ||dL/dW_k||"), type="log", exponentformat="power")
    fig.update_layout(height=380, title=title, **LAYOUT)
    return fig


@typechecked
def gradient_flow_figure(result: GradientFlow | None = None) -> go.Figure:
    """The explorer's two panels: gradient norm per layer (log) and activation histograms.

    Traces (by key, see `find_trace`): "norms", the histograms "first", "middle" and "last" of
    those hidden layers, and "frozen": red crosses on layers whose SGD step rounds back to the
    same float32 weights.

    Args:
        result: from `reslib.gradients.gradient_flow`; None gives empty traces.
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.55, 0.45],
        subplot_titles=(tr("gradient norm per layer"), tr("activations h_k (fraction of units)")),
    )
    fig.add_trace(
        go.Scatter(mode="lines+markers", name="||dL/dW_k||", showlegend=False, meta="norms"), row=1, col=1
    )
    for key, color in zip(_HISTOGRAMS, (BLUE, ORANGE, GREEN), strict=True):
        fig.add_trace(go.Scatter(mode="lines", line=dict(shape="hvh", color=color), meta=key), row=1, col=2)
    fig.add_trace(
        go.Scatter(
            mode="markers",
            name=tr("SGD step rounds to no change"),
            marker=dict(symbol="x", size=9, color=RED),
            meta="frozen",
        ),
        row=1,
        col=1,
    )
    fig.update_xaxes(title_text=tr("layer k"), row=1, col=1)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=1)
    fig.update_xaxes(title_text=tr("activation value"), row=1, col=2)
    fig.update_layout(height=380, legend=dict(x=1.0, y=1.0, xanchor="right"), **LAYOUT)
    if result is not None:
        _update_gradient_flow_figure(fig, result)
    return fig


def _update_gradient_flow_figure(fig: go.Figure | go.FigureWidget, result: GradientFlow) -> None:
    """Write `result` into the traces of a figure made by `gradient_flow_figure`."""
    norms = np.asarray(result.norms, dtype=float)
    shown = np.where(norms > 0, norms, np.nan)  # log axis: zero cannot be drawn
    find_trace(fig, "norms").update(x=list(range(1, len(norms) + 1)), y=plain_list(shown))
    frozen = np.flatnonzero(result.frozen)
    find_trace(fig, "frozen").update(x=(frozen + 1).tolist(), y=plain_list(shown[frozen]))
    centers = plain_list((result.edges[:-1] + result.edges[1:]) / 2)
    seen = set()
    histograms = [find_trace(fig, key) for key in _HISTOGRAMS]
    for trace, layer, hist in zip(histograms, result.layers, result.hist, strict=True):
        trace.x, trace.y, trace.name = centers, plain_list(hist), tr("layer {layer}", layer=layer)
        trace.visible = layer not in seen
        seen.add(layer)


@typechecked
def gradient_explorer(
    data: TensorData | None = None, width: int = 64, batch_size: int = 256, seed: int = 0
) -> Explorer:
    """Notebook 01: depth (1-50), activation and skips -> per-layer gradient norm and activation histograms.

    Args:
        data: where the batch comes from; MNIST-1D by default.
        width: units per hidden layer.
        batch_size: examples in the batch pushed through the network.
        seed: seed of the initial weights (the same for every depth and activation).

    Note:
        The *residual* box adds identity skips, $h_k = h_{k-1} + f_k(h_{k-1})$ (no norm), so a
        50-layer sigmoid network keeps its gradient; its layers are the linear stem, the blocks
        and the head (depth + 2 of them).
    """
    require_int("batch_size", batch_size, minimum=2, fix="the histograms need a few examples")
    require_int("width", width)
    require_seed("seed", seed)
    # the deepest update: 50 layers forward and backward (~4 b w^2 each), ~20 operations a layer;
    # measured 0.05 s for the notebook's (64, 256), 1.1 s for (256, 1000) (estimated 2.6 s)
    require_work(dict(width=width, batch_size=batch_size), 200 * batch_size * width**2, 1000, UPDATE_LIMIT)
    data = data if data is not None else load_mnist1d()
    x, y = data.x_train[:batch_size], data.y_train[:batch_size]
    cache: dict[tuple[int, str, bool], GradientFlow] = {}
    figure = go.FigureWidget(gradient_flow_figure())

    def redraw(depth: int, activation: str, residual: bool) -> str:
        key = (depth, activation, residual)
        if key not in cache:
            with num_threads(1):  # 14-21 ms on one thread; two busy threads can take 300 ms
                cache[key] = gradient_flow(depth, activation, x, y, width=width, seed=seed, residual=residual)
        result = cache[key]
        _update_gradient_flow_figure(figure, result)
        fields = dict(depth=depth, width=width, activation=activation, status=result.status)
        if not residual:
            return tr("depth {depth}, {width} {activation} units per layer: {status}", **fields)
        if depth == 1:
            return tr("{depth} residual block, {width} {activation} units per layer: {status}", **fields)
        return tr("{depth} residual blocks, {width} {activation} units per layer: {status}", **fields)

    controls = {
        "depth": widgets.IntSlider(value=20, min=1, max=50, description=tr("depth"), continuous_update=True),
        "activation": widgets.Dropdown(
            options=["sigmoid", "tanh", "relu"], value="sigmoid", description=tr("activation")
        ),
        "residual": widgets.Checkbox(value=False, description=tr("residual (skips)")),
    }
    return Explorer(controls, figure, redraw, name="gradient_explorer")


def _gradient_demo() -> dict:
    """As notebook 01 builds it: MNIST-1D, 64 units per layer, a batch of 256."""
    return dict(data=load_mnist1d(), width=64, batch_size=256, seed=0)


register_explorer(gradient_explorer, _gradient_demo, ("depth", "residual"), "01_sequential_networks")
