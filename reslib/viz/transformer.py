"""The residual stream of a transformer: gradients per block and training curves, and the logit lens."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reslib.runtime import local_seed, num_threads
from reslib.sequences import SequenceRun, sequence_task
from reslib.stream import GradientProfile, StreamReadout, gradient_profile, logit_lens
from reslib.transformer import transformer
from reslib.validate import require_int, typechecked
from reslib.viz.explorer import Explorer, find_trace, plain_list
from reslib.viz.registry import register_explorer
from reslib.viz.style import BLUE, BROWN, GREEN, LAYOUT, ORANGE, PURPLE, RED

__all__ = [
    "lens_explorer",
    "lens_figure",
    "placement_explorer",
    "placement_figure",
]

_COLORS = (BLUE, RED, GREEN, ORANGE, PURPLE, BROWN)  # pre-LN and post-LN: blue and red first


@typechecked
def placement_figure(results: Mapping[str, tuple[GradientProfile, SequenceRun]] | None = None) -> go.Figure:
    """Left: |dL/dW| of each block's last linear at initialisation (log axis); right: training loss per step.

    Args:
        results: label -> (`GradientProfile` at initialisation, `SequenceRun`); one colour per label.

    Traces (by key, see `find_trace`): "gradients <i>" and "curve <i>" of the i-th label.
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
        fig.add_trace(
            go.Scatter(mode="lines+markers", name=label, line=dict(color=colour), meta=f"gradients {i}"),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                mode="lines", name=label, line=dict(color=colour), showlegend=False, meta=f"curve {i}"
            ),
            row=1,
            col=2,
        )
        _update_placement_figure(fig, profile, run, i)
    return fig


def _update_placement_figure(
    fig: go.Figure | go.FigureWidget, profile: GradientProfile, run: SequenceRun, index: int = 0
) -> None:
    """Write the gradient profile and loss curve of the `index`-th model of a `placement_figure`."""
    g = np.asarray(profile.mlp, dtype=float)
    find_trace(fig, f"gradients {index}").update(x=list(range(1, len(g) + 1)), y=plain_list(g))
    loss = np.asarray(run.loss, dtype=float)
    find_trace(fig, f"curve {index}").update(x=list(range(1, len(loss) + 1)), y=plain_list(loss))


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
        _update_placement_figure(figure, profile, run)
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
    return Explorer(controls, figure, redraw, name="placement_explorer")


def _placement_demo() -> dict:
    """Notebook 11's eight settings (4 and 12 blocks, pre-LN and post-LN, with and without warm-up):
    gradient profiles of fresh transformers of its size, on 64 sequences instead of 500, and
    made-up 150-step loss curves where the notebook trains them.

    An update draws a precomputed profile and curve: their values, not their cost, depend on
    how they were made.
    """
    data, results = sequence_task(64, 32, device="cpu"), {}
    with num_threads(1):  # models this small run fastest on one thread
        for depth, placement, warmup in itertools.product([4, 12], ["pre-LN", "post-LN"], [False, True]):
            with local_seed(0):
                model = transformer(10, 8, depth, 32, 2, d_ff=64, norm_first=placement == "pre-LN")
            profile = gradient_profile(model, data.x_train, data.y_train)
            curve = np.linspace(2.3, 0.1 + warmup, 150)
            results[depth, placement, warmup] = (profile, SequenceRun(curve, 0.9, None, 3e-3, 40 * warmup))
    return dict(results=results)


register_explorer(placement_explorer, _placement_demo, ("depth", "placement", "warmup"), "11_residual_stream")


