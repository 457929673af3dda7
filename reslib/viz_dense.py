"""Figures and live explorers for notebooks 08 and 09 (DenseNet; U-Net and the stacked hourglass).

Pure figure builders (results -> `go.Figure`) and thin explorer wiring over
`reslib.widgets.Explorer`; the compute they show lives in the topic modules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from reslib.densenet import channel_plan, densenet_parameter_count
from reslib.plotting import _plain
from reslib.shapes import heatmap_argmax
from reslib.unet import unet_shape_trace
from reslib.widgets import Explorer

__all__ = [
    "bar_figure",
    "channel_figure",
    "densenet_explorer",
    "heatmap_figure",
    "hourglass_explorer",
    "segmentation_figure",
    "unet_trace_explorer",
    "unet_trace_figure",
]

_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=60, b=50))
_BLOCK_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def bar_figure(values: Mapping[str, float], title: str, yaxis: str) -> go.Figure:
    """One bar per label, with the value written on it."""
    labels = list(values)
    fig = go.Figure(go.Bar(x=labels, y=_plain([values[k] for k in labels]),
                           text=[f"{values[k]:,.3g}" for k in labels], textposition="outside"))
    fig.update_layout(title=title, yaxis_title=yaxis, height=360, **_LAYOUT)
    return fig


def _channel_traces(growth_rate: int, block_config: Sequence[int], num_init_features: int,
                    compression: float) -> list[dict]:
    traces, x = [], 0
    for row in channel_plan(growth_rate, block_config, num_init_features, compression):
        n = len(row["layer_inputs"])
        traces.append(dict(x=list(range(x + 1, x + n + 1)), y=list(row["layer_inputs"]),
                           name=f"block {row['block']}"))
        x += n
    return traces


def channel_figure(growth_rate: int = 12, block_config: Sequence[int] = (16, 16, 16),
                   num_init_features: int = 24, compression: float = 0.5) -> go.Figure:
    """Input channels of every dense layer, $k_0 + l\\,k$, one colour per block."""
    fig = go.Figure()
    for i, t in enumerate(_channel_traces(growth_rate, block_config, num_init_features, compression)):
        fig.add_trace(go.Bar(**t, marker_color=_BLOCK_COLORS[i % len(_BLOCK_COLORS)]))
    for i in range(len(fig.data), 4):  # fixed number of traces, so an explorer can update them
        fig.add_trace(go.Bar(x=[], y=[], name=f"block {i + 1}", visible=False))
    fig.update_layout(title=f"channels read by each dense layer (k={growth_rate}, theta={compression})",
                      xaxis_title="dense layer (counted through the network)",
                      yaxis_title="input channels", height=380, bargap=0.05, **_LAYOUT)
    return fig


def densenet_explorer(num_blocks: int = 3) -> Explorer:
    """Notebook 08: growth rate, layers per block, compression -> channels per layer and parameters.

    Closed-form (`channel_plan`, `densenet_parameter_count`): nothing is built or run.
    """
    figure = go.FigureWidget(channel_figure(12, (16,) * num_blocks, 24, 0.5))

    def redraw(growth_rate: int, layers: int, compression: float) -> str:
        config = (layers,) * num_blocks
        traces = _channel_traces(growth_rate, config, 2 * growth_rate, compression)
        for i, trace in enumerate(figure.data):
            if i < len(traces):
                trace.update(x=traces[i]["x"], y=traces[i]["y"], visible=True)
            else:
                trace.update(x=[], y=[], visible=False)
        figure.layout.title.text = (f"channels read by each dense layer (k={growth_rate}, "
                                    f"theta={compression:.2f})")
        params = densenet_parameter_count(growth_rate, config, 2 * growth_rate, compression=compression,
                                          num_classes=10, stem="cifar")
        widest = max(max(t["y"]) for t in traces)
        depth = 6 * layers + 4
        return (f"DenseNet-BC, depth {depth} ({num_blocks} blocks of {layers}), k0 = 2k = {2 * growth_rate}: "
                f"{params:,} parameters; widest layer input {widest} channels")

    controls = {
        "growth_rate": widgets.IntSlider(value=12, min=1, max=48, description="growth k"),
        "layers": widgets.IntSlider(value=16, min=1, max=40, description="layers/block"),
        "compression": widgets.FloatSlider(value=0.5, min=0.1, max=1.0, step=0.05,
                                           description="theta"),
    }
    return Explorer(controls, figure, redraw)


def _trace_xy(size: int, depth: int, padding: str) -> tuple[list[str], list[int], str | None]:
    rows, problem = unet_shape_trace(size, depth, padding)
    labels = [f"{r['stage']} {r['level']}" if r["stage"] != "input" else "input" for r in rows]
    return labels, [r["size"] for r in rows], problem


def unet_trace_figure(size: int = 572, depth: int = 4) -> go.Figure:
    """The spatial size after each step of a valid and a same U-Net; crops as bars."""
    fig = go.Figure()
    for padding, color in (("valid", "#d62728"), ("same", "#1f77b4")):
        labels, sizes, problem = _trace_xy(size, depth, padding)
        fig.add_trace(go.Scatter(x=list(range(len(sizes))), y=sizes, mode="lines+markers+text",
                                 text=[str(s) for s in sizes], textposition="top center",
                                 name=f"{padding}" + (" (stops)" if problem else ""),
                                 line=dict(color=color), hovertext=labels))
    rows, _ = unet_shape_trace(size, depth, "valid")
    fig.add_trace(go.Bar(x=[i for i, r in enumerate(rows) if r["crop"]],
                         y=[r["crop"] for r in rows if r["crop"]], name="valid: pixels cropped from the skip",
                         marker_color="#ff9896", opacity=0.6))
    fig.update_layout(title=f"U-Net of depth {depth}: spatial size through the network, input {size}",
                      xaxis_title="step (input, encoder levels, bottleneck, up/decoder levels)",
                      yaxis_title="height = width (pixels)", height=400, **_LAYOUT)
    return fig


def unet_trace_explorer(depth: int = 4) -> Explorer:
    """Notebook 09: input size -> the size trace through a valid and a same U-Net (never raises)."""
    figure = go.FigureWidget(unet_trace_figure(572, depth))

    def redraw(size: int) -> str:
        messages = []
        for i, padding in enumerate(("valid", "same")):
            labels, sizes, problem = _trace_xy(size, depth, padding)
            figure.data[i].update(x=list(range(len(sizes))), y=sizes, text=[str(s) for s in sizes],
                                  hovertext=labels, name=padding + (" (stops)" if problem else ""))
            messages.append(f"{padding}: " + (f"{size} -> {sizes[-1]}" if problem is None
                                              else f"fails at {problem}"))
        rows, _ = unet_shape_trace(size, depth, "valid")
        figure.data[2].update(x=[i for i, r in enumerate(rows) if r["crop"]],
                              y=[r["crop"] for r in rows if r["crop"]])
        figure.layout.title.text = f"U-Net of depth {depth}: spatial size through the network, input {size}"
        return "; ".join(messages)

    controls = {"size": widgets.IntSlider(value=572, min=16, max=700, description="input size")}
    return Explorer(controls, figure, redraw)


def _grid(z: torch.Tensor) -> list[list[float]]:
    """A 2-D tensor as nested plain lists, first row at the bottom (plotly heatmaps draw y upwards)."""
    return [[round(float(v), 4) for v in row] for row in z.detach().cpu().flip(0).tolist()]


def _image(z: torch.Tensor, colorscale: str = "gray", zmin: float | None = None,
           zmax: float | None = None) -> go.Heatmap:
    return go.Heatmap(z=_grid(z), colorscale=colorscale, showscale=False,
                      zmin=zmin, zmax=zmax)


def segmentation_figure(x: torch.Tensor, mask: torch.Tensor, predictions: Mapping[str, torch.Tensor],
                        n: int = 4) -> go.Figure:
    """Rows: images, true masks, then one row of predicted masks per model (labels (N, H, W))."""
    rows = {"image": x[:n, 0], "true mask": mask[:n], **{k: v[:n] for k, v in predictions.items()}}
    fig = make_subplots(rows=len(rows), cols=n, row_titles=list(rows), horizontal_spacing=0.01,
                        vertical_spacing=0.02)
    for r, (name, images) in enumerate(rows.items()):
        for c in range(n):
            trace = (_image(images[c]) if name == "image"
                     else _image(images[c].float(), "Viridis", 0, 2))
            fig.add_trace(trace, row=r + 1, col=c + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    fig.update_layout(height=150 * len(rows) + 60, width=150 * n + 120,
                      title="masks: 0 background, 1 disc, 2 square", **_LAYOUT)
    return fig


def heatmap_figure(x: torch.Tensor, heatmaps: torch.Tensor, coords: torch.Tensor,
                   names: Sequence[str] = ("disc centre", "square centre")) -> go.Figure:
    """One image, its predicted heat maps (one per keypoint), true (o) and argmax (x) keypoints."""
    k = heatmaps.shape[0]
    fig = make_subplots(rows=1, cols=k + 1, subplot_titles=["image", *names[:k]])
    h = x.shape[-1]
    fig.add_trace(_image(x[0]), row=1, col=1)
    pred = heatmap_argmax(heatmaps[None])[0]
    for j in range(k):
        fig.add_trace(_image(heatmaps[j], "Hot"), row=1, col=j + 2)
    for j in range(k):
        for col in (1, j + 2):
            fig.add_trace(go.Scatter(x=[float(coords[j, 1])], y=[h - 1 - float(coords[j, 0])], mode="markers",
                                     marker=dict(symbol="circle-open", size=12, color="#1f77b4"),
                                     showlegend=False), row=1, col=col)
            fig.add_trace(go.Scatter(x=[float(pred[j, 1])], y=[h - 1 - float(pred[j, 0])], mode="markers",
                                     marker=dict(symbol="x", size=10, color="#2ca02c"),
                                     showlegend=False), row=1, col=col)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    fig.update_layout(height=300, width=260 * (k + 1), title="o true keypoint, x heat-map maximum",
                      **_LAYOUT)
    return fig


def hourglass_explorer(x: torch.Tensor, outputs: Sequence[torch.Tensor], coords: torch.Tensor) -> Explorer:
    """Notebook 09: stack -> that stack's heat maps (precomputed) for one example.

    Args:
        x: images (N, 1, H, W).
        outputs: per stack, predicted heat maps (N, K, H, W), computed once.
        coords: true keypoints (N, K, 2).
    """
    outputs = [o.detach().cpu() for o in outputs]
    x, coords = x.detach().cpu(), coords.detach().cpu()
    figure = go.FigureWidget(heatmap_figure(x[0], outputs[-1][0], coords[0]))
    k = outputs[0].shape[1]

    def redraw(stack: int, example: int) -> str:
        heat = outputs[stack - 1][example]
        pred = heatmap_argmax(heat[None])[0]
        h = x.shape[-1]
        figure.data[0].update(z=_grid(x[example, 0]))
        for j in range(k):
            figure.data[1 + j].update(z=_grid(heat[j]))
        i = 1 + k
        for j in range(k):
            for _ in range(2):
                figure.data[i].update(x=[float(coords[example, j, 1])],
                                      y=[h - 1 - float(coords[example, j, 0])])
                figure.data[i + 1].update(x=[float(pred[j, 1])], y=[h - 1 - float(pred[j, 0])])
                i += 2
        err = (pred - coords[example]).norm(dim=-1)
        return (f"stack {stack} of {len(outputs)}, example {example}: keypoint errors "
                + ", ".join(f"{e:.1f}" for e in err.tolist()) + " pixels")

    controls = {
        "stack": widgets.IntSlider(value=len(outputs), min=1, max=len(outputs), description="stack"),
        "example": widgets.IntSlider(value=0, min=0, max=len(x) - 1, description="example"),
    }
    return Explorer(controls, figure, redraw)
