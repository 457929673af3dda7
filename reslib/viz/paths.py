"""Residual networks as ensembles of paths: path-length distributions, gradient per path length, lesions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from reslib.data import TensorData
from reslib.paths import effective_paths, lesion, path_length_distribution
from reslib.train import evaluate
from reslib.validate import require_float, require_int, typechecked
from reslib.viz.explorer import LAYOUT, Explorer, plain_list

__all__ = [
    "lesion_explorer",
    "lesion_figure",
    "path_explorer",
    "paths_figure",
]

_RES, _PLAIN = "#1f77b4", "#d62728"


@typechecked
def paths_figure(n_blocks: int, magnitude: Sequence[float] | None = None) -> go.Figure:
    """Path-length distribution, gradient per path of each length, and their product.

    Args:
        n_blocks: residual blocks.
        magnitude: gradient norm of one path of each length 0..n; omitted: only the distribution.
    """
    require_int("n_blocks", n_blocks, 0, 1000, fix="2^n overflows a float past n = 1023")
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=(
            "paths of each length (fraction)",
            "gradient per path (log)",
            "share of the total gradient",
        ),
    )
    pmf = path_length_distribution(n_blocks)
    k = list(range(n_blocks + 1))
    fig.add_trace(go.Bar(x=k, y=plain_list(pmf), marker_color="#7f7f7f", name="paths"), 1, 1)
    g = np.zeros(n_blocks + 1) if magnitude is None else np.asarray(magnitude, float)
    fig.add_trace(
        go.Scatter(
            x=k,
            y=plain_list(np.where(g > 0, g, np.nan)),
            mode="lines+markers",
            marker_color=_RES,
            name="gradient",
        ),
        1,
        2,
    )
    contribution = effective_paths(n_blocks, g).contribution if g.any() else np.zeros_like(g)
    fig.add_trace(go.Bar(x=k, y=plain_list(contribution), marker_color=_RES, name="share"), 1, 3)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=2)
    fig.update_xaxes(title_text="path length k (residual branches taken)")
    fig.update_layout(height=360, showlegend=False, **LAYOUT)
    return fig


@typechecked
def path_explorer(decay: float = 0.5) -> Explorer:
    """Notebook 03: n blocks (1-110) and the gradient factor per branch -> where the gradient comes from.

    The gradient of one path of length k is modelled as $g(k) = r^k$, with $r$ the factor one
    residual branch multiplies it by (measured on a trained network in the notebook).
    """
    require_float(
        "decay", decay, 0.0, 1.0, strict_minimum=True, fix="the gradient shrinks by `decay` per branch"
    )
    figure = go.FigureWidget(paths_figure(54, decay ** np.arange(55)))

    def redraw(n_blocks: int, factor: float) -> str:
        k = np.arange(n_blocks + 1)
        g = factor ** k.astype(float)
        pmf = path_length_distribution(n_blocks)
        eff = effective_paths(n_blocks, g)
        for trace, y in zip(figure.data, (pmf, np.where(g > 0, g, np.nan), eff.contribution), strict=True):
            trace.x, trace.y = k.tolist(), plain_list(y)
        return (
            f"{n_blocks} blocks, 2^{n_blocks} paths, mean length {n_blocks / 2:g}; "
            f"90% of the gradient comes from lengths {eff.lo}-{eff.hi} "
            f"({100 * eff.paths_fraction:.3g}% of all paths)"
        )

    controls = {
        "n_blocks": widgets.IntSlider(value=54, min=1, max=110, description="blocks n"),
        "factor": widgets.FloatSlider(value=decay, min=0.05, max=1.0, step=0.05, description="factor r"),
    }
    return Explorer(controls, figure, redraw)


@typechecked
def lesion_figure(
    errors: Mapping[str, Sequence[float]],
    baseline: Mapping[str, float],
    xlabel: str = "deleted block",
    title: str = "",
) -> go.Figure:
    """Test error after each lesion (lines), with the intact networks' error (dashed)."""
    fig = go.Figure()
    for label, values in errors.items():
        color = _RES if "res" in label else _PLAIN
        fig.add_trace(
            go.Scatter(
                x=list(range(len(values))),
                y=plain_list(values),
                name=label,
                mode="lines+markers",
                line=dict(color=color),
            )
        )
        fig.add_hline(y=baseline[label], line=dict(color=color, dash="dash"))
    fig.update_xaxes(title_text=xlabel)
    fig.update_yaxes(title_text="test error", range=[0, 1])
    fig.update_layout(height=360, title=title, **LAYOUT)
    return fig


@typechecked
def lesion_explorer(models: Mapping[str, nn.Module], data: TensorData) -> Explorer:
    """Notebook 03: delete `count` blocks starting at `first` (or chosen at random) -> test error.

    Args:
        models: label -> trained network with `.blocks` (e.g. "residual", "plain").
        data: where the test split comes from.
    """
    labels = list(models)
    sizes = {label: len(m.blocks) for label, m in models.items()}
    n = max(sizes.values())  # each network is lesioned within its own blocks
    intact = {label: evaluate(m, data)[1] for label, m in models.items()}
    figure = go.FigureWidget(
        go.Figure(
            [
                go.Bar(x=labels, y=[intact[k] for k in labels], name="intact", marker_color="#bbbbbb"),
                go.Bar(
                    x=labels,
                    y=[intact[k] for k in labels],
                    name="lesioned",
                    marker_color=[_RES if "res" in k else _PLAIN for k in labels],
                ),
            ],
            layout=dict(height=360, barmode="group", yaxis=dict(title="test error", range=[0, 1]), **LAYOUT),
        )
    )

    def redraw(first: int, count: int, choice: str) -> str:
        drops = {}
        for k in labels:
            if choice == "random":  # `count` of this network's own blocks, draw number `first`
                gen = torch.Generator().manual_seed(first)
                drops[k] = sorted(torch.randperm(sizes[k], generator=gen)[: min(count, sizes[k])].tolist())
            else:
                drops[k] = list(range(min(first, sizes[k]), min(first + count, sizes[k])))
        errors = [evaluate(lesion(models[k], drops[k]), data)[1] for k in labels]
        figure.data[1].y = plain_list(errors)
        shown = "; ".join(
            f"{k}: deleted blocks {drops[k] or 'none'}, error {e:.2f} (intact {intact[k]:.2f})"
            for k, e in zip(labels, errors, strict=True)
        )
        how = f"random draw {first}" if choice == "random" else "consecutive"
        return f"{how}: {shown}"

    controls = {
        "first": widgets.IntSlider(value=3, min=0, max=n - 1, description="first block"),
        "count": widgets.IntSlider(value=1, min=0, max=n, description="blocks deleted"),
        "choice": widgets.Dropdown(
            options=["consecutive", "random"], value="consecutive", description="which"
        ),
    }
    return Explorer(controls, figure, redraw)