@typechecked
def lens_figure(readout: StreamReadout | None = None, block: int = 0) -> go.Figure:
    """Left: the logit lens's probabilities after `block` for one sequence (rows: output positions);
    right: the stream's size per block, with the logit lens's accuracy.

    Traces (by key, see `find_trace`): "lens" (the probabilities), "target", "RMS", "accuracy",
    "this block".

    Raises:
        ValueError: `block` is not between 0 (the embedding) and the readout's `n_layer`.
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("logit lens on one sequence", "the stream, block by block"),
        specs=[[{}, {"secondary_y": True}]],
    )
    fig.add_trace(go.Heatmap(colorscale="Blues", zmin=0, zmax=1, showscale=False, meta="lens"), row=1, col=1)
    fig.add_trace(
        go.Scatter(mode="markers", marker=dict(symbol="x", color=RED, size=9), name="target", meta="target")
    )
    fig.add_trace(go.Scatter(mode="lines+markers", name="RMS of the stream", meta="RMS"), row=1, col=2)
    fig.add_trace(
        go.Scatter(mode="lines+markers", name="logit-lens accuracy", meta="accuracy"),
        row=1,
        col=2,
        secondary_y=True,
    )
    fig.add_trace(
        go.Scatter(mode="markers", marker=dict(size=14, color=ORANGE), name="this block", meta="this block"),
        row=1,
        col=2,
    )
    fig.update_xaxes(title_text="predicted digit", dtick=1, row=1, col=1)
    fig.update_yaxes(title_text="output position", autorange="reversed", dtick=1, row=1, col=1)
    fig.update_xaxes(title_text="after block (0: embedding)", row=1, col=2)
    fig.update_yaxes(title_text="RMS", row=1, col=2)
    fig.update_yaxes(title_text="accuracy", range=[0, 1.05], row=1, col=2, secondary_y=True)
    fig.update_layout(height=400, **LAYOUT)
    if readout is not None:
        require_int(
            "block", block, minimum=0, maximum=readout.n_layer, fix="0 is the embedding, n_layer the output"
        )
        _update_lens_figure(fig, readout, block)
    return fig


def _update_lens_figure(fig: go.Figure | go.FigureWidget, readout: StreamReadout, block: int) -> None:
    """Show the logit lens after `block` (0: the embedding .. n_layer) in a `lens_figure`."""
    probs = readout.probs[block]  # (T, classes)
    find_trace(fig, "lens").z = [[round(float(v), 4) for v in row] for row in probs]
    find_trace(fig, "target").update(x=readout.target.tolist(), y=list(range(len(readout.target))))
    rms = np.sqrt(readout.second_moment)
    blocks = list(range(readout.n_layer + 1))
    find_trace(fig, "RMS").update(x=blocks, y=plain_list(rms))
    find_trace(fig, "accuracy").update(x=blocks, y=plain_list(readout.accuracy))
    find_trace(fig, "this block").update(x=[block], y=plain_list([rms[block]]))


@typechecked
def lens_explorer(readout: StreamReadout) -> Explorer:
    """Notebook 11: block slider -> the logit lens's prediction for one sequence and the stream's size."""
    figure = go.FigureWidget(lens_figure(readout, readout.n_layer))

    def redraw(block: int) -> str:
        _update_lens_figure(figure, readout, block)
        guess = readout.probs[block].argmax(-1)
        right = int((guess == readout.target).sum())
        where = "the embedding" if block == 0 else f"block {block}"
        return (
            f"after {where}: decoded {''.join(map(str, guess.tolist()))} for target "
            f"{''.join(map(str, readout.target.tolist()))} ({right} of {len(guess)} right); "
            f"accuracy over the test set {readout.accuracy[block]:.0%}"
        )

    slider = widgets.IntSlider(value=readout.n_layer, min=0, max=readout.n_layer, description="block")
    return Explorer({"block": slider}, figure, redraw, name="lens_explorer")


def _lens_demo() -> dict:
    """Notebook 11's logit lens on 500 test sequences, of a fresh 12-block transformer of its size.

    The notebook reads its trained one: the same arrays to draw, other values in them.
    """
    data = sequence_task(64, 500, device="cpu")
    with local_seed(0):
        model = transformer(10, 8, 12, 32, 2, d_ff=64)
    with num_threads(1):  # models this small run fastest on one thread
        return dict(readout=logit_lens(model, data.x_test, data.y_test))


register_explorer(lens_explorer, _lens_demo, ("block",), "11_residual_stream")
