"""Stacked hourglass: keypoint heat maps per stack, and an explorer over examples and stacks."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from reslib.scenes import heatmap_argmax, keypoints
from reslib.validate import require_int, require_tensor, typechecked
from reslib.viz.explorer import Explorer, find_trace, image_grid, image_trace
from reslib.viz.registry import register_explorer
from reslib.viz.style import BLUE, GREEN, LAYOUT, ORANGE

__all__ = [
    "heatmap_figure",
    "hourglass_explorer",
    "keypoint_grid_figure",
]


@typechecked
def heatmap_figure(
    x: torch.Tensor,
    heatmaps: torch.Tensor,
    coords: torch.Tensor,
    names: Sequence[str] = ("disc centre", "square centre"),
) -> go.Figure:
    """One image, its predicted heat maps (one per keypoint), true (o) and argmax (x) keypoints.

    Traces (by key, see `find_trace`): "image", "heat map <j>" per keypoint j, and its markers
    "true <j> on image", "predicted <j> on image", "true <j> on heat map", "predicted <j> on heat map".
    """
    require_tensor("x", x, ndim=3, fix="one image (1, H, W)")
    require_tensor("heatmaps", heatmaps, ndim=3, fix="one image's heat maps (K, H, W)")
    require_tensor("coords", coords, ndim=2, fix="one image's keypoints (K, 2)")
    k = heatmaps.shape[0]
    fig = make_subplots(rows=1, cols=k + 1, subplot_titles=["image", *names[:k]])
    h = x.shape[-1]
    fig.add_trace(image_trace(x[0]).update(meta="image"), row=1, col=1)
    pred = heatmap_argmax(heatmaps[None])[0]
    for j in range(k):
        fig.add_trace(image_trace(heatmaps[j], "Hot").update(meta=f"heat map {j}"), row=1, col=j + 2)
    markers = (
        ("true", coords, dict(symbol="circle-open", size=12, color=BLUE)),  # target
        ("predicted", pred, dict(symbol="x", size=10, color=GREEN)),
    )  # predicted maximum
    for j in range(k):
        for col in (1, j + 2):
            for kind, points, marker in markers:
                point = go.Scatter(
                    x=[float(points[j, 1])],
                    y=[h - 1 - float(points[j, 0])],
                    mode="markers",
                    marker=marker,
                    showlegend=False,
                    meta=f"{kind} {j} on {'image' if col == 1 else 'heat map'}",
                )
                fig.add_trace(point, row=1, col=col)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    fig.update_layout(height=300, width=260 * (k + 1), title="o true keypoint, x heat-map maximum", **LAYOUT)
    return fig


@typechecked
def keypoint_grid_figure(
    x: torch.Tensor,
    heatmaps: torch.Tensor,
    coords: torch.Tensor,
    n: int = 8,
    names: Sequence[str] = ("disc centre", "square centre"),
) -> go.Figure:
    """The first `n` images, each with its true keypoints (o) and the heat maps' maxima (x).

    One colour per keypoint (blue: the first, orange: the second), so a swap shows as a blue x on
    the orange o. Each title gives the two errors in pixels.

    Traces (by key, see `find_trace`): "image <i>", and "true <j> in <i>", "predicted <j> in <i>".
    """
    require_tensor("x", x, ndim=4, fix="images (N, 1, H, W)")
    require_tensor("heatmaps", heatmaps, ndim=4, fix="predicted heat maps (N, K, H, W)")
    require_tensor("coords", coords, ndim=3, fix="true keypoints (N, K, 2)")
    require_int("n", n, 1, len(x), fix=f"x holds {len(x)} images")
    x, heatmaps, coords = x[:n].detach().cpu(), heatmaps[:n].detach().cpu(), coords[:n].detach().cpu()
    pred = heatmap_argmax(heatmaps)  # (n, K, 2) rows and columns
    err = (pred - coords).norm(dim=-1)  # (n, K)
    cols = min(n, 4)
    rows = -(-n // cols)
    titles = [", ".join(f"{e:.0f}" for e in err[i].tolist()) + " px" for i in range(n)]
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.02, vertical_spacing=0.08
    )
    h = x.shape[-1]
    colors = (BLUE, ORANGE)
    for i in range(n):
        r, c = i // cols + 1, i % cols + 1
        fig.add_trace(image_trace(x[i, 0]).update(meta=f"image {i}"), row=r, col=c)
        for j in range(heatmaps.shape[1]):
            color = colors[j % len(colors)]
            for kind, points, symbol in (("true", coords, "circle-open"), ("predicted", pred, "x")):
                point = go.Scatter(
                    x=[float(points[i, j, 1])],
                    y=[h - 1 - float(points[i, j, 0])],
                    mode="markers",
                    marker=dict(symbol=symbol, size=12 if kind == "true" else 9, color=color, line_width=2),
                    name=f"{kind} {names[j] if j < len(names) else j}",
                    legendgroup=f"{kind} {j}",
                    showlegend=i == 0,
                    meta=f"{kind} {j} in {i}",
                )
                fig.add_trace(point, row=r, col=c)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    fig.update_layout(
        height=190 * rows + 90,
        width=170 * cols + 200,
        title="o true keypoint, x heat-map maximum; titles: errors in pixels",
        **LAYOUT,
    )
    return fig


@typechecked
def hourglass_explorer(x: torch.Tensor, outputs: Sequence[torch.Tensor], coords: torch.Tensor) -> Explorer:
    """Notebook 09: stack -> that stack's heat maps (precomputed) for one example.

    Args:
        x: images (N, 1, H, W).
        outputs: per stack, predicted heat maps (N, K, H, W), computed once.
        coords: true keypoints (N, K, 2).
    """
    require_tensor("x", x, ndim=4, fix="images (N, 1, H, W)")
    require_tensor("coords", coords, ndim=3, fix="keypoints (N, K, 2)")
    for i, o in enumerate(outputs):
        require_tensor(f"outputs[{i}]", o, ndim=4, fix="heat maps (N, K, H, W) per stack")
    if not outputs:
        raise ValueError("outputs must hold the heat maps of at least one stack")
    outputs = [o.detach().cpu() for o in outputs]
    x, coords = x.detach().cpu(), coords.detach().cpu()
    figure = go.FigureWidget(heatmap_figure(x[0], outputs[-1][0], coords[0]))
    k = outputs[0].shape[1]

    def redraw(stack: int, example: int) -> str:
        heat = outputs[stack - 1][example]
        pred = heatmap_argmax(heat[None])[0]
        h = x.shape[-1]
        find_trace(figure, "image").update(z=image_grid(x[example, 0]))
        for j in range(k):
            find_trace(figure, f"heat map {j}").update(z=image_grid(heat[j]))
            for where in ("image", "heat map"):
                find_trace(figure, f"true {j} on {where}").update(
                    x=[float(coords[example, j, 1])], y=[h - 1 - float(coords[example, j, 0])]
                )
                find_trace(figure, f"predicted {j} on {where}").update(
                    x=[float(pred[j, 1])], y=[h - 1 - float(pred[j, 0])]
                )
        err = (pred - coords[example]).norm(dim=-1)
        return (
            f"stack {stack} of {len(outputs)}, example {example}: keypoint errors "
            + ", ".join(f"{e:.1f}" for e in err.tolist())
            + " pixels"
        )

    controls = {
        "stack": widgets.IntSlider(value=len(outputs), min=1, max=len(outputs), description="stack"),
        "example": widgets.IntSlider(value=0, min=0, max=len(x) - 1, description="example"),
    }
    return Explorer(controls, figure, redraw, name="hourglass_explorer")


def _hourglass_demo() -> dict:
    """Notebook 09's sizes with random heat maps where the notebook passes its trained hourglass's.

    20 test scenes of 24x24, two keypoints, two stacks.
    An update draws whichever heat maps it is given; random ones cost the same as trained ones.
    """
    scenes = keypoints(20, 24, seed=0)
    gen = torch.Generator().manual_seed(0)
    outputs = [torch.rand(20, 2, 24, 24, generator=gen) for _ in range(2)]
    return dict(x=scenes.x, outputs=outputs, coords=scenes.coords)


register_explorer(hourglass_explorer, _hourglass_demo, ("example",), "09_unet_hourglass")
