"""Figures of training runs: loss and error curves per epoch, and bar charts of final numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reslib.language import tr
from reslib.train import History
from reslib.validate import typechecked
from reslib.viz.explorer import plain_list
from reslib.viz.style import BLUE, LAYOUT, ORANGE

__all__ = [
    "METRICS",
    "bar_figure",
    "curves_figure",
    "metric_label",
    "training_curves_figure",
]


METRICS = MappingProxyType(
    {"training error": "train_error", "training loss": "train_loss", "test error": "test_error"}
)


@typechecked
def metric_label(metric: str) -> str:
    """A key of `METRICS` as a learner reads it, in the current language (the key itself stays English).

    Any other string is shown as it is.
    """
    titles = {
        "training error": tr("training error"),
        "training loss": tr("training loss"),
        "test error": tr("test error"),
    }
    return titles.get(metric, metric)


@typechecked
def training_curves_figure(
    histories: Mapping[str, History], final: Mapping[str, Sequence[float]]
) -> go.Figure:
    """Training-loss curves per network (left) and final train/test loss per network (right).

    Args:
        histories: label -> `History` from `reslib.train.fit`.
        final: label -> (train_loss, test_loss) measured after training.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=(tr("training loss per epoch"), tr("after training")))
    for label, h in histories.items():
        fig.add_trace(
            go.Scatter(x=np.arange(1, h.epochs + 1), y=h.train_loss, name=label, mode="lines"), row=1, col=1
        )
    labels = list(final)
    fig.add_trace(
        go.Bar(x=labels, y=[final[k][0] for k in labels], name=tr("train loss"), marker_color=BLUE),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Bar(x=labels, y=[final[k][1] for k in labels], name=tr("test loss"), marker_color=ORANGE),
        row=1,
        col=2,
    )
    fig.update_xaxes(title_text=tr("epoch"), row=1, col=1)
    fig.update_yaxes(title_text=tr("cross-entropy"), row=1, col=1)
    fig.update_layout(height=380, barmode="group", **LAYOUT)
    return fig


@typechecked
def curves_figure(histories: Mapping[str, History], metric: str = "training error") -> go.Figure:
    """One line per network of `metric` against epochs (plain dashed, residual solid)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    fig = go.Figure()
    for label, h in histories.items():
        values = getattr(h, METRICS[metric])
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(values) + 1)),
                y=plain_list(values),
                name=label,
                mode="lines+markers",
                line=dict(dash="dash" if "plain" in label else "solid"),
            )
        )
    fig.update_layout(height=360, xaxis_title=tr("epoch"), yaxis_title=metric_label(metric), **LAYOUT)
    return fig


@typechecked
def bar_figure(values: Mapping[str, float], title: str, yaxis: str) -> go.Figure:
    """One bar per label, with the value written on it."""
    labels = list(values)
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=plain_list([values[k] for k in labels]),
            text=[f"{values[k]:,.3g}" for k in labels],
            textposition="outside",
        )
    )
    fig.update_layout(title=title, yaxis_title=yaxis, height=360, **LAYOUT)
    return fig
