"""Batch normalization: learning-rate sweeps and running statistics against the batch statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reslib.batchnorm import RunningStatsTrace, running_stats_trace
from reslib.validate import typechecked
from reslib.viz.explorer import Explorer, find_trace, plain_list
from reslib.viz.registry import register_explorer
from reslib.viz.style import BLUE, GREEN, LAYOUT, ORANGE, PURPLE, RED

__all__ = [
    "lr_sweep_figure",
    "running_stats_explorer",
    "running_stats_figure",
]


_BINS = np.linspace(-12, 12, 97)


@typechecked
def lr_sweep_figure(
    lrs: Sequence[float], losses: Mapping[str, Sequence[float]], title: str = ""
) -> go.Figure:
    """Final training loss against learning rate (log x), one line per label; diverged runs as x."""
    fig = go.Figure()
    for label, values in losses.items():
        v = np.asarray(values, dtype=float)
        fig.add_trace(go.Scatter(x=list(lrs), y=plain_list(v), name=label, mode="lines+markers"))
        bad = [lr for lr, loss in zip(lrs, v, strict=True) if not np.isfinite(loss)]
        if bad:
            fig.add_trace(
                go.Scatter(
                    x=bad,
                    y=[3.0] * len(bad),
                    mode="markers",
                    name=f"{label}: diverged",
                    marker=dict(symbol="x", size=12, color=RED),
                )
            )
    fig.update_xaxes(title_text="learning rate", type="log")
    fig.update_yaxes(title_text="training loss after training")
    fig.update_layout(height=380, title=title, **LAYOUT)
    return fig


@typechecked
def running_stats_figure(trace: RunningStatsTrace | None = None) -> go.Figure:
    """Running mean/variance vs step, train-vs-eval gap vs step, eval output histogram.

    Traces (by key, see `find_trace`): "running mean", "true mean", "running var", "true var"
    (the population's), "gap", "histogram".
    """
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=("running statistics", "|train output - eval output|", "eval-mode output y"),
    )
    for name, color, dash in (
        ("running mean", BLUE, None),
        ("true mean", BLUE, "dash"),
        ("running var", ORANGE, None),
        ("true var", ORANGE, "dash"),
    ):
        fig.add_trace(
            go.Scatter(mode="lines", name=name, line=dict(color=color, dash=dash), meta=name), row=1, col=1
        )
    fig.add_trace(go.Scatter(mode="lines", name="gap", line=dict(color=GREEN), meta="gap"), row=1, col=2)
    fig.add_trace(go.Bar(name="y", marker_color=PURPLE, showlegend=False, meta="histogram"), row=1, col=3)
    fig.update_xaxes(title_text="step", row=1, col=1)
    fig.update_xaxes(title_text="step", row=1, col=2)
    fig.update_xaxes(title_text="y", range=[-12, 12], row=1, col=3)
    fig.update_layout(height=380, bargap=0, legend=dict(orientation="h", y=-0.25), **LAYOUT)
    if trace is not None:
        _update_running_stats_figure(fig, trace)
    return fig


def _update_running_stats_figure(fig: go.Figure | go.FigureWidget, trace: RunningStatsTrace) -> None:
    """Write a `running_stats_trace` result into a `running_stats_figure`."""
    steps = list(range(1, len(trace.running_mean) + 1))
    ends = [1, steps[-1]]
    find_trace(fig, "running mean").update(x=steps, y=plain_list(trace.running_mean))
    find_trace(fig, "true mean").update(x=ends, y=[trace.mean] * 2)
    find_trace(fig, "running var").update(x=steps, y=plain_list(trace.running_var))
    find_trace(fig, "true var").update(x=ends, y=[trace.var] * 2)
    find_trace(fig, "gap").update(x=steps, y=plain_list(trace.gap))
    counts, _ = np.histogram(np.clip(trace.output, _BINS[0], _BINS[-1]), _BINS)
    find_trace(fig, "histogram").update(
        x=plain_list((_BINS[:-1] + _BINS[1:]) / 2), y=plain_list(counts / counts.sum())
    )


@typechecked
def running_stats_explorer(steps: int = 100, seed: int = 0) -> Explorer:
    """Notebook 05: batch size and momentum -> running statistics and the train/eval gap;
    gamma and beta -> the output distribution."""
    figure = go.FigureWidget(running_stats_figure())

    def redraw(batch_size: int, momentum: float, gamma: float, beta: float) -> str:
        t = running_stats_trace(batch_size, momentum, steps, gamma, beta, seed=seed)
        _update_running_stats_figure(figure, t)
        return (
            f"after {steps} steps: running mean {t.running_mean[-1]:.2f} (true "
            f"{t.mean:.2f}), running var {t.running_var[-1]:.2f} (true {t.var:.2f}); "
            f"train/eval gap on the last batch {t.gap[-1]:.3f}; output mean "
            f"{t.output.mean():.2f}, std {t.output.std():.2f}"
        )

    controls = {
        "batch_size": widgets.IntSlider(value=16, min=2, max=256, description="batch size"),
        # log scale: the interesting momenta span 0.01-1; a linear float slider with step 0.01 also
        # got stuck under the keyboard in JupyterLab (0.1 -> 0.1 on ArrowRight)
        "momentum": widgets.FloatLogSlider(
            value=0.1, base=10, min=-2, max=0, step=0.1, description="momentum"
        ),
        "gamma": widgets.FloatSlider(value=1.0, min=-2.0, max=3.0, step=0.1, description="γ"),
        "beta": widgets.FloatSlider(value=0.0, min=-3.0, max=3.0, step=0.1, description="β"),
    }
    return Explorer(controls, figure, redraw, name="running_stats_explorer")


register_explorer(running_stats_explorer, lambda: {}, ("batch_size",), "05_batch_norm_math")
