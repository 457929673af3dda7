"""Figure builders: pure functions from results to plotly figures.

Each returns a `go.Figure`; the notebooks show it as a static figure and the
explorers wrap the same figure in a `go.FigureWidget` and update its traces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reslib.data import TensorData
from reslib.train import History

__all__ = [
    "degradation_figure",
    "gradient_flow_figure",
    "gradient_norms_figure",
    "mnist1d_figure",
    "update_gradient_flow_figure",
]

_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=60, b=50))
COLORS = {"relu": "#1f77b4", "tanh": "#2ca02c", "sigmoid": "#d62728"}


def mnist1d_figure(data: TensorData, per_class: int = 1) -> go.Figure:
    """The first `per_class` training signals of each digit, one panel per digit."""
    x, y = data.x_train.cpu().numpy(), data.y_train.cpu().numpy()
    fig = make_subplots(rows=2, cols=5, subplot_titles=[f"digit {d}" for d in range(10)],
                        shared_yaxes=True)
    for d in range(10):
        for i in np.flatnonzero(y == d)[:per_class]:
            fig.add_trace(go.Scatter(y=x[i], mode="lines", line=dict(width=1.5),
                                     showlegend=False), row=d // 5 + 1, col=d % 5 + 1)
    fig.update_layout(height=380, title="MNIST-1D: one 40-point signal per class", **_LAYOUT)
    return fig


def degradation_figure(histories: Mapping[str, History], final: Mapping[str, Sequence[float]]
                       ) -> go.Figure:
    """Training-loss curves per network (left) and final train/test loss per network (right).

    Args:
        histories: label -> `History` from `reslib.train.fit`.
        final: label -> (train_loss, test_loss) measured after training.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss per epoch",
                                                        "after training"))
    for label, h in histories.items():
        fig.add_trace(go.Scatter(x=np.arange(1, h.epochs + 1), y=h.train_loss, name=label,
                                 mode="lines"), row=1, col=1)
    labels = list(final)
    fig.add_trace(go.Bar(x=labels, y=[final[k][0] for k in labels], name="train loss",
                         marker_color="#1f77b4"), row=1, col=2)
    fig.add_trace(go.Bar(x=labels, y=[final[k][1] for k in labels], name="test loss",
                         marker_color="#ff7f0e"), row=1, col=2)
    fig.update_xaxes(title_text="epoch", row=1, col=1)
    fig.update_yaxes(title_text="cross-entropy", row=1, col=1)
    fig.update_layout(height=380, barmode="group", **_LAYOUT)
    return fig


def gradient_norms_figure(norms: Mapping[str, Sequence[float]], title: str = "") -> go.Figure:
    """$\\lVert\\partial L/\\partial W_k\\rVert$ against layer $k$ on a log axis, one line per label."""
    fig = go.Figure()
    for label, values in norms.items():
        v = np.asarray(values, dtype=float)
        fig.add_trace(go.Scatter(x=np.arange(1, len(v) + 1), y=np.where(v > 0, v, np.nan),
                                 name=label, mode="lines+markers",
                                 line=dict(color=COLORS.get(label))))
    fig.update_xaxes(title_text="layer k (1 = next to the input)")
    fig.update_yaxes(title_text="gradient norm ||dL/dW_k||", type="log", exponentformat="power")
    fig.update_layout(height=380, title=title, **_LAYOUT)
    return fig


def gradient_flow_figure(result: Mapping | None = None) -> go.Figure:
    """The explorer's two panels: gradient norm per layer (log) and activation histograms.

    Traces: 0 the norms, 1-3 the histograms of the first, middle and last hidden layer,
    4 red crosses on layers whose SGD step rounds back to the same float32 weights.

    Args:
        result: a dict from `reslib.gradients.gradient_flow`; None gives empty traces.
    """
    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], subplot_titles=(
        "gradient norm per layer", "activations h_k (fraction of units)"))
    fig.add_trace(go.Scatter(mode="lines+markers", name="||dL/dW_k||", showlegend=False),
                  row=1, col=1)
    for color in ("#1f77b4", "#ff7f0e", "#2ca02c"):
        fig.add_trace(go.Scatter(mode="lines", line=dict(shape="hvh", color=color)),
                      row=1, col=2)
    fig.add_trace(go.Scatter(mode="markers", name="SGD step rounds to no change",
                             marker=dict(symbol="x", size=9, color="#d62728")), row=1, col=1)
    fig.update_xaxes(title_text="layer k", row=1, col=1)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=1)
    fig.update_xaxes(title_text="activation value", row=1, col=2)
    fig.update_layout(height=380, legend=dict(x=1.0, y=1.0, xanchor="right"), **_LAYOUT)
    if result is not None:
        update_gradient_flow_figure(fig, result)
    return fig


def _plain(values) -> list:
    """A plain list with None for non-finite values.

    FigureWidget traces get lists, not numpy arrays: plotly compares the arrays it holds with
    what plotly.js sends back (sometimes as dicts), and a numpy array there raises in the kernel.
    """
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def update_gradient_flow_figure(fig: go.Figure, result: Mapping) -> None:
    """Write `result` into the traces of a figure made by `gradient_flow_figure`."""
    norms = np.asarray(result["norms"], dtype=float)
    fig.data[0].x = list(range(1, len(norms) + 1))
    shown = np.where(norms > 0, norms, np.nan)  # log axis: zero cannot be drawn
    fig.data[0].y = _plain(shown)
    frozen = np.flatnonzero(result["frozen"])
    fig.data[4].x, fig.data[4].y = (frozen + 1).tolist(), _plain(shown[frozen])
    centers = _plain((result["edges"][:-1] + result["edges"][1:]) / 2)
    seen = set()
    for trace, layer, hist in zip(fig.data[1:4], result["layers"], result["hist"], strict=True):
        trace.x, trace.y, trace.name = centers, _plain(hist), f"layer {layer}"
        trace.visible = layer not in seen
        seen.add(layer)
