"""U-Net: the size trace through a valid-padding U-Net, its explorer, and segmentation masks."""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from reslib.unet import unet_shape_trace
from reslib.validate import require_int, require_tensor, typechecked
from reslib.viz.explorer import Explorer, find_trace, image_trace
from reslib.viz.registry import register_explorer
from reslib.viz.style import LAYOUT, LIGHT_RED, PLAIN, RESIDUAL

__all__ = [
    "segmentation_figure",
    "unet_trace_explorer",
    "unet_trace_figure",
]


def _trace_xy(size: int, depth: int, padding: str) -> tuple[list[str], list[int], str | None]:
    trace = unet_shape_trace(size, depth, padding)
    labels = [f"{r.stage} {r.level}" if r.stage != "input" else "input" for r in trace.steps]
    return labels, [r.size for r in trace.steps], trace.problem


@typechecked
def unet_trace_figure(size: int = 572, depth: int = 4) -> go.Figure:
    """The spatial size after each step of a valid and a same U-Net; crops as bars.

    Traces (by key, see `find_trace`): "valid", "same" (the sizes), "crops".
    """
    fig = go.Figure()
    for padding, color in (("valid", PLAIN), ("same", RESIDUAL)):
        labels, sizes, problem = _trace_xy(size, depth, padding)
        fig.add_trace(
            go.Scatter(
                x=list(range(len(sizes))),
                y=sizes,
                mode="lines+markers+text",
                text=[str(s) for s in sizes],
                textposition="top center",
                name=f"{padding}" + (" (stops)" if problem else ""),
                line=dict(color=color),
                hovertext=labels,
                meta=padding,
            )
        )
    steps = unet_shape_trace(size, depth, "valid").steps
    fig.add_trace(
        go.Bar(
            x=[i for i, r in enumerate(steps) if r.crop],
            y=[r.crop for r in steps if r.crop],
            name="valid: pixels cropped from the skip",
            marker_color=LIGHT_RED,
            opacity=0.6,
            meta="crops",
        )
    )
    fig.update_layout(
        title=f"U-Net of depth {depth}: spatial size through the network, input {size}",
        xaxis_title="step (input, encoder levels, bottleneck, up/decoder levels)",
        yaxis_title="height = width (pixels)",
        height=400,
        **LAYOUT,
    )
    return fig


@typechecked
def unet_trace_explorer(depth: int = 4) -> Explorer:
    """Notebook 09: input size -> the size trace through a valid and a same U-Net (never raises)."""
    figure = go.FigureWidget(unet_trace_figure(572, depth))

    def redraw(size: int) -> str:
        messages = []
        for padding in ("valid", "same"):
            labels, sizes, problem = _trace_xy(size, depth, padding)
            find_trace(figure, padding).update(
                x=list(range(len(sizes))),
                y=sizes,
                text=[str(s) for s in sizes],
                hovertext=labels,
                name=padding + (" (stops)" if problem else ""),
            )
            messages.append(
                f"{padding}: " + (f"{size} -> {sizes[-1]}" if problem is None else f"fails at {problem}")
            )
        steps = unet_shape_trace(size, depth, "valid").steps
        find_trace(figure, "crops").update(
            x=[i for i, r in enumerate(steps) if r.crop], y=[r.crop for r in steps if r.crop]
        )
        figure.layout.title.text = f"U-Net of depth {depth}: spatial size through the network, input {size}"
        return "; ".join(messages)

    controls = {"size": widgets.IntSlider(value=572, min=16, max=700, description="input size")}
    return Explorer(controls, figure, redraw, name="unet_trace_explorer")


register_explorer(unet_trace_explorer, lambda: dict(depth=4), ("size",), "09_unet_hourglass")


@typechecked
def segmentation_figure(
    x: torch.Tensor, mask: torch.Tensor, predictions: Mapping[str, torch.Tensor], n: int = 4
) -> go.Figure:
    """Rows: images, true masks, then one row of predicted masks per model (labels (N, H, W))."""
    require_tensor("x", x, ndim=4, fix="images (N, 1, H, W)")
    require_tensor("mask", mask, ndim=3, fix="masks (N, H, W)")
    require_int("n", n, 1, len(x), fix=f"x holds {len(x)} images")
    rows = {"image": x[:n, 0], "true mask": mask[:n], **{k: v[:n] for k, v in predictions.items()}}
    fig = make_subplots(
        rows=len(rows), cols=n, row_titles=list(rows), horizontal_spacing=0.01, vertical_spacing=0.02
    )
    for r, (name, images) in enumerate(rows.items()):
        for c in range(n):
            trace = (
                image_trace(images[c]) if name == "image" else image_trace(images[c].float(), "Viridis", 0, 2)
            )
            fig.add_trace(trace, row=r + 1, col=c + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    fig.update_layout(
        height=150 * len(rows) + 60,
        width=150 * n + 120,
        title="masks: 0 background, 1 disc, 2 square",
        **LAYOUT,
    )
    return fig
