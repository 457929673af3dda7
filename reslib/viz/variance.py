"""Forward variance of residual networks at initialisation: E[h_k^2] per block, and its explorer."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reslib.guard import require_work
from reslib.inits import INITS
from reslib.language import tr
from reslib.runtime import num_threads
from reslib.validate import require_int, require_seed, typechecked
from reslib.variance import FLOAT32_MAX, ForwardBackwardProfile, forward_backward_profile
from reslib.viz.explorer import UPDATE_LIMIT, Explorer, find_trace, plain_list
from reslib.viz.registry import register_explorer
from reslib.viz.style import BLUE, GREEN, LAYOUT, MID_GREY, ORANGE, RED

__all__ = [
    "branch_share_figure",
    "profile_figure",
    "variance_explorer",
    "variance_figure",
]


@typechecked
def variance_figure(
    profiles: Mapping[str, Sequence[float]], title: str = "", yaxis: str = "E[h_k^2]"
) -> go.Figure:
    """One line per label against block k (0 = the input) on a log axis."""
    fig = go.Figure()
    for label, values in profiles.items():
        v = np.asarray(values, dtype=float)
        fig.add_trace(
            go.Scatter(
                x=list(range(len(v))), y=plain_list(np.where(v > 0, v, np.nan)), name=label, mode="lines"
            )
        )
    fig.update_xaxes(title_text=tr("block k (0 = input)"))
    fig.update_yaxes(title_text=yaxis, type="log", exponentformat="power")
    fig.update_layout(height=380, title=title, **LAYOUT)
    return fig


@typechecked
def branch_share_figure(shares: Mapping[str, Sequence[float]], title: str = "") -> go.Figure:
    """The branch's share of each block's output against block k, with the line 1/(k+1) for reference."""
    fig = go.Figure()
    depth = 1
    for label, values in shares.items():
        v = np.asarray(values, dtype=float)
        depth = max(depth, len(v) - 1)
        fig.add_trace(go.Scatter(x=list(range(1, len(v))), y=plain_list(v[1:]), name=label, mode="lines"))
    k = np.arange(1, depth + 1)
    fig.add_trace(
        go.Scatter(
            x=k.tolist(), y=plain_list(1 / (k + 1)), name="1/(k+1)", line=dict(color=MID_GREY, dash="dash")
        )
    )
    fig.update_xaxes(title_text=tr("block k"))
    fig.update_yaxes(title_text=tr("E[branch²] / E[h_k²]"), type="log", exponentformat="power")
    fig.update_layout(height=380, title=title, **LAYOUT)
    return fig


@typechecked
def profile_figure(result: ForwardBackwardProfile | None = None) -> go.Figure:
    """Forward (E[h^2], batch variance, float32's max) and backward (gradient norm) per block.

    Traces (by key, see `find_trace`): "second moment" E[h^2], "batch variance", "float32 max"
    (dashed), "overflow" (a marker), "gradient norm".
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(tr("forward: h_k after block k"), tr("backward: ||dL/dh_k|| / ||dL/dh_last||")),
    )
    fig.add_trace(
        go.Scatter(mode="lines", name="E[h²]", line=dict(color=BLUE), meta="second moment"), row=1, col=1
    )
    fig.add_trace(
        go.Scatter(
            mode="lines",
            name=tr("batch variance"),
            line=dict(color=ORANGE, dash="dot"),
            meta="batch variance",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            mode="lines", name=tr("float32 max"), line=dict(color=MID_GREY, dash="dash"), meta="float32 max"
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            mode="markers", name=tr("overflow"), marker=dict(symbol="x", size=12, color=RED), meta="overflow"
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(mode="lines", name=tr("gradient norm"), line=dict(color=GREEN), meta="gradient norm"),
        row=1,
        col=2,
    )
    for col in (1, 2):
        fig.update_xaxes(title_text=tr("block k"), row=1, col=col)
        fig.update_yaxes(type="log", exponentformat="power", row=1, col=col)
    fig.update_layout(height=400, legend=dict(orientation="h", y=-0.25), **LAYOUT)
    if result is not None:
        _update_profile_figure(fig, result)
    return fig


def _update_profile_figure(fig: go.Figure | go.FigureWidget, result: ForwardBackwardProfile) -> None:
    """Write a `forward_backward_profile` result into a `profile_figure`."""
    second = np.asarray(result.second_moment, dtype=float)
    blocks = list(range(len(second)))
    find_trace(fig, "second moment").update(x=blocks, y=plain_list(second))
    variance = result.batch_variance
    find_trace(fig, "batch variance").update(x=blocks, y=plain_list(np.where(variance > 0, variance, np.nan)))
    find_trace(fig, "float32 max").update(x=[0, blocks[-1]], y=[FLOAT32_MAX, FLOAT32_MAX])
    k = result.overflow_at
    finite = second[np.isfinite(second)]
    overflow = ([k], [float(finite.max())]) if k is not None else ([], [])
    find_trace(fig, "overflow").update(x=overflow[0], y=overflow[1])
    grad = np.asarray(result.grad_norm, dtype=float)
    find_trace(fig, "gradient norm").update(x=blocks, y=plain_list(np.where(grad > 0, grad, np.nan)))


@typechecked
def variance_explorer(width: int = 64, n_samples: int = 128, seed: int = 0) -> Explorer:
    """Notebook 04: depth, init, weight-variance multiplier, residual scaling, BN -> both passes.

    Args:
        width: units per block.
        n_samples: batch size pushed through.
        seed: seed of the input and the weights (the same for every setting).
    """
    require_int("width", width)
    require_int("n_samples", n_samples, minimum=2)
    require_seed("seed", seed)
    # the deepest update: 200 blocks forward and backward (~4 n w^2 each), ~20 operations a block;
    # measured 0.14 s for the notebook's (64, 128), 1.4 s for (256, 256) (estimated 2.7 s)
    require_work(dict(width=width, n_samples=n_samples), 800 * n_samples * width**2, 4000, UPDATE_LIMIT)
    cache: dict[tuple, ForwardBackwardProfile] = {}
    figure = go.FigureWidget(profile_figure())

    def redraw(depth: int, init: str, multiplier: float, scaling: str, batch_norm: bool) -> str:
        gain = INITS[init.lower()] * multiplier  # sigma_w^2 * fan_in
        scale = 1 / math.sqrt(2) if scaling == "1/√2" else 1.0
        key = (depth, round(gain, 6), scale, batch_norm)
        if key not in cache:
            with num_threads(1):  # 200 tiny matmuls: threads only add hand-offs
                cache[key] = forward_backward_profile(depth, scale, batch_norm, width, n_samples, gain, seed)
        _update_profile_figure(figure, cache[key])
        return tr(
            "σ_w² = {gain:.3g}/fan_in, {depth} blocks: {status}",
            gain=gain,
            depth=depth,
            status=cache[key].status,
        )

    controls = {
        "depth": widgets.IntSlider(value=60, min=1, max=200, description=tr("blocks")),
        "init": widgets.Dropdown(options=["He", "Glorot"], value="He", description=tr("init")),
        "multiplier": widgets.FloatLogSlider(
            value=1.0, base=2, min=-2, max=2, step=0.25, description="σ_w² ×"
        ),
        "scaling": widgets.Dropdown(
            options=[(tr("none"), "none"), ("1/√2", "1/√2")], value="none", description=tr("scale sum")
        ),
        "batch_norm": widgets.Checkbox(value=False, description=tr("BN in branch")),
    }
    return Explorer(controls, figure, redraw, name="variance_explorer")


register_explorer(variance_explorer, lambda: {}, ("depth", "batch_norm"), "04_forward_variance")
