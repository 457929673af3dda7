"""Life without batch norm: E[h^2] at initialisation next to the training curve, and the Euler view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reslib.euler import Trajectory, euler_trajectory
from reslib.train import History
from reslib.validate import require_int, typechecked
from reslib.viz.explorer import LAYOUT, Explorer, plain_list

__all__ = [
    "euler_explorer",
    "euler_figure",
    "scheme_explorer",
    "scheme_figure",
    "update_euler_figure",
    "update_scheme_figure",
]

_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


@typechecked
def scheme_figure(results: Mapping[str, tuple[Sequence[float], History]] | None = None) -> go.Figure:
    """Left: E[h_k^2] per block at initialisation (log axis); right: training loss per epoch.

    Args:
        results: label -> (second moments per block, `History`); one colour per label.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("E[h_k²] at initialisation", "training loss"))
    fig.update_xaxes(title_text="block k", row=1, col=1)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=1)
    fig.update_xaxes(title_text="epoch", row=1, col=2)
    fig.update_yaxes(title_text="cross-entropy", row=1, col=2)
    fig.update_layout(height=380, **LAYOUT)
    for i, (label, (second, history)) in enumerate((results or {}).items()):
        colour = _COLORS[i % len(_COLORS)]
        fig.add_trace(go.Scatter(mode="lines", name=label, line=dict(color=colour)), row=1, col=1)
        fig.add_trace(
            go.Scatter(mode="lines+markers", name=label, line=dict(color=colour), showlegend=False),
            row=1,
            col=2,
        )
        update_scheme_figure(fig, second, history, i)
    return fig


def _curve(history: History) -> tuple[list[int], list[float | None]]:
    loss = list(history.train_loss)
    return list(range(1, len(loss) + 1)), plain_list(loss)


@typechecked
def update_scheme_figure(
    fig: go.Figure | go.FigureWidget, second: Sequence[float], history: History, index: int = 0
) -> None:
    """Write one network's profile and curve into traces 2 index and 2 index + 1 of a `scheme_figure`."""
    require_int("index", index, minimum=0, maximum=len(fig.data) // 2 - 1, fix="one index per network drawn")
    v = np.asarray(second, dtype=float)
    fig.data[2 * index].x, fig.data[2 * index].y = list(range(len(v))), plain_list(np.where(v > 0, v, np.nan))
    fig.data[2 * index + 1].x, fig.data[2 * index + 1].y = _curve(history)


@typechecked
def scheme_explorer(results: Mapping[tuple[str, int], tuple[Sequence[float], History]]) -> Explorer:
    """Notebook 10: init scheme x depth -> E[h^2] at initialisation and the training curve (precomputed).

    Args:
        results: (scheme, depth) -> (second moments per block, `History`).
    """
    if not results:
        raise ValueError("results must hold at least one (scheme, depth) -> (profile, History) entry")
    schemes = list(dict.fromkeys(s for s, _ in results))
    depths = sorted({d for _, d in results})
    figure = go.FigureWidget(scheme_figure({"network": next(iter(results.values()))}))

    def redraw(scheme: str, depth: int) -> str:
        if (scheme, depth) not in results:
            return f"{scheme} was not trained at depth {depth}"
        second, history = results[scheme, depth]
        update_scheme_figure(figure, second, history)
        growth = second[-1] / second[0]
        if history.diverged_at is not None:
            outcome = f"diverged in epoch {history.diverged_at + 1}"
        else:
            outcome = f"training loss {history.train_loss[0]:.2f} -> {history.train_loss[-1]:.2f}"
        return f"{scheme}, {depth} blocks: E[h²] grows {growth:.3g}x from stem to last block; {outcome}"

    controls = {
        "scheme": widgets.Dropdown(options=schemes, value=schemes[0], description="init"),
        "depth": widgets.SelectionSlider(options=depths, value=depths[-1], description="blocks"),
    }
    return Explorer(controls, figure, redraw)


@typechecked
def euler_figure(residual: Trajectory | None = None, plain: Trajectory | None = None) -> go.Figure:
    """The first two hidden units of each input, layer by layer: residual (left) and plain (right)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("residual, h + f(h)/L", "plain, f(h)"))
    for col in (1, 2):
        for i in range(4):
            fig.add_trace(
                go.Scatter(
                    mode="lines+markers", line=dict(color=_COLORS[i]), marker=dict(size=3), showlegend=False
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="unit 1", row=1, col=col)
        fig.update_yaxes(title_text="unit 2", row=1, col=col)
    fig.update_layout(height=400, **LAYOUT)
    if residual is not None and plain is not None:
        update_euler_figure(fig, residual, plain)
    return fig


@typechecked
def update_euler_figure(fig: go.Figure | go.FigureWidget, residual: Trajectory, plain: Trajectory) -> None:
    """Write two `reslib.euler.euler_trajectory` results (up to 4 inputs each) into an `euler_figure`."""
    for offset, result in ((0, residual), (4, plain)):
        for i in range(4):
            trace = fig.data[offset + i]
            if i < result.states.shape[1]:
                trace.x, trace.y = plain_list(result.states[:, i, 0]), plain_list(result.states[:, i, 1])
            else:
                trace.x, trace.y = [], []


@typechecked
def euler_explorer(seed: int = 0) -> Explorer:
    """Notebook 10: depth L -> the hidden trajectories of a residual (Euler) and a plain network."""
    cache: dict[int, tuple[Trajectory, Trajectory]] = {}
    figure = go.FigureWidget(euler_figure())

    def redraw(depth: int) -> str:
        if depth not in cache:
            cache[depth] = (
                euler_trajectory(depth, True, seed=seed),
                euler_trajectory(depth, False, seed=seed),
            )
        update_euler_figure(figure, *cache[depth])
        res, plain = (r.states[-1, :, :2] for r in cache[depth])
        return (
            f"{depth} layers: first input ends at {np.round(res[0], 2)} (residual), "
            f"{np.round(plain[0], 2)} (plain)"
        )

    depths = [2**k for k in range(9)]
    controls = {"depth": widgets.SelectionSlider(options=depths, value=16, description="layers L")}
    return Explorer(controls, figure, redraw)
