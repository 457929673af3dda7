"""DenseNet: a dense block drawn from the module, channel growth per dense block, and its explorer.

`dense_block_diagram` reads a built `DenseBlock` (and the `Transition` after it): its layers, and
the channels every concatenation holds, from a traced forward pass; `channel_figure` and the
explorer show the closed-form bookkeeping of a whole network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import ipywidgets as widgets
import plotly.graph_objects as go
import torch
from torch import nn

from reslib.costs import densenet_parameter_count
from reslib.densenet import DenseBlock, Transition, channel_plan
from reslib.language import tr
from reslib.validate import require_int, require_memory, typechecked
from reslib.viz import style
from reslib.viz.diagram import Diagram, layer_label, shape_label, trace
from reslib.viz.explorer import Explorer, find_trace
from reslib.viz.registry import register_explorer
from reslib.viz.style import LAYOUT, PALETTE

__all__ = [
    "channel_figure",
    "dense_block_diagram",
    "densenet_explorer",
]

MAX_DRAWN_LAYERS = 8  # a dense block wider than this would not fit a notebook's width
COLUMN = 170  # horizontal distance between two dense layers of the drawing
ROW = 40  # vertical distance between two boxes of a dense layer
LANE = 15  # vertical distance between two feature-map lanes above the concatenations


def _spatial(name: str, input_size: int | Sequence[int], dim: int) -> tuple[int, ...]:
    """`input_size` as the block's spatial size: an int is used for every spatial dimension."""
    if isinstance(input_size, int):
        sizes = (input_size,) * dim
    else:
        sizes = tuple(input_size)
        if len(sizes) != dim:
            raise ValueError(
                f"{name} must give {dim} spatial size(s) for this {dim}-d block (or one int), got {sizes!r}"
            )
    for i, v in enumerate(sizes):
        require_int(f"{name}[{i}]" if not isinstance(input_size, int) else name, v, minimum=1)
    return sizes


