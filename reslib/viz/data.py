"""Figures of the datasets the series trains on."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reslib.data import TensorData
from reslib.language import tr
from reslib.validate import require_int, typechecked
from reslib.viz.style import LAYOUT

__all__ = [
    "mnist1d_figure",
]


@typechecked
def mnist1d_figure(data: TensorData, per_class: int = 1) -> go.Figure:
    """The first `per_class` training signals of each digit, one panel per digit."""
    require_int("per_class", per_class, maximum=1000)
    x, y = data.x_train.cpu().numpy(), data.y_train.cpu().numpy()
    fig = make_subplots(
        rows=2, cols=5, subplot_titles=[tr("digit {digit}", digit=d) for d in range(10)], shared_yaxes=True
    )
    for d in range(10):
        for i in np.flatnonzero(y == d)[:per_class]:
            fig.add_trace(
                go.Scatter(y=x[i], mode="lines", line=dict(width=1.5), showlegend=False),
                row=d // 5 + 1,
                col=d % 5 + 1,
            )
    fig.update_layout(height=380, title=tr("MNIST-1D: one 40-point signal per class"), **LAYOUT)
    return fig
