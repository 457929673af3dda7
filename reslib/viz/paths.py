"""Residual networks as ensembles of paths: the unraveled view, path lengths, gradient per length, lesions."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from reslib.data import TensorData, mnist1d
from reslib.language import tr
from reslib.mlp import MLP, ResidualBlock, mlp
from reslib.paths import effective_paths, lesion, path_length_distribution
from reslib.runtime import local_seed, num_threads
from reslib.train import evaluate, fit
from reslib.validate import require_int, typechecked
from reslib.viz.diagram import Diagram, layer_label, shape_label, trace
from reslib.viz.explorer import Explorer, architecture_label, find_trace, plain_list, require_control
from reslib.viz.registry import register_explorer
from reslib.viz.style import DARK_GREY, GREY, LAYOUT, LIGHT_GREY, PALETTE, PLAIN, RESIDUAL

__all__ = [
    "lesion_explorer",
    "lesion_figure",
    "path_explorer",
    "paths_figure",
    "unraveled_paths_diagram",
]

MAX_UNRAVELED = 4  # 2^4 = 16 lanes still fit on a page; 2^5 = 32 do not
LANE = 30  # vertical distance between two paths
GROUP_GAP = 16  # extra space between the paths of one length and the next
COLUMN = 64  # horizontal distance between two blocks' stations


@typechecked
def unraveled_paths_diagram(net: MLP, title: str | None = None) -> Diagram:
    """The unraveled view of a residual `net` (Veit et al., 2016): every one of its 2^n paths drawn.

    Read from the module: n is the number of residual blocks in `net.blocks`, each block's
    layers (written once under the drawing) come from its submodules, and the size of the stream
    from a traced forward pass. The paths are enumerated here, one per subset of the blocks: a
    path is a lane from h0 = stem(x) to the sum, with a box for each block whose branch it takes
    (f1, f2, ... in order) and a dashed outline for each block it skips. Each lane ends in its
    length "k = ...", the number of branches it takes, and the lanes of one length are grouped
    under "length k: N paths", where N is counted from the lanes drawn (it equals C(n, k)).

    Args:
        net: a residual network built by `rl.mlp.mlp(..., residual=True)`, with at most 4 blocks.
        title: a heading; by default "unraveled: 2^n paths".

    Raises:
        ValueError: `net` is not residual, holds a block that is not a residual block (a lesioned
            one), or has more than 4 blocks (2^n lanes do not fit on a page).
    """
    if not net.config.get("residual"):
        raise ValueError("net must be a residual network: build it with rl.mlp.mlp(..., residual=True)")
    n = len(net.blocks)
    if n > MAX_UNRAVELED:
        raise ValueError(
            f"net has {n} residual blocks, whose 2^{n} = {2**n} paths do not fit on one drawing; "
            f"draw a network of at most {MAX_UNRAVELED} blocks (rl.mlp.mlp(depth=3, ..., residual=True))"
        )
    for i, block in enumerate(net.blocks):
        if not isinstance(block, ResidualBlock):
            raise ValueError(
                f"net.blocks[{i}] is a {type(block).__name__}, not a residual block; the unraveled view "
                "needs every block (draw the network before lesioning it)"
            )
    first = net.stem if isinstance(net.stem, nn.Linear) else net.stem.linear
    calls = trace(net, torch.zeros(2, first.in_features))
    stream = shape_label(next(c.output for c in calls if c.name == "stem"))
    # the drawing's own enumeration: every subset of the blocks, shortest paths first
    paths = [p for k in range(n + 1) for p in itertools.combinations(range(n), k)]
    per_length = Counter(len(p) for p in paths)

    d = Diagram(title if title is not None else tr("unraveled: 2^{n} = {count} paths", n=n, count=len(paths)))
    fan_x, out_x = 0.0, COLUMN * (n + 1) + 10
    start = d.box(fan_x, 0, f"h0 = stem(x), {stream}", kind="io")
    y, lanes = start.bottom[1] + 24, []
    for k in range(n + 1):
        group = [p for p in paths if len(p) == k]
        top = y
        for path in group:
            lanes.append(y)
            colour = PALETTE[k % len(PALETTE)] if k else RESIDUAL
            previous = (fan_x, y)
            for j in range(n):
                station = COLUMN * (j + 1)
                if j in path:
                    box = d.box(station, y, f"f{j + 1}", w=34, h=20)
                    d.arrow([previous, box.left], colour=colour)
                    previous = box.right
                else:  # skipped: the lane runs straight through this block's place
                    d.region(station - 17, y - 10, station + 17, y + 10)
            d.arrow([previous, (out_x, y)], colour=colour, head=False)
            d.text(out_x - 6, y - 4, f"k = {k}", size=9, anchor="end", colour=GREY)
            y += LANE
        middle = (top + y - LANE) / 2
        count = per_length[k]
        if count == 1:
            group_label = tr("length {k}: {count} path", k=k, count=count)
        else:
            group_label = tr("length {k}: {count} paths", k=k, count=count)
        d.text(fan_x - 10, middle + 4, group_label, anchor="end")
        y += GROUP_GAP
    last = lanes[-1]
    d.arrow([start.bottom, (fan_x, last)], head=False, colour=DARK_GREY)  # the input feeds every lane
    add = d.node(out_x, last + 36, "+")
    d.arrow([(out_x, lanes[0]), add.top], colour=DARK_GREY)
    out = d.box(
        out_x, add.bottom[1] + 34, tr("head → logits ({count} terms summed)", count=len(paths)), kind="io"
    )
    d.arrow([add.bottom, out.top])
    steps = [layer_label(m) for m in net.blocks[0].children()]
    inside = " → ".join(label for label, _ in filter(None, steps))
    d.text(
        fan_x - 10, out.y + 40, tr("each f_j: {layers}", layers=inside), size=11, anchor="start", colour=GREY
    )
    d.paths = paths  # what was drawn, for a test to compare with the module
    return d


@typechecked
def paths_figure(n_blocks: int, magnitude: Sequence[float] | None = None) -> go.Figure:
    """Path-length distribution, gradient per path of each length, and their product.

    Args:
        n_blocks: residual blocks.
        magnitude: gradient norm of one path of each length 0..n; omitted: only the distribution.

    Traces (by key, see `find_trace`): "paths", "gradient", "share", as their names.
    """
    require_int("n_blocks", n_blocks, 0, 1000, fix="2^n overflows a float past n = 1023")
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=(
            tr("paths of each length (fraction)"),
            tr("gradient per path (log)"),
            tr("share of the total gradient"),
        ),
    )
    pmf = path_length_distribution(n_blocks)
    k = list(range(n_blocks + 1))
    fig.add_trace(go.Bar(x=k, y=plain_list(pmf), marker_color=GREY, name=tr("paths"), meta="paths"), 1, 1)
    g = np.zeros(n_blocks + 1) if magnitude is None else np.asarray(magnitude, float)
    fig.add_trace(
        go.Scatter(
            x=k,
            y=plain_list(np.where(g > 0, g, np.nan)),
            mode="lines+markers",
            marker_color=RESIDUAL,
            name=tr("gradient"),
            meta="gradient",
        ),
        1,
        2,
    )
    contribution = effective_paths(n_blocks, g).contribution if g.any() else np.zeros_like(g)
    fig.add_trace(
        go.Bar(x=k, y=plain_list(contribution), marker_color=RESIDUAL, name=tr("share"), meta="share"), 1, 3
    )
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=2)
    fig.update_xaxes(title_text=tr("path length k (residual branches taken)"))
    fig.update_layout(height=360, showlegend=False, **LAYOUT)
    return fig


@typechecked
def path_explorer(decay: float = 0.5) -> Explorer:
    """Notebook 03: n blocks (1-110) and the gradient factor per branch -> where the gradient comes from.

    The gradient of one path of length k is modelled as $g(k) = r^k$, with $r$ the factor one
    residual branch multiplies it by (measured on a trained network in the notebook).
    """
    slider = widgets.FloatSlider(value=0.05, min=0.05, max=1.0, step=0.05, description=tr("factor r"))
    slider.value = require_control("decay", decay, slider)  # in the slider's range: it would clamp it
    figure = go.FigureWidget(paths_figure(54, decay ** np.arange(55)))

    def redraw(n_blocks: int, factor: float) -> str:
        k = np.arange(n_blocks + 1)
        g = factor ** k.astype(float)
        pmf = path_length_distribution(n_blocks)
        eff = effective_paths(n_blocks, g)
        for key, y in (("paths", pmf), ("gradient", np.where(g > 0, g, np.nan)), ("share", eff.contribution)):
            find_trace(figure, key).update(x=k.tolist(), y=plain_list(y))
        return tr(
            "{n} blocks, 2^{n} paths, mean length {mean:g}; 90% of the gradient comes from lengths {lo}-{hi} "
            "({share:.3g}% of all paths)",
            n=n_blocks,
            mean=n_blocks / 2,
            lo=eff.lo,
            hi=eff.hi,
            share=100 * eff.paths_fraction,
        )

    controls = {
        "n_blocks": widgets.IntSlider(value=54, min=1, max=110, description=tr("blocks n")),
        "factor": slider,
    }
    return Explorer(controls, figure, redraw, name="path_explorer")


register_explorer(path_explorer, lambda: dict(decay=0.5), ("n_blocks",), "03_residual_paths")


@typechecked
def lesion_figure(
    errors: Mapping[str, Sequence[float]],
    baseline: Mapping[str, float],
    xlabel: str | None = None,
    title: str = "",
) -> go.Figure:
    """Test error after each lesion (lines), with the intact networks' error (dashed).

    Args:
        errors: label -> test error after each lesion.
        baseline: label -> the intact network's test error.
        xlabel: the x-axis title; by default "deleted block".
        title: a heading.
    """
    fig = go.Figure()
    for label, values in errors.items():
        color = RESIDUAL if "res" in label else PLAIN
        fig.add_trace(
            go.Scatter(
                x=list(range(len(values))),
                y=plain_list(values),
                name=label,
                mode="lines+markers",
                line=dict(color=color),
            )
        )
        fig.add_hline(y=baseline[label], line=dict(color=color, dash="dash"))
    fig.update_xaxes(title_text=tr("deleted block") if xlabel is None else xlabel)
    fig.update_yaxes(title_text=tr("test error"), range=[0, 1])
    fig.update_layout(height=360, title=title, **LAYOUT)
    return fig


@typechecked
def lesion_explorer(models: Mapping[str, nn.Module], data: TensorData) -> Explorer:
    """Notebook 03: delete `count` blocks starting at `first` (or chosen at random) -> test error.

    Args:
        models: label -> trained network with `.blocks` (e.g. "residual", "plain").
        data: where the test split comes from.
    """
    labels = list(models)
    sizes = {label: len(m.blocks) for label, m in models.items()}
    n = max(sizes.values())  # each network is lesioned within its own blocks
    intact = {label: evaluate(m, data)[1] for label, m in models.items()}
    shown = [architecture_label(label) for label in labels]  # as the learner reads them
    figure = go.FigureWidget(
        go.Figure(
            [
                go.Bar(x=shown, y=[intact[k] for k in labels], name=tr("intact"), marker_color=LIGHT_GREY),
                go.Bar(
                    x=shown,
                    y=[intact[k] for k in labels],
                    name=tr("lesioned"),
                    marker_color=[RESIDUAL if "res" in k else PLAIN for k in labels],
                    meta="lesioned",
                ),
            ],
            layout=dict(
                height=360, barmode="group", yaxis=dict(title=tr("test error"), range=[0, 1]), **LAYOUT
            ),
        )
    )

    def redraw(first: int, count: int, choice: str) -> str:
        drops = {}
        for k in labels:
            if choice == "random":  # `count` of this network's own blocks, draw number `first`
                gen = torch.Generator().manual_seed(first)
                drops[k] = sorted(torch.randperm(sizes[k], generator=gen)[: min(count, sizes[k])].tolist())
            else:
                drops[k] = list(range(min(first, sizes[k]), min(first + count, sizes[k])))
        errors = [evaluate(lesion(models[k], drops[k]), data)[1] for k in labels]
        find_trace(figure, "lesioned").y = plain_list(errors)
        lines = []
        for k, e in zip(labels, errors, strict=True):
            fields = dict(label=architecture_label(k), error=e, intact=intact[k])
            if drops[k]:
                line = tr(
                    "{label}: deleted blocks {blocks}, error {error:.2f} (intact {intact:.2f})",
                    blocks=drops[k],
                    **fields,
                )
            else:
                line = tr("{label}: deleted blocks none, error {error:.2f} (intact {intact:.2f})", **fields)
            lines.append(line)
        if choice == "random":
            return tr("random draw {draw}: {networks}", draw=first, networks="; ".join(lines))
        return tr("consecutive: {networks}", networks="; ".join(lines))

    controls = {
        "first": widgets.IntSlider(value=3, min=0, max=n - 1, description=tr("first block")),
        "count": widgets.IntSlider(value=1, min=0, max=n, description=tr("blocks deleted")),
        "choice": widgets.Dropdown(
            options=[(tr("consecutive"), "consecutive"), (tr("random"), "random")],
            value="consecutive",
            description=tr("which"),
        ),
    }
    return Explorer(controls, figure, redraw, name="lesion_explorer")


def _lesion_demo() -> dict:
    """Notebook 03's networks on MNIST-1D, trained for 2 epochs instead of its 10.

    12 blocks of 64 units with BN, residual and plain.
    An update evaluates both lesioned networks on the 1,000 test signals, whatever their training;
    only the errors it shows are higher than the notebook's.
    """
    data, nets = mnist1d(), {}
    with num_threads(1):  # models this small run fastest on one thread
        for name, residual in [("residual", True), ("plain", False)]:
            with local_seed(0):
                nets[name] = mlp(12, 64, 40, 10, residual=residual, norm="batch")
            fit(nets[name], data, epochs=2, lr=0.05, progress=False)
    return dict(models=nets, data=data)


register_explorer(lesion_explorer, _lesion_demo, ("count",), "03_residual_paths")
