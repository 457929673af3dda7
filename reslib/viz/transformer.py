"""The residual stream of a transformer: gradients per block and training curves, and the logit lens."""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reslib.sequences import SequenceRun
from reslib.stream import GradientProfile, StreamReadout
from reslib.validate import require_int, typechecked
from reslib.viz.explorer import LAYOUT, Explorer, plain_list

__all__ = [
    "lens_explorer",
    "lens_figure",
    "placement_explorer",
    "placement_figure",
    "update_lens_figure",
    "update_placement_figure",
]

_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


@typechecked
def placement_figure(results: Mapping[str, tuple[GradientProfile, SequenceRun]] | None = None) -> go.Figure:
    """Left: |dL/dW| of each block's last linear at initialisation (log axis); right: training loss per step.

    Args:
        results: label -> (`GradientProfile` at initialisation, `SequenceRun`); one colour per label.
    """
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("gradient norm at initialisation, mlp.c_proj", "training loss")
    )
    fig.update_xaxes(title_text="block", row=1, col=1)
    fig.update_yaxes(type="log", title_text="‖∂L/∂W‖", row=1, col=1)
    fig.update_xaxes(title_text="step", row=1, col=2)
    fig.update_yaxes(title_text="cross-entropy", row=1, col=2)
    fig.update_layout(height=380, **LAYOUT)
    for i, (label, (profile, run)) in enumerate((results or {}).items()):
        colour = _COLORS[i % len(_COLORS)]
        fig.add_trace(go.Scatter(mode="lines+markers", name=label, line=dict(color=colour)), row=1, col=1)
        fig.add_trace(
            go.Scatter(mode="lines", name=label, line=dict(color=colour), showlegend=False), row=1, col=2
        )
        update_placement_figure(fig, profile, run, i)
    return fig


