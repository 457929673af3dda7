"""Loss landscapes: 2-D slices as contour plots and their explorer, 1-D slices as curves."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from reslib.data import mnist1d
from reslib.landscape import Slice1D, Slice2D, loss_slice_2d
from reslib.language import tr
from reslib.mlp import mlp
from reslib.runtime import local_seed, num_threads
from reslib.validate import typechecked
from reslib.viz.explorer import Explorer, architecture_label, find_trace, plain_list
from reslib.viz.registry import register_explorer
from reslib.viz.style import LAYOUT

__all__ = [
    "landscape_explorer",
    "landscape_figure",
    "slice_1d_figure",
]


def _log_loss(result: Slice2D) -> list[list[float | None]]:
    """log10 of the loss grid, rows = beta (plotly's y), as plain lists."""
    z = np.log10(np.clip(np.asarray(result.loss, dtype=float), 1e-12, None)).T  # (beta, alpha)
    return [plain_list(row) for row in z]


@typechecked
def landscape_figure(result: Slice2D | None = None, title: str = "") -> go.Figure:
    """The loss on the plane (alpha, beta) as filled contours of log10(loss); the trained point marked.

    Traces (by key, see `find_trace`): "loss" (the contour), "trained" (the weights at (0, 0)).
    """
    fig = go.Figure(
        [
            go.Contour(
                colorscale="Viridis",
                ncontours=30,
                colorbar=dict(title=tr("log10 loss")),
                contours=dict(coloring="heatmap"),
                line=dict(width=0.5),
                meta="loss",
            ),
            go.Scatter(
                x=[0.0],
                y=[0.0],
                mode="markers",
                name=tr("trained"),
                marker=dict(color="white", symbol="x", size=10),
                meta="trained",
            ),
        ]
    )
    fig.update_layout(
        height=430,
        width=520,
        title=title,
        xaxis_title=tr("α (direction δ)"),
        yaxis_title=tr("β (direction η)"),
        **LAYOUT,
    )
    if result is not None:
        _update_landscape_figure(fig, result)
    return fig


def _update_landscape_figure(fig: go.Figure | go.FigureWidget, result: Slice2D) -> None:
    """Write a `reslib.landscape.loss_slice_2d` result into a `landscape_figure`."""
    loss = find_trace(fig, "loss")
    loss.x, loss.y = plain_list(result.alphas), plain_list(result.betas)
    loss.z = _log_loss(result)


@typechecked
def landscape_explorer(slices: Mapping[tuple[int, str], Slice2D]) -> Explorer:
    """Notebook 10: depth x plain/residual -> the 2-D loss landscape, from precomputed slices.

    Args:
        slices: (depth, "plain" or "residual") -> `Slice2D`; every depth needs both.
    """
    if not slices:
        raise ValueError("slices must hold at least one (depth, architecture) -> Slice2D entry")
    depths = sorted({d for d, _ in slices})
    architectures = sorted({a for _, a in slices})
    figure = go.FigureWidget(landscape_figure())

    def redraw(depth: int, architecture: str) -> str:
        result = slices.get((depth, architecture))
        if result is None:
            return tr(
                "no slice was computed for {architecture} at depth {depth}",
                architecture=architecture_label(architecture),
                depth=depth,
            )
        _update_landscape_figure(figure, result)
        figure.layout.title = tr(
            "{architecture}, {depth} layers", architecture=architecture_label(architecture), depth=depth
        )
        centre = result.loss[len(result.alphas) // 2, len(result.betas) // 2]
        return tr(
            "{architecture}, depth {depth}: loss at the trained weights {centre:.3g}, largest {largest:.3g}; "
            "non-convex at {share:.0%} of the grid",
            architecture=architecture_label(architecture),
            depth=depth,
            centre=centre,
            largest=np.nanmax(result.loss),
            share=result.nonconvexity,
        )

    controls = {
        "depth": widgets.SelectionSlider(options=depths, value=depths[-1], description=tr("depth")),
        "architecture": widgets.Dropdown(
            options=[(architecture_label(a), a) for a in architectures],
            value=architectures[0],
            description=tr("network"),
        ),
    }
    return Explorer(controls, figure, redraw, name="landscape_explorer")


def _landscape_demo() -> dict:
    """Notebook 10's six networks and 21 x 21 grid, untrained, on 100 training signals.

    Plain and residual MLPs of 2, 8 and 20 layers of 32 units; the notebook slices its trained
    networks on 500 signals.
    An update draws a precomputed 21 x 21 slice, whatever the weights and the probe it came from.
    """
    data, slices = mnist1d(device="cpu"), {}
    probe = (data.x_train[:100], data.y_train[:100])
    with num_threads(1):  # models this small run fastest on one thread
        for depth, architecture in itertools.product([2, 8, 20], ["plain", "residual"]):
            residual = architecture == "residual"
            with local_seed(0):
                model = mlp(
                    depth, 32, 40, 10, residual=residual, residual_scale=1 / math.sqrt(2) if residual else 1.0
                )
            slices[depth, architecture] = loss_slice_2d(model, probe, steps=21, span=0.5)
    return dict(slices=slices)


register_explorer(
    landscape_explorer, _landscape_demo, ("depth", "architecture"), "10_why_residual_nets_train"
)


@typechecked
def slice_1d_figure(slices: Mapping[str, Slice1D], title: str = "") -> go.Figure:
    """The loss along one direction per label, on a log axis."""
    fig = go.Figure()
    for label, result in slices.items():
        fig.add_trace(
            go.Scatter(x=plain_list(result.alphas), y=plain_list(result.loss), name=label, mode="lines")
        )
    fig.update_xaxes(title_text=tr("α (step along a filter-normalised direction)"))
    fig.update_yaxes(title_text=tr("training loss"), type="log", exponentformat="power")
    fig.update_layout(height=360, title=title, **LAYOUT)
    return fig
