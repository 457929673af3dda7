"""The residual stream of a transformer: gradients per block and training curves, and the logit lens."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from torch import nn

from reslib.language import tr
from reslib.runtime import local_seed, num_threads
from reslib.sequences import SequenceRun, sequence_task
from reslib.stream import GradientProfile, StreamReadout, gradient_profile, logit_lens
from reslib.transformer import Block, Transformer, transformer
from reslib.validate import require_int, typechecked
from reslib.viz import style
from reslib.viz.diagram import Box, Diagram, layer_label
from reslib.viz.explorer import Explorer, find_trace, plain_list
from reslib.viz.registry import register_explorer
from reslib.viz.style import BLUE, BROWN, GREEN, LAYOUT, ORANGE, PURPLE, RED

__all__ = [
    "lens_explorer",
    "lens_figure",
    "placement_explorer",
    "placement_figure",
    "transformer_block_diagram",
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
        rows=1,
        cols=2,
        subplot_titles=(tr("gradient norm at initialisation, mlp.c_proj"), tr("training loss")),
    )
    fig.update_xaxes(title_text=tr("block"), row=1, col=1)
    fig.update_yaxes(type="log", title_text="‖∂L/∂W‖", row=1, col=1)
    fig.update_xaxes(title_text=tr("step"), row=1, col=2)
    fig.update_yaxes(title_text=tr("cross-entropy"), row=1, col=2)
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
    figure = go.FigureWidget(placement_figure({tr("model"): next(iter(results.values()))}))

    def redraw(depth: int, placement: str, warmup: bool) -> str:
        if (depth, placement, warmup) not in results:
            if warmup:
                return tr(
                    "{placement} with warm-up was not trained at {depth} blocks",
                    placement=placement,
                    depth=depth,
                )
            return tr(
                "{placement} without warm-up was not trained at {depth} blocks",
                placement=placement,
                depth=depth,
            )
        profile, run = results[depth, placement, warmup]
        _update_placement_figure(figure, profile, run)
        if run.diverged_at is not None:
            outcome = tr("diverged at step {step}", step=run.diverged_at + 1)
        else:
            outcome = tr(
                "loss {first:.2f} -> {final:.2f}, test accuracy {accuracy:.0%}",
                first=run.loss[0],
                final=run.final_loss,
                accuracy=run.accuracy,
            )
        fields = dict(placement=placement, depth=depth, growth=profile.growth, outcome=outcome)
        if warmup:
            return tr(
                "{placement}, {depth} blocks, with warm-up: "
                "last/first block gradient {growth:.2f}; {outcome}",
                **fields,
            )
        return tr(
            "{placement}, {depth} blocks, no warm-up: last/first block gradient {growth:.2f}; {outcome}",
            **fields,
        )

    controls = {
        "depth": widgets.SelectionSlider(options=depths, value=depths[-1], description=tr("blocks")),
        "placement": widgets.ToggleButtons(options=placements, value=placements[-1], description=tr("norm")),
        "warmup": widgets.Checkbox(value=False, description=tr("warm-up")),
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
        subplot_titles=(tr("logit lens on one sequence"), tr("the stream, block by block")),
        specs=[[{}, {"secondary_y": True}]],
    )
    fig.add_trace(go.Heatmap(colorscale="Blues", zmin=0, zmax=1, showscale=False, meta="lens"), row=1, col=1)
    fig.add_trace(
        go.Scatter(
            mode="markers", marker=dict(symbol="x", color=RED, size=9), name=tr("target"), meta="target"
        )
    )
    fig.add_trace(go.Scatter(mode="lines+markers", name=tr("RMS of the stream"), meta="RMS"), row=1, col=2)
    fig.add_trace(
        go.Scatter(mode="lines+markers", name=tr("logit-lens accuracy"), meta="accuracy"),
        row=1,
        col=2,
        secondary_y=True,
    )
    fig.add_trace(
        go.Scatter(
            mode="markers", marker=dict(size=14, color=ORANGE), name=tr("this block"), meta="this block"
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(title_text=tr("predicted digit"), dtick=1, row=1, col=1)
    fig.update_yaxes(title_text=tr("output position"), autorange="reversed", dtick=1, row=1, col=1)
    fig.update_xaxes(title_text=tr("after block (0: embedding)"), row=1, col=2)
    fig.update_yaxes(title_text="RMS", row=1, col=2)
    fig.update_yaxes(title_text=tr("accuracy"), range=[0, 1.05], row=1, col=2, secondary_y=True)
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
        fields = dict(
            decoded="".join(map(str, guess.tolist())),
            target="".join(map(str, readout.target.tolist())),
            right=right,
            total=len(guess),
            accuracy=readout.accuracy[block],
        )
        if block == 0:
            return tr(
                "after the embedding: decoded {decoded} for target {target} ({right} of {total} right); "
                "accuracy over the test set {accuracy:.0%}",
                **fields,
            )
        return tr(
            "after block {block}: decoded {decoded} for target {target} ({right} of {total} right); "
            "accuracy over the test set {accuracy:.0%}",
            block=block,
            **fields,
        )

    slider = widgets.IntSlider(value=readout.n_layer, min=0, max=readout.n_layer, description=tr("block"))
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


BRANCH_X = 170  # how far right of the stream the branches run
STEP = 46  # vertical distance between two boxes


def _attention_label(block: Block) -> tuple[str, str]:
    attn = block.attn
    d_model = attn.c_proj.out_features
    heads = attn.n_head
    d_head = d_model // heads
    sub = tr("d_head {d_head}, causal", d_head=d_head) if attn.causal else f"d_head {d_head}"
    return tr("Self-attention, {heads} heads", heads=heads), sub


def _mlp_label(block: Block) -> tuple[str, str]:
    fc, proj = block.mlp.c_fc, block.mlp.c_proj
    return f"MLP {fc.in_features}→{fc.out_features}→{proj.out_features}", layer_label(block.mlp.act)[0]


@typechecked
def transformer_block_diagram(model: Block | Transformer, title: str | None = None) -> Diagram:
    """One transformer block on its residual stream, drawn from `model` (Xiong et al. 2020, fig. 1).

    The stream runs down the left as one line; attention and the MLP branch off it, each read
    from the stream and added back at a "+" node. Where the layer norms sit is read from the
    block (`norm_first`): pre-LN draws `ln_1`/`ln_2` inside each branch, before attention and
    the MLP; post-LN draws them on the stream, after each addition. The stream's width, the heads
    and the MLP's width come from the block's layers. Given a whole `Transformer`, the drawing
    adds the embedding above the block, how many blocks repeat it, and below it the final norm
    (pre-LN only; post-LN has none) and the unembedding.

    Args:
        model: an `rl.transformer.Block`, or a `Transformer` (its first block is drawn).
        title: a heading; by default "pre-LN" or "post-LN".
    """
    whole = isinstance(model, Transformer)
    if whole and len(model.blocks) == 0:
        raise ValueError("model has no blocks to draw; build it with n_layer >= 1")
    block = model.blocks[0] if whole else model
    if not isinstance(block, Block):
        raise TypeError(
            f"model.blocks[0] must be an rl.transformer.Block to be drawn, got {type(block).__name__}; "
            "build the model with rl.transformer.transformer(...)"
        )
    pre = block.norm_first
    d_model = block.ln_1.normalized_shape[0]
    d = Diagram(title if title is not None else ("pre-LN" if pre else "post-LN"))
    x, y = 0.0, 0.0
    if whole:
        top = d.box(x, y, tr("tokens"), kind="io")
        y += STEP
        emb = d.box(
            x,
            y,
            "Embedding wte + wpe",
            kind="layer",
            sub=tr(
                "{vocab} tokens, {positions} positions", vocab=model.vocab_size, positions=model.block_size
            ),
        )
        d.arrow([top.bottom, emb.top])
        previous: Box = emb
    else:
        previous = d.box(x, y, tr("stream in"), kind="io")
    block_top = y + 30

    def branch(into: Box, y: float, norm_name: str, label: tuple[str, str], kind: str) -> tuple[Box, float]:
        """Fork off the stream below `into`, run the branch down the right, add it back; return (add, y)."""
        fork_y = y + 24
        inner = []
        by = fork_y
        if pre:
            by += STEP - 4
            inner.append(d.box(BRANCH_X, by, f"LayerNorm {norm_name}", kind="norm"))
        by += STEP
        inner.append(d.box(BRANCH_X, by, label[0], kind=kind, sub=label[1]))
        d.arrow([(x, fork_y), (BRANCH_X, fork_y), inner[0].top], label=tr("read"))
        for a, b in zip(inner, inner[1:], strict=False):
            d.arrow([a.bottom, b.top])
        add_y = by + STEP
        add = d.node(x, add_y)
        d.arrow([inner[-1].bottom, (BRANCH_X, add_y), add.right], label=tr("write"))
        d.arrow([into.bottom, add.top], colour=style.RESIDUAL, width=2.5)
        return add, add_y

    add1, y = branch(previous, y + 10, "ln_1", _attention_label(block), "attention")
    last: Box = add1
    if not pre:
        y += STEP - 6
        ln = d.box(x, y, "LayerNorm ln_1", kind="norm")
        d.arrow([add1.bottom, ln.top], colour=style.RESIDUAL, width=2.5)
        last = ln
    add2, y = branch(last, y, "ln_2", _mlp_label(block), "layer")
    last = add2
    if not pre:
        y += STEP - 6
        ln = d.box(x, y, "LayerNorm ln_2", kind="norm")
        d.arrow([add2.bottom, ln.top], colour=style.RESIDUAL, width=2.5)
        last = ln
    if whole and pre:
        region = tr("block 1 of {blocks}: norm inside each branch", blocks=len(model.blocks))
    elif whole:
        region = tr("block 1 of {blocks}: norm on the stream", blocks=len(model.blocks))
    else:
        region = tr("one block: norm inside each branch") if pre else tr("one block: norm on the stream")
    d.text(x - 10, block_top + 40, tr("residual stream"), size=10, anchor="end", colour=style.RESIDUAL)
    d.text(x - 10, block_top + 54, f"d_model {d_model}", size=10, anchor="end", colour=style.RESIDUAL)
    d.region(x - 105, block_top, BRANCH_X + 95, y + 22, label=region)
    y += 22
    if whole:
        if isinstance(model.ln_f, nn.LayerNorm):
            y += STEP
            ln_f = d.box(x, y, "LayerNorm ln_f", kind="norm")
            d.arrow([last.bottom, ln_f.top], colour=style.RESIDUAL, width=2.5)
            last = ln_f
        y += STEP
        head = d.box(x, y, layer_label(model.lm_head)[0], kind="layer")
        d.arrow([last.bottom, head.top], colour=style.RESIDUAL if last is add2 else style.DARK_GREY)
        y += STEP
        out = d.box(x, y, tr("logits"), kind="io")
        d.arrow([head.bottom, out.top])
    else:
        y += STEP - 10
        out = d.box(x, y, tr("stream out"), kind="io")
        d.arrow([last.bottom, out.top], colour=style.RESIDUAL, width=2.5)
    return d
