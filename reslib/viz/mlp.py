"""The MLPs of `reslib.mlp`: drawn as diagrams, and width against depth as heat maps of their errors.

`mlp_diagram` draws a built network from the module itself (its layers, sizes and skips);
`width_depth_figure` only draws what training networks of `width_for_budget` widths measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from reslib.language import tr
from reslib.mlp import MLP, ResidualBlock
from reslib.validate import require_int, typechecked
from reslib.viz import style
from reslib.viz.diagram import Box, Diagram, layer_label, shape_label, trace
from reslib.viz.explorer import plain_list
from reslib.viz.style import LAYOUT

__all__ = [
    "mlp_diagram",
    "width_depth_figure",
]

STEP = 44  # vertical distance between two boxes of a diagram
SKIP_OFFSET = 95  # how far left of the main line a residual block's identity path runs
FORK_GAP = 28  # from the box above a residual block to the fork of its identity path


def _in_features(net: MLP) -> int:
    """The input size of `net`: its first linear layer's (a stem may be a `PlainLayer` or a `Sequential`)."""
    first = next((m for m in net.stem.modules() if isinstance(m, nn.Linear)), None)
    if first is None:
        raise ValueError(f"net's stem must hold an nn.Linear to read the input size from, got {net.stem!r}")
    return first.in_features


@typechecked
def mlp_diagram(net: MLP, max_blocks: int = 2, title: str | None = None) -> Diagram:
    """The network `net` as a diagram, input at the top: every layer, the sizes between, every skip.

    Read from the module: each layer's label comes from its submodules (`layer_label`), the sizes
    on the arrows and on the input and output boxes from a traced forward pass of one zero input
    (the stem may be any module holding an `nn.Linear`, such as `shattering_net`'s Linear -> ReLU
    stem, whose first linear layer gives the input size), and a residual block draws its
    branch (norm, activation, linear) beside an identity path that meets it at the addition, with
    the block's shortcut scale on the path and its output scale after the addition when they are
    not 1. Deep networks show their first `max_blocks` hidden layers or blocks, then how many
    more follow, then the last.

    Args:
        net: a network built by `rl.mlp.mlp` (or `rl.shattering.shattering_net`).
        max_blocks: hidden layers or blocks drawn in full before the rest are summarised, >= 1.
        title: a heading; by default "residual, depth 16" or "plain, depth 16".
    """
    require_int("max_blocks", max_blocks, minimum=1)
    config = net.config
    kind = "residual" if config["residual"] else "plain"
    if title is None:
        depth = config["depth"]
        title = (
            tr("residual, depth {depth}", depth=depth)
            if kind == "residual"
            else tr("plain, depth {depth}", depth=depth)
        )
    d = Diagram(title)
    calls = trace(net, torch.zeros(2, _in_features(net)))
    out_shape = {c.name: c.output for c in calls}
    x, y = 0.0, 0.0
    previous = d.box(x, y, tr("input {shape}", shape=shape_label(calls[0].inputs[0])), kind="io")

    def chain(module: nn.Module, y: float, into: Box) -> tuple[Box, float]:
        """Draw `module`'s layers top to bottom from `into`; return the last box and the next y."""
        last = into
        for child in module.children():
            label = layer_label(child)
            if label is None:  # nn.Identity: a norm switched off
                continue
            y += STEP
            box = d.box(x, y, label[0], kind=label[1])
            d.arrow([last.bottom, box.top])
            last = box
        return last, y

    names = [f"blocks.{i}" for i in range(len(net.blocks))]
    shown = names if len(names) <= max_blocks + 1 else [*names[:max_blocks], names[-1]]
    size = None  # the size of the tensor leaving `previous`, written on the next arrow
    for name, module in [("stem", net.stem), *((n, net.get_submodule(n)) for n in shown), ("head", net.head)]:
        if names and name == names[-1] and len(shown) < len(names):
            hidden = len(names) - len(shown)
            y += STEP
            d.arrow([previous.bottom, (x, y - 14)], head=False, label=size)
            more = (
                tr("⋮ {hidden} more blocks like these ⋮", hidden=hidden)
                if kind == "residual"
                else tr("⋮ {hidden} more layers like these ⋮", hidden=hidden)
            )
            d.text(x, y + 4, more)
            previous, size = Box(x, y + 14, 0, 0), None
            y += 10
        number = names.index(name) + (1 if kind == "residual" else 2) if name in names else 1
        if isinstance(module, ResidualBlock):
            # a long enough arrow into the fork that its size label sits above the block's region
            fork_y = previous.bottom[1] + FORK_GAP
            y = fork_y - 6
            d.arrow([previous.bottom, (x, fork_y)], head=False, label=size)
            last, y = chain(module, y, Box(x, fork_y, 0, 0))
            y += STEP
            add = d.node(x, y)
            d.arrow([last.bottom, add.top])
            skip = tr("identity") if module.shortcut_scale == 1.0 else f"× {module.shortcut_scale:.3g}"
            d.arrow(
                [(x, fork_y), (x - SKIP_OFFSET, fork_y), (x - SKIP_OFFSET, y), add.left],
                label=skip,
                colour=style.RESIDUAL,
                width=2,
            )
            d.region(
                x - SKIP_OFFSET - 12,
                fork_y - 4,
                x + 90,
                y + 16,
                label=tr("block {number} ({name})", number=number, name=name),
            )
            previous = add
            y += 16
            if module.residual_scale != 1.0:
                y += STEP - 10
                scale = d.box(x, y, f"× {module.residual_scale:.3g}", kind="io")
                d.arrow([add.bottom, scale.top])
                previous = scale
                y += 14
        elif isinstance(module, nn.Linear):  # the stem of a residual net, or the head
            y += STEP
            label, box_kind = layer_label(module)
            box = d.box(x, y, label, kind=box_kind)
            d.arrow([previous.bottom, box.top], label=size)
            previous = box
        else:  # a plain hidden layer
            y += 20
            top = y
            entry = Box(x, y + 6, 0, 0)
            d.arrow([previous.bottom, entry.top], head=False, label=size)
            previous, y = chain(module, y - STEP + 24, entry)
            d.region(
                x - 90, top - 4, x + 90, y + 20, label=tr("layer {number} ({name})", number=number, name=name)
            )
            y += 20
        size = shape_label(out_shape[name])
    y += STEP
    out = d.box(x, y, tr("output {shape}", shape=shape_label(out_shape[""])), kind="io")
    d.arrow([previous.bottom, out.top], label=size)
    return d


