"""Figures and live explorers for notebooks 02 and 03 (shattered gradients; paths and lesions).

Pure figure builders (results -> `go.Figure`) and thin explorer wiring over
`reslib.widgets.Explorer`; the compute they show lives in `reslib.gradients` and `reslib.paths`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from reslib.data import TensorData
from reslib.gradients import autocorrelation, depth_gradients, freeze_batch_stats, shattering_net
from reslib.paths import effective_paths, lesion, path_length_distribution
from reslib.plotting import _plain
from reslib.train import evaluate
from reslib.widgets import Explorer

__all__ = [
    "lag1_figure",
    "lesion_explorer",
    "lesion_figure",
    "path_explorer",
    "paths_figure",
    "shattering_explorer",
    "shattering_figure",
]

_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=60, b=50))
_RES, _PLAIN = "#1f77b4", "#d62728"


# --- 02 · shattered gradients ---------------------------------------------------------------


def shattering_figure(results: Mapping[str, Mapping], max_lag: int = 40) -> go.Figure:
    """One column per result of `reslib.gradients.shattering`: dy/dx (top), autocorrelation (bottom)."""
    labels = list(results)
    fig = make_subplots(rows=2, cols=len(labels), subplot_titles=labels, vertical_spacing=0.15)
    for j, label in enumerate(labels, start=1):
        r = results[label]
        fig.add_trace(go.Scatter(x=_plain(r["x"]), y=_plain(r["grad"]), mode="lines",
                                 line=dict(width=1, color="#333"), showlegend=False), 1, j)
        fig.add_trace(go.Bar(x=list(range(max_lag + 1)), y=_plain(r["autocorr"][: max_lag + 1]),
                             marker_color=_RES, showlegend=False), 2, j)
        fig.update_yaxes(range=[-1, 1], row=2, col=j)
    fig.update_xaxes(title_text="input x", row=1)
    fig.update_xaxes(title_text="lag (grid steps)", row=2)
    fig.update_yaxes(title_text="dy/dx", row=1, col=1)
    fig.update_yaxes(title_text="autocorrelation", row=2, col=1)
    fig.update_layout(height=480, **_LAYOUT)
    return fig


def lag1_figure(curves: Mapping[str, Sequence[float]], title: str = "") -> go.Figure:
    """Lag-1 autocorrelation of dy/dx against depth, one line per label."""
    fig = go.Figure()
    for label, values in curves.items():
        fig.add_trace(go.Scatter(x=list(range(1, len(values) + 1)), y=_plain(values), name=label,
                                 mode="lines+markers", marker=dict(size=4)))
    fig.update_xaxes(title_text="depth (layers or residual blocks)")
    fig.update_yaxes(title_text="lag-1 autocorrelation of dy/dx", range=[-0.3, 1.05])
    fig.update_layout(height=380, title=title, **_LAYOUT)
    return fig


def shattering_explorer(max_depth: int = 50, width: int = 200, n_inputs: int = 256,
                        seed: int = 0) -> Explorer:
    """Notebook 02: depth (1-50), architecture and batch norm -> dy/dx and its autocorrelation.

    One network of `max_depth` layers per (architecture, batch norm) gives every depth at once
    (`depth_gradients`); all four are computed up front (~0.5 s), so every update only redraws.
    """
    x = torch.linspace(-2.0, 2.0, n_inputs).unsqueeze(1)
    cache: dict[tuple, np.ndarray] = {}
    for residual in (False, True):
        for bn in (True, False):
            model = shattering_net(max_depth, residual, bn, width, seed)
            cache[residual, bn] = depth_gradients(freeze_batch_stats(model, x), x).numpy()

    dummy = {"x": x.squeeze(1).numpy(), "grad": np.zeros(n_inputs),
             "autocorr": np.zeros(n_inputs)}
    figure = go.FigureWidget(shattering_figure({"dy/dx": dummy}))
    figure.update_layout(height=420)

    def redraw(depth: int, architecture: str, batch_norm: bool) -> str:
        g = cache[architecture == "residual", batch_norm][depth - 1]
        if not np.all(np.isfinite(g)):
            return f"the gradient overflowed at depth {depth}"
        r = autocorrelation(g, max_lag=40)
        figure.data[0].y = _plain(g)
        figure.data[1].y = _plain(r)
        kind = ("block" if architecture == "residual" else "layer") + ("s" if depth > 1 else "")
        return (f"{depth} {architecture} {kind}, {'with' if batch_norm else 'no'} batch norm: "
                f"lag-1 autocorrelation {r[1]:.2f} (1 = smooth, 0 = white noise)")

    controls = {
        "depth": widgets.IntSlider(value=24, min=1, max=max_depth, description="depth"),
        "architecture": widgets.Dropdown(options=["feed-forward", "residual"],
                                         value="feed-forward", description="architecture"),
        "batch_norm": widgets.Checkbox(value=True, description="batch norm"),
    }
    return Explorer(controls, figure, redraw)


# --- 03 · paths and lesions -----------------------------------------------------------------


def paths_figure(n_blocks: int, magnitude: Sequence[float] | None = None) -> go.Figure:
    """Path-length distribution, gradient per path of each length, and their product.

    Args:
        n_blocks: residual blocks.
        magnitude: gradient norm of one path of each length 0..n; omitted: only the distribution.
    """
    fig = make_subplots(rows=1, cols=3, subplot_titles=(
        "paths of each length (fraction)", "gradient per path (log)", "share of the total gradient"))
    pmf = path_length_distribution(n_blocks)
    k = list(range(n_blocks + 1))
    fig.add_trace(go.Bar(x=k, y=_plain(pmf), marker_color="#7f7f7f", name="paths"), 1, 1)
    g = np.zeros(n_blocks + 1) if magnitude is None else np.asarray(magnitude, float)
    fig.add_trace(go.Scatter(x=k, y=_plain(np.where(g > 0, g, np.nan)), mode="lines+markers",
                             marker_color=_RES, name="gradient"), 1, 2)
    contribution = effective_paths(n_blocks, g)["contribution"] if g.any() else np.zeros_like(g)
    fig.add_trace(go.Bar(x=k, y=_plain(contribution), marker_color=_RES, name="share"), 1, 3)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=2)
    fig.update_xaxes(title_text="path length k (residual branches taken)")
    fig.update_layout(height=360, showlegend=False, **_LAYOUT)
    return fig


def path_explorer(decay: float = 0.5) -> Explorer:
    """Notebook 03: n blocks (1-110) and the gradient factor per branch -> where the gradient comes from.

    The gradient of one path of length k is modelled as $g(k) = r^k$, with $r$ the factor one
    residual branch multiplies it by (measured on a trained network in the notebook).
    """
    figure = go.FigureWidget(paths_figure(54, decay ** np.arange(55)))

    def redraw(n_blocks: int, factor: float) -> str:
        k = np.arange(n_blocks + 1)
        g = factor ** k.astype(float)
        pmf = path_length_distribution(n_blocks)
        eff = effective_paths(n_blocks, g)
        for trace, y in zip(figure.data, (pmf, np.where(g > 0, g, np.nan), eff["contribution"]),
                            strict=True):
            trace.x, trace.y = k.tolist(), _plain(y)
        return (f"{n_blocks} blocks, 2^{n_blocks} paths, mean length {n_blocks / 2:g}; "
                f"90% of the gradient comes from lengths {eff['lo']}-{eff['hi']} "
                f"({100 * eff['paths_fraction']:.3g}% of all paths)")

    controls = {
        "n_blocks": widgets.IntSlider(value=54, min=1, max=110, description="blocks n"),
        "factor": widgets.FloatSlider(value=decay, min=0.05, max=1.0, step=0.05,
                                      description="factor r"),
    }
    return Explorer(controls, figure, redraw)


def lesion_figure(errors: Mapping[str, Sequence[float]], baseline: Mapping[str, float],
                  xlabel: str = "deleted block", title: str = "") -> go.Figure:
    """Test error after each lesion (lines), with the intact networks' error (dashed)."""
    fig = go.Figure()
    for label, values in errors.items():
        color = _RES if "res" in label else _PLAIN
        fig.add_trace(go.Scatter(x=list(range(len(values))), y=_plain(values), name=label,
                                 mode="lines+markers", line=dict(color=color)))
        fig.add_hline(y=baseline[label], line=dict(color=color, dash="dash"))
    fig.update_xaxes(title_text=xlabel)
    fig.update_yaxes(title_text="test error", range=[0, 1])
    fig.update_layout(height=360, title=title, **_LAYOUT)
    return fig


