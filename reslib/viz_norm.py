"""Figures and live explorers for notebooks 04 and 05 (forward variance; batch normalization from scratch).

Pure figure builders (results -> `go.Figure`) and thin explorer wiring over
`reslib.widgets.Explorer`; the compute they show lives in `reslib.variance` and
`reslib.batchnorm`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from reslib.batchnorm import running_stats_trace
from reslib.plotting import _LAYOUT, _plain
from reslib.variance import FLOAT32_MAX, forward_backward_profile
from reslib.widgets import Explorer

__all__ = [
    "lr_sweep_figure",
    "profile_figure",
    "running_stats_explorer",
    "running_stats_figure",
    "update_profile_figure",
    "update_running_stats_figure",
    "variance_explorer",
    "variance_figure",
]

_BINS = np.linspace(-12, 12, 97)


def variance_figure(profiles: Mapping[str, Sequence[float]], title: str = "",
                    yaxis: str = "E[h_k^2]") -> go.Figure:
    """One line per label against block k (0 = the input) on a log axis."""
    fig = go.Figure()
    for label, values in profiles.items():
        v = np.asarray(values, dtype=float)
        fig.add_trace(go.Scatter(x=list(range(len(v))), y=_plain(np.where(v > 0, v, np.nan)),
                                 name=label, mode="lines"))
    fig.update_xaxes(title_text="block k (0 = input)")
    fig.update_yaxes(title_text=yaxis, type="log", exponentformat="power")
    fig.update_layout(height=380, title=title, **_LAYOUT)
    return fig


def profile_figure(result: Mapping | None = None) -> go.Figure:
    """Forward (E[h^2], batch variance, float32's max) and backward (gradient norm) per block.

    Traces: 0 E[h^2], 1 batch variance, 2 float32 max (dashed), 3 overflow marker, 4 gradient norm.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "forward: h_k after block k", "backward: ||dL/dh_k|| / ||dL/dh_last||"))
    fig.add_trace(go.Scatter(mode="lines", name="E[h²]", line=dict(color="#1f77b4")), row=1, col=1)
    fig.add_trace(go.Scatter(mode="lines", name="batch variance",
                             line=dict(color="#ff7f0e", dash="dot")), row=1, col=1)
    fig.add_trace(go.Scatter(mode="lines", name="float32 max", line=dict(color="#999", dash="dash")),
                  row=1, col=1)
    fig.add_trace(go.Scatter(mode="markers", name="overflow",
                             marker=dict(symbol="x", size=12, color="#d62728")), row=1, col=1)
    fig.add_trace(go.Scatter(mode="lines", name="gradient norm", line=dict(color="#2ca02c")),
                  row=1, col=2)
    for col in (1, 2):
        fig.update_xaxes(title_text="block k", row=1, col=col)
        fig.update_yaxes(type="log", exponentformat="power", row=1, col=col)
    fig.update_layout(height=400, legend=dict(orientation="h", y=-0.25), **_LAYOUT)
    if result is not None:
        update_profile_figure(fig, result)
    return fig


def update_profile_figure(fig: go.Figure, result: Mapping) -> None:
    """Write a `forward_backward_profile` result into a `profile_figure`."""
    second = np.asarray(result["second_moment"], dtype=float)
    blocks = list(range(len(second)))
    fig.data[0].x, fig.data[0].y = blocks, _plain(second)
    fig.data[1].x, fig.data[1].y = blocks, _plain(np.where(result["batch_variance"] > 0,
                                                           result["batch_variance"], np.nan))
    fig.data[2].x, fig.data[2].y = [0, blocks[-1]], [FLOAT32_MAX, FLOAT32_MAX]
    k = result["overflow_at"]
    finite = second[np.isfinite(second)]
    fig.data[3].x, fig.data[3].y = ([k], [float(finite.max())]) if k is not None else ([], [])
    grad = np.asarray(result["grad_norm"], dtype=float)
    fig.data[4].x, fig.data[4].y = blocks, _plain(np.where(grad > 0, grad, np.nan))


def variance_explorer(width: int = 64, n_samples: int = 128, seed: int = 0) -> Explorer:
    """Notebook 04: depth, init, weight-variance multiplier, residual scaling, BN -> both passes.

    Args:
        width: units per block.
        n_samples: batch size pushed through.
        seed: seed of the input and the weights (the same for every setting).
    """
    cache: dict[tuple, dict] = {}
    figure = go.FigureWidget(profile_figure())

    def redraw(depth: int, init: str, multiplier: float, scaling: str, batch_norm: bool) -> str:
        gain = {"He": 2.0, "Glorot": 1.0}[init] * multiplier  # sigma_w^2 * fan_in
        scale = 1 / math.sqrt(2) if scaling == "1/√2" else 1.0
        key = (depth, round(gain, 6), scale, batch_norm)
        if key not in cache:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # 200 tiny matmuls: threads only add hand-offs
            try:
                cache[key] = forward_backward_profile(depth, scale, batch_norm, width, n_samples,
                                                      gain, seed)
            finally:
                torch.set_num_threads(threads)
        update_profile_figure(figure, cache[key])
        return f"σ_w² = {gain:.3g}/fan_in, {depth} blocks: {cache[key]['status']}"

    controls = {
        "depth": widgets.IntSlider(value=60, min=1, max=200, description="blocks"),
        "init": widgets.Dropdown(options=["He", "Glorot"], value="He", description="init"),
        "multiplier": widgets.FloatLogSlider(value=1.0, base=2, min=-2, max=2, step=0.25,
                                             description="σ_w² ×"),
        "scaling": widgets.Dropdown(options=["none", "1/√2"], value="none", description="scale sum"),
        "batch_norm": widgets.Checkbox(value=False, description="BN in branch"),
    }
    return Explorer(controls, figure, redraw)


