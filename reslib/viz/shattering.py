"""Shattered gradients: dy/dx against x, its autocorrelation, lag-1 correlation by depth, and an explorer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from reslib.guard import require_work
from reslib.language import tr
from reslib.shattering import (
    ShatteringResult,
    autocorrelation,
    depth_gradients,
    freeze_batch_stats,
    shattering_net,
)
from reslib.validate import require_int, require_memory, require_seed, typechecked
from reslib.viz.explorer import Explorer, find_trace, plain_list
from reslib.viz.registry import register_explorer
from reslib.viz.style import DARK_GREY, LAYOUT, RESIDUAL

__all__ = [
    "lag1_figure",
    "shattering_explorer",
    "shattering_figure",
]


@typechecked
def shattering_figure(results: Mapping[str, ShatteringResult], max_lag: int = 40) -> go.Figure:
    """One column per result of `reslib.shattering.shattering`: dy/dx (top), autocorrelation (bottom).

    Traces (by key, see `find_trace`): "gradient of <label>" and "autocorrelation of <label>".
    """
    require_int("max_lag", max_lag, maximum=10_000)
    labels = list(results)
    fig = make_subplots(rows=2, cols=len(labels), subplot_titles=labels, vertical_spacing=0.15)
    for j, label in enumerate(labels, start=1):
        r = results[label]
        fig.add_trace(
            go.Scatter(
                x=plain_list(r.x),
                y=plain_list(r.grad),
                mode="lines",
                line=dict(width=1, color=DARK_GREY),
                showlegend=False,
                meta=f"gradient of {label}",
            ),
            1,
            j,
        )
        fig.add_trace(
            go.Bar(
                x=list(range(max_lag + 1)),
                y=plain_list(r.autocorr[: max_lag + 1]),
                marker_color=RESIDUAL,
                showlegend=False,
                meta=f"autocorrelation of {label}",
            ),
            2,
            j,
        )
        fig.update_yaxes(range=[-1, 1], row=2, col=j)
    fig.update_xaxes(title_text=tr("input x"), row=1)
    fig.update_xaxes(title_text=tr("lag (grid steps)"), row=2)
    fig.update_yaxes(title_text="dy/dx", row=1, col=1)
    fig.update_yaxes(title_text=tr("autocorrelation"), row=2, col=1)
    fig.update_layout(height=480, **LAYOUT)
    return fig


@typechecked
def lag1_figure(curves: Mapping[str, Sequence[float]], title: str = "") -> go.Figure:
    """Lag-1 autocorrelation of dy/dx against depth, one line per label."""
    fig = go.Figure()
    for label, values in curves.items():
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(values) + 1)),
                y=plain_list(values),
                name=label,
                mode="lines+markers",
                marker=dict(size=4),
            )
        )
    fig.update_xaxes(title_text=tr("depth (layers or residual blocks)"))
    fig.update_yaxes(title_text=tr("lag-1 autocorrelation of dy/dx"), range=[-0.3, 1.05])
    fig.update_layout(height=380, title=title, **LAYOUT)
    return fig


@typechecked
def shattering_explorer(
    max_depth: int = 50, width: int = 200, n_inputs: int = 256, seed: int = 0
) -> Explorer:
    """Notebook 02: depth (1-50), architecture and batch norm -> dy/dx and its autocorrelation.

    One network of `max_depth` layers per (architecture, batch norm) gives every depth at once
    (`depth_gradients`); all four are computed up front (~0.5 s), so every update only redraws.
    """
    require_int("max_depth", max_depth, maximum=200, fix="the slider's deepest network")
    require_int("n_inputs", n_inputs, minimum=2)
    require_int("width", width)
    require_seed("seed", seed)
    # four networks, each run three times (BN statistics, the forward-mode pass) at ~2 n w^2 a layer;
    # measured 3.5 s for the notebook's (50, 200, 256), 22 s for (100, 200, 512) (estimated 10 s)
    sizes = dict(max_depth=max_depth, width=width, n_inputs=n_inputs)
    require_work(sizes, 24 * max_depth * n_inputs * width**2, 4 * 3 * max_depth * 10)
    require_memory(
        "sizes", dict(max_depth=max_depth, width=width, n_inputs=n_inputs), 32 * max_depth * n_inputs * width
    )
    x = torch.linspace(-2.0, 2.0, n_inputs).unsqueeze(1)
    cache: dict[tuple, np.ndarray] = {}
    for residual in (False, True):
        for bn in (True, False):
            model = shattering_net(max_depth, residual, bn, width, seed)
            cache[residual, bn] = depth_gradients(freeze_batch_stats(model, x), x).numpy()

    lags = min(40, n_inputs - 1)  # the autocorrelation's lags: 40, or all a short sequence has
    empty = ShatteringResult(x.squeeze(1).numpy(), np.zeros(n_inputs), np.zeros(n_inputs), float("nan"))
    figure = go.FigureWidget(shattering_figure({"dy/dx": empty}, max_lag=lags))
    figure.update_layout(height=420)

    def redraw(depth: int, architecture: str, batch_norm: bool) -> str:
        g = cache[architecture == "residual", batch_norm][depth - 1]
        if not np.all(np.isfinite(g)):
            return tr("the gradient overflowed at depth {depth}", depth=depth)
        r = autocorrelation(g, max_lag=lags)
        find_trace(figure, "gradient of dy/dx").y = plain_list(g)
        find_trace(figure, "autocorrelation of dy/dx").y = plain_list(r)
        if architecture == "residual":
            network = (
                tr("{depth} residual blocks", depth=depth)
                if depth > 1
                else tr("{depth} residual block", depth=depth)
            )
        else:
            network = (
                tr("{depth} feed-forward layers", depth=depth)
                if depth > 1
                else tr("{depth} feed-forward layer", depth=depth)
            )
        network = (
            tr("{network}, with batch norm", network=network)
            if batch_norm
            else tr("{network}, no batch norm", network=network)
        )
        return tr(
            "{network}: lag-1 autocorrelation {lag1:.2f} (1 = smooth, 0 = white noise)",
            network=network,
            lag1=r[1],
        )

    controls = {
        "depth": widgets.IntSlider(value=24, min=1, max=max_depth, description=tr("depth")),
        "architecture": widgets.Dropdown(
            options=[(tr("feed-forward"), "feed-forward"), (tr("residual"), "residual")],
            value="feed-forward",
            description=tr("architecture"),
        ),
        "batch_norm": widgets.Checkbox(value=True, description=tr("batch norm")),
    }
    return Explorer(controls, figure, redraw, name="shattering_explorer")


def _shattering_demo() -> dict:
    """Notebook 02's sizes (50 layers, 256 inputs), 50 units instead of its 200.

    An update only redraws the 256 points precomputed at build time; the width changes what
    the one-off precompute costs (about 4x less here), not what an update costs.
    """
    return dict(max_depth=50, width=50, n_inputs=256, seed=0)


register_explorer(shattering_explorer, _shattering_demo, ("depth", "architecture"), "02_shattered_gradients")
