"""Residual blocks as Euler steps: hidden trajectories of a residual and a plain network, and an explorer.

The trajectories come from `reslib.euler.euler_trajectory`; this module draws them.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reslib.euler import Trajectory, euler_trajectory
from reslib.language import tr
from reslib.validate import require_seed, typechecked
from reslib.viz.explorer import Explorer, find_trace, plain_list
from reslib.viz.registry import register_explorer
from reslib.viz.style import LAYOUT, PALETTE

__all__ = [
    "euler_explorer",
    "euler_figure",
]

_INPUTS = 4  # trajectories drawn per network


@typechecked
def euler_figure(residual: Trajectory | None = None, plain: Trajectory | None = None) -> go.Figure:
    """The first two hidden units of each input, layer by layer: residual (left) and plain (right).

    Traces (by key, see `find_trace`): "residual <i>" and "plain <i>", input i = 0..3.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=(tr("residual, h + f(h)/L"), tr("plain, f(h)")))
    for col, network in ((1, "residual"), (2, "plain")):
        for i in range(_INPUTS):
            fig.add_trace(
                go.Scatter(
                    mode="lines+markers",
                    line=dict(color=PALETTE[i]),
                    marker=dict(size=3),
                    showlegend=False,
                    meta=f"{network} {i}",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text=tr("unit 1"), row=1, col=col)
        fig.update_yaxes(title_text=tr("unit 2"), row=1, col=col)
    fig.update_layout(height=400, **LAYOUT)
    if residual is not None and plain is not None:
        _update_euler_figure(fig, residual, plain)
    return fig


def _update_euler_figure(fig: go.Figure | go.FigureWidget, residual: Trajectory, plain: Trajectory) -> None:
    """Write two `reslib.euler.euler_trajectory` results (up to 4 inputs each) into an `euler_figure`."""
    for network, result in (("residual", residual), ("plain", plain)):
        for i in range(_INPUTS):
            trace = find_trace(fig, f"{network} {i}")
            if i < result.states.shape[1]:
                trace.x, trace.y = plain_list(result.states[:, i, 0]), plain_list(result.states[:, i, 1])
            else:
                trace.x, trace.y = [], []


@typechecked
def euler_explorer(seed: int = 0) -> Explorer:
    """Notebook 10: depth L -> the hidden trajectories of a residual (Euler) and a plain network."""
    require_seed("seed", seed)
    cache: dict[int, tuple[Trajectory, Trajectory]] = {}
    figure = go.FigureWidget(euler_figure())

    def redraw(depth: int) -> str:
        if depth not in cache:
            cache[depth] = (
                euler_trajectory(depth, True, seed=seed),
                euler_trajectory(depth, False, seed=seed),
            )
        _update_euler_figure(figure, *cache[depth])
        res, plain = (r.states[-1, :, :2] for r in cache[depth])
        return tr(
            "{depth} layers: first input ends at {residual} (residual), {plain} (plain)",
            depth=depth,
            residual=np.round(res[0], 2),
            plain=np.round(plain[0], 2),
        )

    depths = [2**k for k in range(9)]
    controls = {"depth": widgets.SelectionSlider(options=depths, value=16, description=tr("layers L"))}
    return Explorer(controls, figure, redraw, name="euler_explorer")


register_explorer(euler_explorer, lambda: {}, ("depth",), "10_why_residual_nets_train")