def lr_sweep_figure(lrs: Sequence[float], losses: Mapping[str, Sequence[float]],
                    title: str = "") -> go.Figure:
    """Final training loss against learning rate (log x), one line per label; diverged runs as x."""
    fig = go.Figure()
    for label, values in losses.items():
        v = np.asarray(values, dtype=float)
        fig.add_trace(go.Scatter(x=list(lrs), y=_plain(v), name=label, mode="lines+markers"))
        bad = [lr for lr, loss in zip(lrs, v, strict=True) if not np.isfinite(loss)]
        if bad:
            fig.add_trace(go.Scatter(x=bad, y=[3.0] * len(bad), mode="markers",
                                     name=f"{label}: diverged",
                                     marker=dict(symbol="x", size=12, color="#d62728")))
    fig.update_xaxes(title_text="learning rate", type="log")
    fig.update_yaxes(title_text="training loss after training")
    fig.update_layout(height=380, title=title, **_LAYOUT)
    return fig


def running_stats_figure(trace: Mapping | None = None) -> go.Figure:
    """Running mean/variance vs step, train-vs-eval gap vs step, eval output histogram.

    Traces: 0 running mean, 1 population mean, 2 running var, 3 population var, 4 gap, 5 histogram.
    """
    fig = make_subplots(rows=1, cols=3, subplot_titles=(
        "running statistics", "|train output - eval output|", "eval-mode output y"))
    for name, color, dash in (("running mean", "#1f77b4", None), ("true mean", "#1f77b4", "dash"),
                              ("running var", "#ff7f0e", None), ("true var", "#ff7f0e", "dash")):
        fig.add_trace(go.Scatter(mode="lines", name=name, line=dict(color=color, dash=dash)),
                      row=1, col=1)
    fig.add_trace(go.Scatter(mode="lines", name="gap", line=dict(color="#2ca02c")), row=1, col=2)
    fig.add_trace(go.Bar(name="y", marker_color="#9467bd", showlegend=False), row=1, col=3)
    fig.update_xaxes(title_text="step", row=1, col=1)
    fig.update_xaxes(title_text="step", row=1, col=2)
    fig.update_xaxes(title_text="y", range=[-12, 12], row=1, col=3)
    fig.update_layout(height=380, bargap=0, legend=dict(orientation="h", y=-0.25), **_LAYOUT)
    if trace is not None:
        update_running_stats_figure(fig, trace)
    return fig


def update_running_stats_figure(fig: go.Figure, trace: Mapping) -> None:
    """Write a `running_stats_trace` result into a `running_stats_figure`."""
    steps = list(range(1, len(trace["running_mean"]) + 1))
    ends = [1, steps[-1]]
    fig.data[0].x, fig.data[0].y = steps, _plain(trace["running_mean"])
    fig.data[1].x, fig.data[1].y = ends, [trace["mean"]] * 2
    fig.data[2].x, fig.data[2].y = steps, _plain(trace["running_var"])
    fig.data[3].x, fig.data[3].y = ends, [trace["var"]] * 2
    fig.data[4].x, fig.data[4].y = steps, _plain(trace["gap"])
    counts, _ = np.histogram(np.clip(trace["output"], _BINS[0], _BINS[-1]), _BINS)
    fig.data[5].x = _plain((_BINS[:-1] + _BINS[1:]) / 2)
    fig.data[5].y = _plain(counts / counts.sum())


def running_stats_explorer(steps: int = 100, seed: int = 0) -> Explorer:
    """Notebook 05: batch size and momentum -> running statistics and the train/eval gap;
    gamma and beta -> the output distribution."""
    figure = go.FigureWidget(running_stats_figure())

    def redraw(batch_size: int, momentum: float, gamma: float, beta: float) -> str:
        t = running_stats_trace(batch_size, momentum, steps, gamma, beta, seed=seed)
        update_running_stats_figure(figure, t)
        return (f"after {steps} steps: running mean {t['running_mean'][-1]:.2f} (true "
                f"{t['mean']:.2f}), running var {t['running_var'][-1]:.2f} (true {t['var']:.2f}); "
                f"train/eval gap on the last batch {t['gap'][-1]:.3f}; output mean "
                f"{t['output'].mean():.2f}, std {t['output'].std():.2f}")

    controls = {
        "batch_size": widgets.IntSlider(value=16, min=2, max=256, description="batch size"),
        # log scale: the interesting momenta span 0.01-1; a linear float slider with step 0.01 also
        # got stuck under the keyboard in JupyterLab (0.1 -> 0.1 on ArrowRight)
        "momentum": widgets.FloatLogSlider(value=0.1, base=10, min=-2, max=0, step=0.1,
                                           description="momentum"),
        "gamma": widgets.FloatSlider(value=1.0, min=-2.0, max=3.0, step=0.1, description="γ"),
        "beta": widgets.FloatSlider(value=0.0, min=-3.0, max=3.0, step=0.1, description="β"),
    }
    return Explorer(controls, figure, redraw)
