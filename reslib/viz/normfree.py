"""Life without batch norm: E[h^2] at initialisation next to the training curve, per init scheme."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reslib.data import mnist1d
from reslib.normfree import SCHEMES, normfree_mlp
from reslib.runtime import local_seed, num_threads
from reslib.train import History
from reslib.validate import typechecked
from reslib.variance import residual_stream
from reslib.viz.explorer import Explorer, find_trace, plain_list
from reslib.viz.registry import register_explorer
from reslib.viz.style import LAYOUT, PALETTE

__all__ = [
    "scheme_explorer",
    "scheme_figure",
]


@typechecked
def scheme_figure(results: Mapping[str, tuple[Sequence[float], History]] | None = None) -> go.Figure:
    """Left: E[h_k^2] per block at initialisation (log axis); right: training loss per epoch.

    Args:
        results: label -> (second moments per block, `History`); one colour per label.

    Traces (by key, see `find_trace`): "profile <i>" and "curve <i>" of the i-th label.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("E[h_k²] at initialisation", "training loss"))
    fig.update_xaxes(title_text="block k", row=1, col=1)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=1)
    fig.update_xaxes(title_text="epoch", row=1, col=2)
    fig.update_yaxes(title_text="cross-entropy", row=1, col=2)
    fig.update_layout(height=380, **LAYOUT)
    for i, (label, (second, history)) in enumerate((results or {}).items()):
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(
            go.Scatter(mode="lines", name=label, line=dict(color=colour), meta=f"profile {i}"), row=1, col=1
        )
        fig.add_trace(
            go.Scatter(
                mode="lines+markers", name=label, line=dict(color=colour), showlegend=False, meta=f"curve {i}"
            ),
            row=1,
            col=2,
        )
        _update_scheme_figure(fig, second, history, i)
    return fig


def _curve(history: History) -> tuple[list[int], list[float | None]]:
    loss = list(history.train_loss)
    return list(range(1, len(loss) + 1)), plain_list(loss)


def _update_scheme_figure(
    fig: go.Figure | go.FigureWidget, second: Sequence[float], history: History, index: int = 0
) -> None:
    """Write the profile and curve of the `index`-th network of a `scheme_figure`."""
    v = np.asarray(second, dtype=float)
    find_trace(fig, f"profile {index}").update(
        x=list(range(len(v))), y=plain_list(np.where(v > 0, v, np.nan))
    )
    x, y = _curve(history)
    find_trace(fig, f"curve {index}").update(x=x, y=y)


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
        _update_scheme_figure(figure, second, history)
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
    return Explorer(controls, figure, redraw, name="scheme_explorer")


def _scheme_demo() -> dict:
    """Notebook 10's networks and their E[h^2] at initialisation; made-up curves where it trains them.

    Every scheme at 8 and 32 blocks of 32 units, E[h^2] on 500 training signals as there, and
    made-up 6-epoch curves.
    An update draws a precomputed profile and curve: training would change their values, not
    what drawing them costs.
    """
    x, results = mnist1d(device="cpu").x_train[:500], {}
    with num_threads(1):  # models this small run fastest on one thread
        for depth, scheme in itertools.product([8, 32], SCHEMES):
            with local_seed(0):
                model = normfree_mlp(depth, 32, 40, 10, scheme)
            profile = residual_stream(model, x).second_moment
            curve = [round(2.3 / (1 + 0.1 * epoch * (1 + len(scheme) % 3)), 4) for epoch in range(6)]
            results[scheme, depth] = (profile, History(curve, [0.5] * 6))
    return dict(results=results)


register_explorer(scheme_explorer, _scheme_demo, ("scheme", "depth"), "10_why_residual_nets_train")
