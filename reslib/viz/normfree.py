"""Life without batch norm: E[h^2] at initialisation next to the training curve, per init scheme."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from reslib.data import mnist1d
from reslib.language import tr
from reslib.mlp import MLP
from reslib.normfree import SCHEMES, NormFreeBlock, normfree_mlp
from reslib.runtime import local_seed, num_threads
from reslib.train import History
from reslib.validate import require_type, typechecked
from reslib.variance import residual_stream
from reslib.viz import style
from reslib.viz.diagram import Diagram, layer_label
from reslib.viz.explorer import Explorer, find_trace, plain_list
from reslib.viz.registry import register_explorer
from reslib.viz.style import LAYOUT, PALETTE

__all__ = [
    "normfree_diagram",
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
    fig = make_subplots(rows=1, cols=2, subplot_titles=(tr("E[h_k²] at initialisation"), tr("training loss")))
    fig.update_xaxes(title_text=tr("block k"), row=1, col=1)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=1)
    fig.update_xaxes(title_text=tr("epoch"), row=1, col=2)
    fig.update_yaxes(title_text=tr("cross-entropy"), row=1, col=2)
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
    figure = go.FigureWidget(scheme_figure({tr("network"): next(iter(results.values()))}))

    def redraw(scheme: str, depth: int) -> str:
        if (scheme, depth) not in results:
            return tr("{scheme} was not trained at depth {depth}", scheme=scheme, depth=depth)
        second, history = results[scheme, depth]
        _update_scheme_figure(figure, second, history)
        growth = second[-1] / second[0]
        if history.diverged_at is not None:
            return tr(
                "{scheme}, {depth} blocks: E[h²] grows {growth:.3g}x from stem to last block; "
                "diverged in epoch {epoch}",
                scheme=scheme,
                depth=depth,
                growth=growth,
                epoch=history.diverged_at + 1,
            )
        return tr(
            "{scheme}, {depth} blocks: E[h²] grows {growth:.3g}x from stem to last block; "
            "training loss {first:.2f} -> {last:.2f}",
            scheme=scheme,
            depth=depth,
            growth=growth,
            first=history.train_loss[0],
            last=history.train_loss[-1],
        )

    controls = {
        "scheme": widgets.Dropdown(options=schemes, value=schemes[0], description=tr("init")),
        "depth": widgets.SelectionSlider(options=depths, value=depths[-1], description=tr("blocks")),
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


STEP = 42  # vertical distance between two boxes of a block diagram
SKIP_OFFSET = 110  # how far left of the branch the identity path runs


def _zero(tensor: object) -> bool:
    return tensor is not None and not bool(tensor.detach().any())


def _branch(block: NormFreeBlock) -> list[tuple[str, str, str | None, bool]]:
    """The branch of `block`, first to last, as (label, kind, note, zero); zero marks what starts at 0."""
    items: list[tuple[str, str, str | None, bool]] = []
    b = block.biases

    def scalar_bias(i: int) -> None:
        items.append((f"+ b{i + 1}", "io", tr("scalar, {value:.3g} now", value=float(b[i].detach())), False))

    def linear(layer: torch.nn.Linear) -> None:
        zero = _zero(layer.weight)
        items.append((layer_label(layer)[0], "layer", tr("W = 0 now") if zero else None, zero))

    if b is not None:
        scalar_bias(0)
    linear(block.linear1)
    if b is not None:
        scalar_bias(1)
    if layer_label(block.norm1) is not None:
        items.append(("BatchNorm", "norm", None, False))
    items.append((layer_label(block.act)[0], "act", None, False))
    if b is not None:
        scalar_bias(2)
    linear(block.linear2)
    if block.scale is not None:
        items.append(("× s", "io", tr("scalar, {value:.3g} now", value=float(block.scale.detach())), False))
    if b is not None:
        scalar_bias(3)
    if layer_label(block.norm2) is not None:
        zero = _zero(block.norm2.weight)  # γ
        items.append(("BatchNorm", "norm", tr("γ = 0 now") if zero else None, zero))
    if block.alpha is not None:
        alpha = float(block.alpha.detach())
        items.append(("× α", "io", tr("α = 0 now") if alpha == 0 else f"α = {alpha:.3g}", alpha == 0))
    return items


@typechecked
def normfree_diagram(model: NormFreeBlock | MLP, title: str | None = None) -> Diagram:
    r"""One residual block of a normalisation-free MLP, drawn from the module, with what starts at zero.

    Read from the block: its layers (`layer_label`), whether it has batch norm, Fixup's scalar biases
    $b_1..b_4$ and multiplier $s$, ReZero's $\alpha$, and which weights are exactly 0 now (zero-$\gamma$'s
    last BN, ReZero's $\alpha$, Fixup's last linear layer): those are marked in red, the piece that makes
    the block the identity at initialisation. Given a whole network (`rl.normfree.normfree_mlp`), the
    first block is drawn, with the network's depth in the region's label.

    Args:
        model: a `NormFreeBlock`, or an MLP built by `rl.normfree.normfree_mlp` (its first block is drawn).
        title: a heading; by default the block's scheme.
    """
    if isinstance(model, MLP):
        if len(model.blocks) == 0 or not isinstance(model.blocks[0], NormFreeBlock):
            raise TypeError(
                "model must be a NormFreeBlock or a network built by rl.normfree.normfree_mlp, got an "
                "MLP whose blocks are not NormFreeBlocks; build it with rl.normfree.normfree_mlp(...)"
            )
        block, where = model.blocks[0], tr("block 1 of {count}", count=len(model.blocks))
    else:
        block, where = model, tr("one block")
    require_type("model", block, NormFreeBlock)
    d = Diagram(title if title is not None else block.scheme)
    x, y = 0.0, 0.0
    top = d.box(x, y, f"x ({block.linear1.in_features})", kind="io")
    fork_y = y + 26
    y = fork_y
    last = None
    zeros = []
    for label, kind, note, zero in _branch(block):
        y += STEP
        box = d.box(x, y, label, kind=kind)
        d.arrow([last.bottom if last else (x, fork_y), box.top])
        if note:
            d.text(
                box.right[0] + 8,
                y + 4,
                note,
                size=10,
                anchor="start",
                colour=style.RED if zero else style.GREY,
            )
            zeros += [label] if zero else []
        last = box
    y += STEP
    add = d.node(x, y)
    d.arrow([last.bottom, add.top])
    d.arrow([top.bottom, (x, fork_y)], head=False)
    d.arrow(
        [(x, fork_y), (x - SKIP_OFFSET, fork_y), (x - SKIP_OFFSET, y), add.left],
        label=tr("identity"),
        colour=style.RESIDUAL,
        width=2,
    )
    d.region(x - SKIP_OFFSET - 14, fork_y - 10, x + 170, y + 16, label=where)
    y += STEP
    out = d.box(x, y, "x + f(x)", kind="io", sub=tr("= x now") if zeros else None)
    d.arrow([add.bottom, out.top])
    return d