def lesion_explorer(models: Mapping[str, nn.Module], data: TensorData) -> Explorer:
    """Notebook 03: delete `count` blocks starting at `first` (or chosen at random) -> test error.

    Args:
        models: label -> trained network with `.blocks` (e.g. "residual", "plain").
        data: where the test split comes from.
    """
    labels = list(models)
    n = min(len(m.blocks) for m in models.values())
    intact = {label: evaluate(m, data)[1] for label, m in models.items()}
    figure = go.FigureWidget(go.Figure(
        [go.Bar(x=labels, y=[intact[k] for k in labels], name="intact", marker_color="#bbbbbb"),
         go.Bar(x=labels, y=[intact[k] for k in labels], name="lesioned",
                marker_color=[_RES if "res" in k else _PLAIN for k in labels])],
        layout=dict(height=360, barmode="group", yaxis=dict(title="test error", range=[0, 1]),
                    **_LAYOUT)))

    def redraw(first: int, count: int, choice: str) -> str:
        if choice == "random":
            gen = torch.Generator().manual_seed(first)
            drop = sorted(torch.randperm(n, generator=gen)[:count].tolist())
        else:
            drop = list(range(first, min(first + count, n)))
        errors = [evaluate(lesion(models[k], drop), data)[1] for k in labels]
        figure.data[1].y = _plain(errors)
        shown = ", ".join(f"{k} {e:.2f} (intact {intact[k]:.2f})"
                          for k, e in zip(labels, errors, strict=True))
        how = f"random draw {first}" if choice == "random" else "consecutive"
        return f"deleted blocks {drop or 'none'} ({how}): test error {shown}"

    controls = {
        "first": widgets.IntSlider(value=3, min=0, max=n - 1, description="first block"),
        "count": widgets.IntSlider(value=1, min=0, max=n, description="blocks deleted"),
        "choice": widgets.Dropdown(options=["consecutive", "random"], value="consecutive",
                                   description="which"),
    }
    return Explorer(controls, figure, redraw)
