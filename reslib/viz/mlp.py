"""Width against depth at a fixed parameter budget: the errors of MLPs as heat maps.

The networks come from `reslib.mlp` (`width_for_budget` gives each depth its width); this module
only draws what training them measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reslib.validate import typechecked
from reslib.viz.explorer import plain_list
from reslib.viz.style import LAYOUT

__all__ = [
    "width_depth_figure",
]


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
