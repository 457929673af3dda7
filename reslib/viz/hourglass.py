"""Stacked hourglass: keypoint heat maps per stack, and an explorer over examples and stacks."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from reslib.scenes import heatmap_argmax, keypoints
from reslib.validate import require_tensor, typechecked
from reslib.viz.explorer import Explorer, find_trace, image_grid, image_trace
from reslib.viz.registry import register_explorer
from reslib.viz.style import BLUE, GREEN, LAYOUT

__all__ = [
    "heatmap_figure",
    "hourglass_explorer",
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