@typechecked
def update_placement_figure(
    fig: go.Figure | go.FigureWidget, profile: GradientProfile, run: SequenceRun, index: int = 0
) -> None:
    """Write one model's gradient profile and loss curve into traces 2 index and 2 index + 1."""
    require_int("index", index, minimum=0, maximum=len(fig.data) // 2 - 1, fix="one index per model drawn")
    g = np.asarray(profile.mlp, dtype=float)
    fig.data[2 * index].x, fig.data[2 * index].y = list(range(1, len(g) + 1)), plain_list(g)
    loss = np.asarray(run.loss, dtype=float)
    fig.data[2 * index + 1].x, fig.data[2 * index + 1].y = list(range(1, len(loss) + 1)), plain_list(loss)


@typechecked
def placement_explorer(
    results: Mapping[tuple[int, str, bool], tuple[GradientProfile, SequenceRun]],
) -> Explorer:
    """Notebook 11: depth x norm placement x warm-up -> gradient norms at init and the training curve.

    Args:
        results: (blocks, "pre-LN" or "post-LN", warm-up) -> (`GradientProfile`, `SequenceRun`),
            precomputed; an update only redraws.
    """
    if not results:
        raise ValueError("results must hold at least one (depth, placement, warmup) -> (profile, run) entry")
    depths = sorted({d for d, _, _ in results})
    placements = list(dict.fromkeys(p for _, p, _ in results))
    figure = go.FigureWidget(placement_figure({"model": next(iter(results.values()))}))

    def redraw(depth: int, placement: str, warmup: bool) -> str:
        if (depth, placement, warmup) not in results:
            return f"{placement} with{'' if warmup else 'out'} warm-up was not trained at {depth} blocks"
        profile, run = results[depth, placement, warmup]
        update_placement_figure(figure, profile, run)
        if run.diverged_at is not None:
            outcome = f"diverged at step {run.diverged_at + 1}"
        else:
            outcome = f"loss {run.loss[0]:.2f} -> {run.final_loss:.2f}, test accuracy {run.accuracy:.0%}"
        return (
            f"{placement}, {depth} blocks, {'with' if warmup else 'no'} warm-up: last/first block gradient "
            f"{profile.growth:.2f}; {outcome}"
        )

    controls = {
        "depth": widgets.SelectionSlider(options=depths, value=depths[-1], description="blocks"),
        "placement": widgets.ToggleButtons(options=placements, value=placements[-1], description="norm"),
        "warmup": widgets.Checkbox(value=False, description="warm-up"),
    }
    return Explorer(controls, figure, redraw)


@typechecked
def lens_figure(readout: StreamReadout | None = None, block: int = 0) -> go.Figure:
    """Left: the logit lens's probabilities after `block` for one sequence (rows: output positions);
    right: the stream's size per block, with the logit lens's accuracy.
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("logit lens on one sequence", "the stream, block by block"),
        specs=[[{}, {"secondary_y": True}]],
    )
    fig.add_trace(go.Heatmap(colorscale="Blues", zmin=0, zmax=1, showscale=False), row=1, col=1)
    fig.add_trace(go.Scatter(mode="markers", marker=dict(symbol="x", color="#d62728", size=9), name="target"))
    fig.add_trace(go.Scatter(mode="lines+markers", name="RMS of the stream"), row=1, col=2)
    fig.add_trace(
        go.Scatter(mode="lines+markers", name="logit-lens accuracy"), row=1, col=2, secondary_y=True
    )
    fig.add_trace(
        go.Scatter(mode="markers", marker=dict(size=14, color="#ff7f0e"), name="this block"), row=1, col=2
    )
    fig.update_xaxes(title_text="predicted digit", dtick=1, row=1, col=1)
    fig.update_yaxes(title_text="output position", autorange="reversed", dtick=1, row=1, col=1)
    fig.update_xaxes(title_text="after block (0: embedding)", row=1, col=2)
    fig.update_yaxes(title_text="RMS", row=1, col=2)
    fig.update_yaxes(title_text="accuracy", range=[0, 1.05], row=1, col=2, secondary_y=True)
    fig.update_layout(height=400, **LAYOUT)
    if readout is not None:
        update_lens_figure(fig, readout, block)
    return fig


@typechecked
def update_lens_figure(fig: go.Figure | go.FigureWidget, readout: StreamReadout, block: int) -> None:
    """Show the logit lens after `block` (0: the embedding .. n_layer) in a `lens_figure`."""
    require_int(
        "block", block, minimum=0, maximum=readout.n_layer, fix="0 is the embedding, n_layer the output"
    )
    probs = readout.probs[block]  # (T, classes)
    fig.data[0].z = [[round(float(v), 4) for v in row] for row in probs]
    fig.data[1].x, fig.data[1].y = readout.target.tolist(), list(range(len(readout.target)))
    rms = np.sqrt(readout.second_moment)
    blocks = list(range(readout.n_layer + 1))
    fig.data[2].x, fig.data[2].y = blocks, plain_list(rms)
    fig.data[3].x, fig.data[3].y = blocks, plain_list(readout.accuracy)
    fig.data[4].x, fig.data[4].y = [block], plain_list([rms[block]])


@typechecked
def lens_explorer(readout: StreamReadout) -> Explorer:
    """Notebook 11: block slider -> the logit lens's prediction for one sequence and the stream's size."""
    figure = go.FigureWidget(lens_figure(readout, readout.n_layer))

    def redraw(block: int) -> str:
        update_lens_figure(figure, readout, block)
        guess = readout.probs[block].argmax(-1)
        right = int((guess == readout.target).sum())
        where = "the embedding" if block == 0 else f"block {block}"
        return (
            f"after {where}: decoded {''.join(map(str, guess.tolist()))} for target "
            f"{''.join(map(str, readout.target.tolist()))} ({right} of {len(guess)} right); "
            f"accuracy over the test set {readout.accuracy[block]:.0%}"
        )

    slider = widgets.IntSlider(value=readout.n_layer, min=0, max=readout.n_layer, description="block")
    return Explorer({"block": slider}, figure, redraw)