@typechecked
def dense_block_diagram(
    block: DenseBlock,
    input_size: int | Sequence[int],
    transition: Transition | None = None,
    title: str | None = None,
) -> Diagram:
    r"""A dense block as a diagram: every layer, every concatenation, and the channels growing.

    Layers run left to right. Each feature map (the block input $x_0$, then each layer's $k$ new
    channels) gets a coloured lane above the layers, and the concatenation "C" in front of layer
    $l$ taps every lane that exists by then: that is "every layer reads all earlier feature maps".
    Read from the module: each layer's boxes come from its submodules (`layer_label`: BN, ReLU,
    the 1x1 bottleneck, BN, ReLU, the 3x3 conv) and every size on the drawing (what each
    concatenation holds, what each layer adds, what the block and the transition return) from a
    traced forward pass of one zero input, never from the formula $k_0 + l\,k$.

    Args:
        block: a `rl.densenet.DenseBlock` of at most 8 layers.
        input_size: the spatial size of the block's input: an int (8 means 8x8 for a 2-d block)
            or one size per spatial dimension.
        transition: the `rl.densenet.Transition` that follows the block (its input channels must be
            the block's output channels); drawn below the last concatenation.
        title: a heading; by default "dense block: 4 layers, k0 = 24, k = 12".

    Raises:
        ValueError: a block with no layer or more than 8, an input size that is not positive or
            does not match the block's dimension, a transition that does not fit the block.
    """
    layers = list(block.values())
    if not 1 <= len(layers) <= MAX_DRAWN_LAYERS:
        raise ValueError(
            f"block must have between 1 and {MAX_DRAWN_LAYERS} dense layers to be drawn, got {len(layers)}; "
            "draw a smaller block with the same growth rate"
        )
    dim = 1 if isinstance(layers[0].conv1, nn.Conv1d) else 2
    sizes = _spatial("input_size", input_size, dim)
    if transition is not None and transition.conv.in_channels != block.out_channels:
        raise ValueError(
            f"transition must read the block's {block.out_channels} output channels, but it reads "
            f"{transition.conv.in_channels}; build it as Transition({block.out_channels}, ...)"
        )
    growth = layers[0].growth_rate
    per_map = math.prod(sizes) * 4  # bytes of one channel of one feature map (float32)
    widest = block.out_channels + (transition.conv.out_channels if transition is not None else 0)
    require_memory("input_size", input_size, per_map * (widest * 2 + 4 * growth * len(layers)))
    x = torch.zeros(1, block.in_channels, *sizes)
    calls = {c.name: c for c in trace(block, x)}
    d = Diagram(
        title
        if title is not None
        else tr(
            "dense block: {layers} layers, k0 = {k0}, k = {k}",
            layers=len(layers),
            k0=block.in_channels,
            k=growth,
        )
    )
    n = len(layers)
    lane_y = [-40.0 - LANE * (n - j) for j in range(n + 1)]  # x0's lane on top, the newest lowest
    lane_start: list[float] = []
    lane_label: list[str] = []
    colour = [style.PALETTE[j % len(style.PALETTE)] for j in range(n + 1)]

    def taps(column_x: float, into_y: float, count: int) -> None:
        """Arrows from lanes 0..count-1 into the top of the concatenation at (column_x, into_y)."""
        for j in range(count):
            dx = (j - (count - 1) / 2) * 12
            d.arrow([(column_x + dx, lane_y[j]), (column_x + dx * 0.3, into_y - 11)], colour=colour[j])

    # the block input x0, and its lane
    inp = d.box(0, 0, tr("input {shape}", shape=shape_label(calls[""].inputs[0])), kind="io")
    d.arrow([inp.top, (0, lane_y[0])], head=False, colour=colour[0], width=2)
    lane_start.append(0.0)
    lane_label.append(f"x0: {shape_label(calls[''].inputs[0])}")
    for i, layer in enumerate(layers):
        name = f"denselayer{i + 1}"
        cx = COLUMN * (i + 1)
        cat = d.node(cx, 0, "C")
        taps(cx, 0, i + 1)
        previous, y = cat, 0.0
        size = shape_label(calls[name].inputs[0])  # what the concatenation holds
        for child in layer.children():
            label = layer_label(child)
            if label is None:
                continue
            y += ROW if previous is not cat else ROW + 12
            box = d.box(cx, y, label[0], kind=label[1])
            d.arrow([previous.bottom, box.top], label=size)
            previous, size = box, None
        out = shape_label(calls[name].output)  # the k new channels
        turn_y, riser_x = previous.bottom[1] + 16, cx + COLUMN / 2
        d.arrow(
            [previous.bottom, (cx, turn_y), (riser_x, turn_y), (riser_x, lane_y[i + 1])],
            head=False,
            colour=colour[i + 1],
            width=2,
        )
        d.text(cx + COLUMN / 4, turn_y + 14, f"x{i + 1}: {out}", size=10, colour=colour[i + 1])
        lane_start.append(riser_x)
        lane_label.append(f"x{i + 1}: {out}")
    # the block's output: one more concatenation of every lane
    ox = COLUMN * (n + 1)
    end = d.node(ox, 0, "C")
    taps(ox, 0, n + 1)
    lane_end = ox + 12 * n / 2 + 10
    for j in range(n + 1):
        d.arrow([(lane_start[j], lane_y[j]), (lane_end, lane_y[j])], head=False, colour=colour[j], width=2)
        d.text(lane_end + 6, lane_y[j] + 4, lane_label[j], size=10, anchor="start", colour=colour[j])
    size, previous, y = shape_label(calls[""].output), end, 0.0
    if transition is not None:
        steps = trace(transition, torch.zeros(calls[""].output))
        after = {c.name: c.output for c in steps}
        for child_name, child in transition.named_children():
            label = layer_label(child)
            y += ROW if previous is not end else ROW + 12
            box = d.box(ox, y, label[0], kind=label[1])
            d.arrow([previous.bottom, box.top], label=size)
            previous, size = box, shape_label(after[child_name]) if child_name in ("conv", "pool") else None
        conv = transition.conv
        d.region(
            ox - 75,
            ROW + 12 - 20,
            ox + 75,
            y + 20,
            label=tr(
                "transition: {c_in}→{c_out} channels (θ = {theta:.3g}), {size_in} → {size_out}",
                c_in=conv.in_channels,
                c_out=conv.out_channels,
                theta=conv.out_channels / conv.in_channels,
                size_in="×".join(map(str, calls[""].output[2:])),
                size_out="×".join(map(str, after[""][2:])),
            ),
        )
        y += ROW + 8
        result = d.box(ox, y, tr("transition output {shape}", shape=shape_label(after[""])), kind="io")
        d.arrow([previous.bottom, result.top], label=size)
    else:
        y += ROW + 12
        result = d.box(ox, y, tr("block output {shape}", shape=size), kind="io")
        d.arrow([previous.bottom, result.top])
    return d


