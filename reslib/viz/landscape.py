"""Loss landscapes and width against depth: contour plots, their explorer, and heat maps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reslib.landscape import Slice1D, Slice2D
from reslib.validate import typechecked
from reslib.viz.explorer import LAYOUT, Explorer, plain_list

__all__ = [
    "landscape_explorer",
    "landscape_figure",
    "slice_1d_figure",
    "update_landscape_figure",
    "width_depth_figure",
]


def _log_loss(result: Slice2D) -> list[list[float | None]]:
    """log10 of the loss grid, rows = beta (plotly's y), as plain lists."""
    z = np.log10(np.clip(np.asarray(result.loss, dtype=float), 1e-12, None)).T  # (beta, alpha)
    return [plain_list(row) for row in z]


@typechecked
def landscape_figure(result: Slice2D | None = None, title: str = "") -> go.Figure:
    """The loss on the plane (alpha, beta) as filled contours of log10(loss); the trained point marked.

    Traces: 0 contour, 1 the trained weights (0, 0).
    """
    fig = go.Figure(
        [
            go.Contour(
                colorscale="Viridis",
                ncontours=30,
                colorbar=dict(title="log10 loss"),
                contours=dict(coloring="heatmap"),
                line=dict(width=0.5),
            ),
            go.Scatter(
                x=[0.0],
                y=[0.0],
                mode="markers",
                name="trained",
                marker=dict(color="white", symbol="x", size=10),
            ),
        ]
    )
    fig.update_layout(
        height=430,
        width=520,
        title=title,
        xaxis_title="α (direction δ)",
        yaxis_title="β (direction η)",
        **LAYOUT,
    )
    if result is not None:
        update_landscape_figure(fig, result)
    return fig


@typechecked
def update_landscape_figure(fig: go.Figure | go.FigureWidget, result: Slice2D) -> None:
    """Write a `reslib.landscape.loss_slice_2d` result into a `landscape_figure`."""
    fig.data[0].x, fig.data[0].y = plain_list(result.alphas), plain_list(result.betas)
    fig.data[0].z = _log_loss(result)


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
            return f"no slice was computed for {architecture} at depth {depth}"
        update_landscape_figure(figure, result)
        figure.layout.title = f"{architecture}, {depth} layers"
        centre = result.loss[len(result.alphas) // 2, len(result.betas) // 2]
        return (
            f"{architecture}, depth {depth}: loss at the trained weights {centre:.3g}, largest "
            f"{np.nanmax(result.loss):.3g}; non-convex at {result.nonconvexity:.0%} of the grid"
        )

    controls = {
        "depth": widgets.SelectionSlider(options=depths, value=depths[-1], description="depth"),
        "architecture": widgets.Dropdown(
            options=architectures, value=architectures[0], description="network"
        ),
    }
    return Explorer(controls, figure, redraw)


@typechecked
def slice_1d_figure(slices: Mapping[str, Slice1D], title: str = "") -> go.Figure:
    """The loss along one direction per label, on a log axis."""
    fig = go.Figure()
    for label, result in slices.items():
        fig.add_trace(
            go.Scatter(x=plain_list(result.alphas), y=plain_list(result.loss), name=label, mode="lines")
        )
    fig.update_xaxes(title_text="α (step along a filter-normalised direction)")
    fig.update_yaxes(title_text="training loss", type="log", exponentformat="power")
    fig.update_layout(height=360, title=title, **LAYOUT)
    return fig


@typechecked
def width_depth_figure(
    errors: Mapping[str, np.ndarray], depths: Sequence[int], widths: Sequence[int], columns: Sequence[str]
) -> go.Figure:
    """One heat map per metric (e.g. training and test error): rows depth (width), columns network kind.

    Args:
        errors: metric name -> (len(depths), len(columns)) array.
        depths, widths: one per row; columns: one name per column ("plain", "residual").
    """
    if isinstance(columns, str) or len(depths) != len(widths) or not errors:
        raise ValueError(
            f"width_depth_figure needs one width per depth and a list of column names, got {len(depths)} "
            f"depths, {len(widths)} widths, columns {columns!r} and {len(errors)} metrics"
        )
    for name, values in errors.items():
        if np.shape(values) != (len(depths), len(columns)):
            raise ValueError(
                f"errors[{name!r}] must have shape (depths, columns) = ({len(depths)}, {len(columns)}), "
                f"got {np.shape(values)}"
            )
    names = list(errors)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.18)
    rows = [f"{d} layers × {w}" for d, w in zip(depths, widths, strict=True)]
    for i, name in enumerate(names):
        z = np.asarray(errors[name], dtype=float)
        fig.add_trace(
            go.Heatmap(
                z=[plain_list(r) for r in z],
                x=list(columns),
                y=rows,
                colorscale="Blues",
                zmin=0,
                text=[[f"{v:.2f}" for v in r] for r in z],
                texttemplate="%{text}",
                showscale=False,
            ),
            row=1,
            col=i + 1,
        )
    fig.update_layout(height=360, **LAYOUT)
    return fig