@typechecked
def width_depth_figure(
    errors: Mapping[str, np.ndarray], depths: Sequence[int], widths: Sequence[int], columns: Sequence[str]
) -> go.Figure:
    """One heat map per metric (e.g. training and test error): rows depth (width), columns network kind.

    Args:
        errors: metric name -> (len(depths), len(columns)) array.
        depths, widths: one per row; columns: one name per column ("plain", "residual").
    """
    if isinstance(columns, str) or len(depths) != len(widths) or not errors:
        raise ValueError(
            f"width_depth_figure needs one width per depth and a list of column names, got {len(depths)} "
            f"depths, {len(widths)} widths, columns {columns!r} and {len(errors)} metrics"
        )
    for name, values in errors.items():
        if np.shape(values) != (len(depths), len(columns)):
            raise ValueError(
                f"errors[{name!r}] must have shape (depths, columns) = ({len(depths)}, {len(columns)}), "
                f"got {np.shape(values)}"
            )
    names = list(errors)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.18)
    rows = [tr("{depth} layers × {width}", depth=d, width=w) for d, w in zip(depths, widths, strict=True)]
    for i, name in enumerate(names):
        z = np.asarray(errors[name], dtype=float)
        fig.add_trace(
            go.Heatmap(
                z=[plain_list(r) for r in z],
                x=list(columns),
                y=rows,
                colorscale="Blues",
                zmin=0,
                text=[[f"{v:.2f}" for v in r] for r in z],
                texttemplate="%{text}",
                showscale=False,
            ),
            row=1,
            col=i + 1,
        )
    fig.update_layout(height=360, **LAYOUT)
    return fig