def _channel_bars(
    growth_rate: int, block_config: Sequence[int], num_init_features: int, compression: float
) -> list[tuple[list[int], list[int]]]:
    """Per dense block, `(x, y)`: its layers' positions counted through the network, their input channels."""
    bars, x = [], 0
    for row in channel_plan(growth_rate, block_config, num_init_features, compression):
        n = len(row.layer_inputs)
        bars.append((list(range(x + 1, x + n + 1)), list(row.layer_inputs)))
        x += n
    return bars


@typechecked
def channel_figure(
    growth_rate: int = 12,
    block_config: Sequence[int] = (16, 16, 16),
    num_init_features: int = 24,
    compression: float = 0.5,
) -> go.Figure:
    r"""Input channels of every dense layer, $k_0 + l\,k$, one colour per block.

    Traces (by key, see `find_trace`): "block 1", "block 2", ... (at least four, the unused hidden).
    """
    fig = go.Figure()
    for i, (x, y) in enumerate(_channel_bars(growth_rate, block_config, num_init_features, compression)):
        color = PALETTE[i % len(PALETTE)]
        name = tr("block {number}", number=i + 1)
        fig.add_trace(go.Bar(x=x, y=y, name=name, marker_color=color, meta=f"block {i + 1}"))
    for i in range(len(fig.data), 4):  # fixed number of traces, so an explorer can update them
        name = tr("block {number}", number=i + 1)
        fig.add_trace(go.Bar(x=[], y=[], name=name, visible=False, meta=f"block {i + 1}"))
    fig.update_layout(
        title=tr(
            "channels read by each dense layer (k={k}, theta={theta})", k=growth_rate, theta=compression
        ),
        xaxis_title=tr("dense layer (counted through the network)"),
        yaxis_title=tr("input channels"),
        height=380,
        bargap=0.05,
        **LAYOUT,
    )
    return fig


@typechecked
def densenet_explorer(num_blocks: int = 3) -> Explorer:
    """Notebook 08: growth rate, layers per block, compression -> channels per layer and parameters.

    Closed-form (`channel_plan`, `densenet_parameter_count`): nothing is built or run.
    """
    require_int("num_blocks", num_blocks, 1, 8, fix="DenseNets have 3 (CIFAR) or 4 (ImageNet) blocks")
    figure = go.FigureWidget(channel_figure(12, (16,) * num_blocks, 24, 0.5))

    def redraw(growth_rate: int, layers: int, compression: float) -> str:
        config = (layers,) * num_blocks
        bars = _channel_bars(growth_rate, config, 2 * growth_rate, compression)
        for i in range(len(figure.data)):
            trace = find_trace(figure, f"block {i + 1}")
            if i < len(bars):
                trace.update(x=bars[i][0], y=bars[i][1], visible=True)
            else:
                trace.update(x=[], y=[], visible=False)
        figure.layout.title.text = tr(
            "channels read by each dense layer (k={k}, theta={theta:.2f})", k=growth_rate, theta=compression
        )
        params = densenet_parameter_count(
            growth_rate, config, 2 * growth_rate, compression=compression, num_classes=10, stem_type="cifar"
        )
        widest = max(max(y) for _, y in bars)
        return tr(
            "DenseNet-BC, depth {depth} ({blocks} blocks of {layers}), k0 = 2k = {k0}: "
            "{params:,} parameters; widest layer input {widest} channels",
            depth=6 * layers + 4,
            blocks=num_blocks,
            layers=layers,
            k0=2 * growth_rate,
            params=params,
            widest=widest,
        )

    controls = {
        "growth_rate": widgets.IntSlider(value=12, min=1, max=48, description=tr("growth k")),
        "layers": widgets.IntSlider(value=16, min=1, max=40, description=tr("layers/block")),
        "compression": widgets.FloatSlider(value=0.5, min=0.1, max=1.0, step=0.05, description=tr("theta")),
    }
    return Explorer(controls, figure, redraw, name="densenet_explorer")


register_explorer(densenet_explorer, lambda: {}, ("growth_rate",), "08_densenet")
