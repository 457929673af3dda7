"""ResNet drawn and counted: block and network diagrams, basic vs bottleneck costs, stage tables, explorers.

`block_diagram` and `resnet_diagram` draw a block or a network from the module itself (its layers,
the order they run in, its shortcut and the tensor sizes of a traced forward pass); the figures
below them only draw what `reslib.costs` and training measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import ipywidgets as widgets
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from reslib.blocks import BasicBlock, BlockBase, Bottleneck, PadShortcut
from reslib.costs import BlockCosts, StageCost, block_costs, stage_costs
from reslib.language import tr
from reslib.resnet import ARCHITECTURES, ResNet
from reslib.train import History
from reslib.validate import require_bool, require_choice, require_int, typechecked
from reslib.viz import style
from reslib.viz.diagram import Box, Call, Diagram, layer_label, shape_label, trace
from reslib.viz.explorer import Explorer, find_trace, plain_list, require_control
from reslib.viz.registry import register_explorer
from reslib.viz.style import BLUE, GREEN, LAYOUT, ORANGE
from reslib.viz.training import METRICS, metric_label

__all__ = [
    "NETWORKS",
    "STRIDES",
    "block_cost_explorer",
    "block_cost_figure",
    "block_diagram",
    "network_costs",
    "resnet_diagram",
    "resnet_explorer",
    "resnet_figure",
    "responses_figure",
]


STEP = 44  # vertical distance between two boxes of a diagram
MAX_SIZE = 1024  # the largest input side a diagram traces (a real forward pass of one image)


def _box_half_width(label: str, sub: str | None = None) -> float:
    """Half the width `Diagram.box` gives a box with these labels (for placing a second column)."""
    return (max(len(label) * 12, len(sub or "") * 10) * 0.6 + 16) / 2


def _shortcut_label(module: nn.Module) -> tuple[str, str] | None:
    """A shortcut layer's label: option A's zero padding by name and channels, anything else as a layer."""
    if isinstance(module, PadShortcut):
        stride = f", /{module.stride}" if module.stride > 1 else ""
        label = tr("zero-pad {c_in}→{c_out}", c_in=module.in_channels, c_out=module.out_channels)
        return label + stride, "pool"
    return layer_label(module)


def _input(module: nn.Module, channels: int, size: int, dim: int) -> torch.Tensor:
    """One zero input (1, channels, size[, size]) on the module's device (the meta device included)."""
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    return torch.zeros(1, channels, *([size] * dim), device=device)


def _leaves(calls: list[Call]) -> list[tuple[int, Call]]:
    """The calls of modules with no children (the layers a diagram draws), with their trace index."""
    return [(i, c) for i, c in enumerate(calls) if i > 0 and not any(True for _ in c.module.children())]


@typechecked
def block_diagram(block: BlockBase, input_size: int, title: str | None = None) -> Diagram:
    """One residual block as He et al. draw it: its layers in the order they ran, the shortcut, the +.

    Read from the module: each layer's label (kernel, channels, stride) comes from `layer_label`; the
    order of the branch is the order the layers were *called* in a traced forward pass of one zero
    input (so a pre-activation block shows BN → ReLU → conv, whatever order its attributes were
    defined in); the shortcut is the identity or the layers of `block.downsample` (a 1x1 projection
    and its norm, or option A's zero padding); the addition sits where the block called its shortcut,
    and whatever ran after it (the post-activation ReLU) is drawn below it. The sizes on the arrows
    are the traced outputs. A plain block (`plain=True`) has no shortcut and no addition.

    Args:
        block: a `BasicBlock`, `Bottleneck` (`rl.blocks`), `PreActBlock` or `PreActBottleneck`
            (`rl.preact`).
        input_size: the side of the input map (its length for a 1-D block), 1 to 1024; the input's
            channels are the block's `in_channels`.
        title: a heading; by default the block's class and arguments, "Bottleneck(256, 64)".
    """
    require_int(
        "input_size", input_size, minimum=1, maximum=MAX_SIZE, fix="the side of the input map, e.g. 56"
    )
    planes = block.out_channels // block.expansion
    stride = f", stride={block.stride}" if block.stride != 1 else ""
    d = Diagram(
        title if title is not None else f"{type(block).__name__}({block.in_channels}, {planes}{stride})"
    )
    # Where the addition happens: right after the block calls its (public) shortcut. Count the
    # submodule calls up to that moment, with the same pre-hooks `trace` numbers its calls by.
    started, added = [0], []
    hooks = [
        m.register_forward_pre_hook(lambda *_: started.__setitem__(0, started[0] + 1))
        for m in block.modules()
    ]
    shortcut = block.shortcut

    def marked(inputs: torch.Tensor) -> torch.Tensor:
        out = shortcut(inputs)
        added.append(started[0])  # the addition comes next, before any other layer runs
        return out

    block.shortcut = marked
    try:
        calls = trace(block, _input(block, block.in_channels, input_size, block.dim))
    finally:
        del block.shortcut  # the instance attribute: the class's method again
        for h in hooks:
            h.remove()
    add_at = added[0] if added else len(calls)
    drawn = [(i, c, _shortcut_label(c.module)) for i, c in _leaves(calls)]
    drawn = [(i, c, label) for i, c, label in drawn if label is not None]  # nn.Identity: a norm switched off
    branch = [(c, label) for i, c, label in drawn if i < add_at and not c.name.startswith("downsample")]
    skip = [(c, label) for i, c, label in drawn if c.name.startswith("downsample")]
    after = [(c, label) for i, c, label in drawn if i >= add_at and not c.name.startswith("downsample")]

    x = 0.0
    previous = d.box(x, 0.0, tr("input {size}", size=shape_label(calls[0].inputs[0])), kind="io")
    y = 26.0  # the fork: the shortcut leaves here
    fork = (x, y)
    into, size = Box(x, y, 0, 0), None
    if branch:
        d.arrow([previous.bottom, fork], head=False)
    else:
        into = previous

    def chain(rows: list[tuple[Call, tuple[str, str]]], y: float, into: Box, size: str | None, col: float):
        """Boxes for `rows` top to bottom from `into`; each conv's output size on the arrow after it."""
        last = into
        for call, (label, kind) in rows:
            y += STEP
            box = d.box(col, y, label, kind=kind)
            d.arrow([last.bottom, box.top], label=size, colour=style.RESIDUAL if col else style.DARK_GREY)
            last = box
            size = shape_label(call.output) if kind in ("layer", "pool") else None
        return last, y, size

    last, y, size = chain(branch, y - STEP + 22, into, size, x)
    out_size = shape_label(calls[0].output)
    if added:
        y += STEP
        add = d.node(x, y)
        d.arrow([last.bottom, add.top], label=size)
        main_half = max([_box_half_width(label) for _, (label, _) in branch] + [60.0])
        skip_half = max([_box_half_width(label) for _, (label, _) in skip] + [0.0])
        col = main_half + 50 + skip_half
        if skip:
            d.arrow([fork, (col, fork[1]), (col, fork[1] + 12)], head=False, colour=style.RESIDUAL, width=2)
            s_last, _, s_size = chain(skip, fork[1] + 12 - STEP + 22, Box(col, fork[1] + 12, 0, 0), None, col)
            d.arrow([s_last.bottom, (col, add.y), add.right], label=s_size, colour=style.RESIDUAL, width=2)
        else:
            d.arrow(
                [fork, (col, fork[1]), (col, add.y), add.right],
                label=tr("identity"),
                colour=style.RESIDUAL,
                width=2,
            )
        previous, size = add, None
    else:
        previous = last
    last, y, size = chain(after, y, previous, size, x)
    out = d.box(x, y + STEP, tr("output {size}", size=out_size), kind="io")
    d.arrow([last.bottom, out.top], label=size if after else None)
    return d


def _stage_shortcut(block: nn.Module) -> str:
    """How a stage's first block skips: the identity, option A's zero padding, a projection, or not at all."""
    if getattr(block, "plain", False):
        return tr("no shortcut (plain)")
    downsample = getattr(block, "downsample", None)
    if downsample is None:
        return tr("identity shortcuts")
    if isinstance(downsample, PadShortcut):
        return tr("zero-pad shortcut (A)")
    return tr("1×1 projection (B)")


@typechecked
def resnet_diagram(model: ResNet, input_size: int, title: str | None = None) -> Diagram:
    """A ResNet compactly: its stem layer by layer, one box per stage ("×n"), the head, the sizes between.

    Read from the module: the stem's and the head's labels from `layer_label`; each stage's block
    class and number of blocks from `layerK` itself, its stride from the first block, the kind of
    shortcut from that block's `downsample`; the channels and sizes on the arrows from a traced
    forward pass of one zero image (on the model's device: a model built on the meta device is
    traced without any arithmetic).

    Args:
        model: a `rl.resnet.ResNet` (`resnet18()`, `cifar_resnet(20)`, ...).
        input_size: the side of the input image (the length of a 1-D signal), 1 to 1024; its
            channels are those of `model.conv1`.
        title: a heading; by default the network's depth in weight layers, "ResNet, 18 weight layers".
    """
    require_int(
        "input_size", input_size, minimum=1, maximum=MAX_SIZE, fix="the side of the input image, e.g. 224"
    )
    calls = trace(model, _input(model, model.conv1.in_channels, input_size, model.dim))
    output = {c.name: c.output for c in calls}
    convs = sum(
        1 for n, m in model.named_modules() if isinstance(m, (nn.Conv1d, nn.Conv2d)) and "downsample" not in n
    )
    d = Diagram(title if title is not None else tr("ResNet, {layers} weight layers", layers=convs + 1))
    x, y = 0.0, 0.0
    previous = d.box(x, y, tr("input {size}", size=shape_label(calls[0].inputs[0])), kind="io")
    size = None  # the size written on the next arrow: after a conv, a pool or a stage
    stem, head = [], []  # the stem's and the head's boxes, for the regions around them
    for name, module in model.named_children():
        if name.startswith("layer"):
            first = module[0]
            label = f"{name}: {type(first).__name__} ×{len(module)}"
            sub = tr(
                "{channels} channels, stride {stride}, {shortcut}",
                channels=output[name][1],
                stride=first.stride,
                shortcut=_stage_shortcut(first),
            )
            y += STEP + 10
            box = d.box(x, y, label, kind="block", sub=sub)
            d.arrow([previous.bottom, box.top], label=size)
            previous, size = box, shape_label(output[name])
            y += 6
            continue
        label = layer_label(module)
        if label is None:  # nn.Identity: the CIFAR stem has no max-pool
            continue
        y += STEP + (10 if name == "avgpool" else 0)
        box = d.box(x, y, label[0], kind=label[1])
        d.arrow([previous.bottom, box.top], label=size)
        (head if name in ("avgpool", "fc") else stem).append(box)
        previous, size = box, shape_label(output[name]) if label[1] in ("layer", "pool") else None
    y += STEP
    out = d.box(x, y, tr("class scores"), kind="io")
    d.arrow([previous.bottom, out.top], label=size)
    half = max(b.w for b in stem + head) / 2 + 22
    for boxes, label in ((stem, tr("stem")), (head, tr("head"))):
        d.region(-half, boxes[0].top[1] - 5, half, boxes[-1].bottom[1] + 4, label=label)
    return d


_KINDS = ("basic", "bottleneck")


_CONV_COLORS = {"conv1": BLUE, "conv2": ORANGE, "conv3": GREEN}


def _kind_labels() -> list[str]:
    """The x-axis names of `_KINDS`, in the language spoken now."""
    return [tr("basic"), tr("bottleneck")]


@typechecked
def block_cost_figure(costs: BlockCosts | None = None) -> go.Figure:
    """Parameters (left) and FLOPs (right) of a basic and a bottleneck block, stacked per conv.

    Args:
        costs: the result of `reslib.costs.block_costs`; the Fig. 5 setting (256 channels,
            width 64, 56x56, 3x3) by default.

    Traces (by key, see `find_trace`): "conv1 params", "conv1 flops", ..., "conv3 flops".
    """
    costs = costs if costs is not None else block_costs(256, 64, 56, 3)
    fig = make_subplots(rows=1, cols=2, subplot_titles=(tr("conv parameters"), tr("FLOPs per image")))
    for conv in ("conv1", "conv2", "conv3"):
        for col in (1, 2):
            fig.add_trace(
                go.Bar(
                    x=_kind_labels(),
                    y=[0, 0],
                    name=conv,
                    legendgroup=conv,
                    showlegend=col == 1,
                    marker_color=_CONV_COLORS[conv],
                    meta=f"{conv} {('params', 'flops')[col - 1]}",
                ),
                row=1,
                col=col,
            )
    fig.update_layout(barmode="stack", height=360, **LAYOUT)
    _update_block_cost_figure(fig, costs)
    return fig


def _update_block_cost_figure(fig: go.Figure | go.FigureWidget, costs: BlockCosts) -> None:
    """Write `costs` into a figure made by `block_cost_figure` (traces: conv1..3 x params/FLOPs)."""
    for conv in ("conv1", "conv2", "conv3"):
        rows = [{r.name: r for r in getattr(costs, kind)}.get(conv) for kind in _KINDS]
        for key in ("params", "flops"):
            values = [getattr(r, key) if r is not None else 0 for r in rows]
            hover = [r.shape if r is not None else "" for r in rows]
            trace = find_trace(fig, f"{conv} {key}")
            trace.y = plain_list(values)
            trace.hovertext = hover


def _totals(costs: BlockCosts, key: str) -> tuple[int, int]:
    """`key` ("params" or "flops") summed over the convs of the basic and of the bottleneck block."""
    return sum(getattr(r, key) for r in costs.basic), sum(getattr(r, key) for r in costs.bottleneck)


@typechecked
def block_cost_explorer(
    channels: int = 256, planes: int = 64, size: int = 56, kernel_size: int = 3
) -> Explorer:
    """Notebook 06: channels, bottleneck width, map size and kernel -> cost of basic vs bottleneck, live.

    Each value must lie in its slider's range (ValueError): a slider would clamp it without a word.
    """
    controls = {
        "channels": widgets.IntSlider(value=16, min=16, max=1024, step=16, description=tr("channels C")),
        "planes": widgets.IntSlider(value=4, min=4, max=512, step=4, description=tr("width")),
        "size": widgets.IntSlider(value=1, min=1, max=112, description=tr("map size")),
        "kernel_size": widgets.IntSlider(value=1, min=1, max=7, step=2, description=tr("kernel k")),
    }
    given = dict(channels=channels, planes=planes, size=size, kernel_size=kernel_size)
    for name, value in given.items():
        controls[name].value = require_control(name, value, controls[name])
    figure = go.FigureWidget(block_cost_figure(block_costs(channels, planes, size, kernel_size)))

    def redraw(channels: int, planes: int, size: int, kernel_size: int) -> str:
        costs = block_costs(channels, planes, size, kernel_size)
        _update_block_cost_figure(figure, costs)
        (p_basic, p_bottle), (f_basic, f_bottle) = _totals(costs, "params"), _totals(costs, "flops")
        return tr(
            "{channels} channels, width {planes}, {size}x{size} map, {kernel_size}x{kernel_size}: "
            "basic {p_basic:,} weights / {gf_basic:.3g} GFLOPs, "
            "bottleneck {p_bottle:,} / {gf_bottle:.3g} GFLOPs (basic/bottleneck = {ratio:.2f}x)",
            channels=channels,
            planes=planes,
            size=size,
            kernel_size=kernel_size,
            p_basic=p_basic,
            gf_basic=f_basic / 1e9,
            p_bottle=p_bottle,
            gf_bottle=f_bottle / 1e9,
            ratio=p_basic / p_bottle,
        )

    return Explorer(controls, figure, redraw, name="block_cost_explorer")


register_explorer(
    block_cost_explorer,
    lambda: dict(channels=256, planes=64, size=56, kernel_size=3),
    ("channels",),
    "06_bottleneck_counts",
)


# name -> stage_costs' arguments; read-only: a notebook that changed one would change every later table
_CIFAR = dict(widths=(16, 32, 64), stem_type="cifar", image_size=32, num_classes=10, shortcut_type="A")
NETWORKS: Mapping[str, Mapping[str, object]] = MappingProxyType(
    {
        **{n: MappingProxyType(dict(block=b, layers=tuple(ls))) for n, (b, ls) in ARCHITECTURES.items()},
        **{
            f"CIFAR ResNet-{d}": MappingProxyType(
                dict(block=BasicBlock, layers=((d - 2) // 6,) * 3, **_CIFAR)
            )
            for d in (20, 32, 44, 56, 110)
        },
    }
)


STRIDES = MappingProxyType({"3x3 (torchvision, v1.5)": False, "first 1x1 (He et al., v1)": True})


def _stride_label(key: str) -> str:
    """A key of `STRIDES` as the learner reads it (the key itself stays English: code compares it)."""
    labels = {
        "3x3 (torchvision, v1.5)": tr("3x3 (torchvision, v1.5)"),
        "first 1x1 (He et al., v1)": tr("first 1x1 (He et al., v1)"),
    }
    return labels.get(key, key)


@typechecked
def network_costs(name: str, stride_in_1x1: bool = False) -> list[StageCost]:
    """`reslib.costs.stage_costs` of a network named in `NETWORKS` (ImageNet at 224, CIFAR at 32).

    `stride_in_1x1` moves a bottleneck's stride to its first 1x1 conv; basic blocks have none.
    """
    require_choice("name", name, NETWORKS, fix="the network's name, as in the explorer's dropdown")
    config = NETWORKS[name]
    moved = require_bool("stride_in_1x1", stride_in_1x1) and config["block"] is Bottleneck
    return stage_costs(**config, **(dict(stride_in_1x1=True) if moved else {}))


@typechecked
def resnet_figure(
    name: str = "ResNet-18", histories: Mapping[str, History] | None = None, metric: str = "training error"
) -> go.Figure:
    """Stage table (top), share of parameters and FLOPs per stage, and training curves (bottom).

    Traces (by key, see `find_trace`): "stages" (the table), "parameters" and "FLOPs" (shares),
    and "curve of <label>" per history.
    """
    fig = make_subplots(
        rows=2,
        cols=2,
        specs=[[{"type": "table", "colspan": 2}, None], [{"type": "xy"}, {"type": "xy"}]],
        row_heights=[0.45, 0.55],
        vertical_spacing=0.08,
        subplot_titles=("", tr("share per stage (%)"), metric_label(metric)),
    )
    fig.add_trace(
        go.Table(
            header=dict(values=_table_header("")),
            cells=dict(values=[[], [], [], [], []]),
            meta="stages",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(x=[], y=[], name=tr("parameters"), marker_color=BLUE, meta="parameters"), row=2, col=1
    )
    fig.add_trace(go.Bar(x=[], y=[], name="FLOPs", marker_color=ORANGE, meta="FLOPs"), row=2, col=1)
    for label in histories or {}:
        fig.add_trace(
            go.Scatter(
                x=[],
                y=[],
                name=label,
                mode="lines+markers",
                line=dict(dash="dash" if "plain" in label else "solid"),
                meta=f"curve of {label}",
            ),
            row=2,
            col=2,
        )
    fig.update_xaxes(title_text=tr("epoch"), row=2, col=2)
    fig.update_layout(height=620, **LAYOUT)
    _update_resnet_figure(fig, network_costs(name), histories or {}, metric)
    return fig


def _table_header(note: str) -> list[str]:
    """The stage table's column names; `note` follows the FLOPs heading."""
    return [tr("stage"), tr("output shape"), tr("blocks"), tr("parameters"), f"MFLOPs{note}"]


def _update_resnet_figure(
    fig: go.Figure | go.FigureWidget,
    rows: Sequence[StageCost],
    histories: Mapping[str, History],
    metric: str,
    note: str = "",
) -> None:
    """Write a stage table and the curves of `metric` into a figure made by `resnet_figure`.

    `note` follows the table's FLOPs heading (the explorer names the stride placement there).
    """
    require_choice("metric", metric, METRICS)
    total_p, total_f = sum(r.params for r in rows), sum(r.flops for r in rows)
    table = find_trace(fig, "stages")
    table.header.values = _table_header(note)
    table.cells.values = [
        [r.name for r in rows],
        ["x".join(map(str, r.shape)) for r in rows],
        [r.blocks for r in rows],
        [f"{r.params:,}" for r in rows],
        [f"{r.flops / 1e6:,.1f}" for r in rows],
    ]
    names = [r.name for r in rows]
    find_trace(fig, "parameters").update(x=names, y=plain_list([100 * r.params / total_p for r in rows]))
    find_trace(fig, "FLOPs").update(x=names, y=plain_list([100 * r.flops / total_f for r in rows]))
    for label, h in histories.items():
        values = getattr(h, METRICS[metric])
        find_trace(fig, f"curve of {label}").update(x=list(range(1, len(values) + 1)), y=plain_list(values))
    fig.layout.annotations[-1].text = metric_label(metric)


@typechecked
def resnet_explorer(histories: Mapping[str, History], name: str = "ResNet-18") -> Explorer:
    """Notebook 07: a network and its stride placement -> stage table and shares; a metric -> curves.

    Args:
        histories: label -> `History`, trained in the notebook; the explorer only switches views.
        name: the network shown first (a key of `NETWORKS`).
    """
    tables = {(n, s): network_costs(n, s) for n in NETWORKS for s in STRIDES.values()}  # microseconds each
    figure = go.FigureWidget(resnet_figure(name, histories))

    def redraw(network: str, stride: str, metric: str) -> str:
        rows = tables[network, STRIDES[stride]]
        basic = NETWORKS[network]["block"] is BasicBlock and STRIDES[stride]
        if basic:
            heading = " " + tr("(basic blocks: no 1x1)")
        elif STRIDES[stride]:
            heading = " " + tr("(stride on 1x1, v1)")
        else:
            heading = ""
        _update_resnet_figure(figure, rows, histories, metric, heading)
        params, flops = sum(r.params for r in rows), sum(r.flops for r in rows)
        finals = ", ".join(f"{k} {getattr(h, METRICS[metric])[-1]:.3f}" for k, h in histories.items())
        fields = dict(
            network=network,
            stride=_stride_label(stride),
            params=params,
            gmacs=flops / 2e9,
            metric=metric_label(metric),
            finals=finals,
        )
        if basic:
            return tr(
                "{network}, stride on the {stride} (basic blocks have no 1x1 conv: nothing moves): "
                "{params:,} parameters, {gmacs:.3g} GMACs per image; final {metric}: {finals}",
                **fields,
            )
        return tr(
            "{network}, stride on the {stride}: {params:,} parameters, {gmacs:.3g} GMACs per image; "
            "final {metric}: {finals}",
            **fields,
        )

    controls = {
        "network": widgets.Dropdown(options=list(NETWORKS), value=name, description=tr("network")),
        "stride": widgets.Dropdown(
            options=[(_stride_label(k), k) for k in STRIDES], description=tr("stride on")
        ),
        "metric": widgets.Dropdown(
            options=[(metric_label(k), k) for k in METRICS], value="training error", description=tr("curves")
        ),
    }
    return Explorer(controls, figure, redraw, name="resnet_explorer")


def _resnet_demo() -> dict:
    """Made-up 6-epoch curves for notebook 07's four networks, where it passes trained histories.

    Plain and residual, 8 and 20 layers.
    The explorer only switches views of the histories: an update costs the same for any four
    curves of 6 epochs, so the demo does not train.
    """
    histories = {}
    for i, label in enumerate(("plain-8", "residual-8", "plain-20", "residual-20")):
        error = [round(0.9 / (1 + 0.3 * (i + 1) * epoch), 4) for epoch in range(1, 7)]
        histories[label] = History(
            [2.3 * e for e in error], error, [2.4 * e for e in error], [e + 0.05 for e in error]
        )
    return dict(histories=histories, name="ResNet-18")


register_explorer(resnet_explorer, _resnet_demo, ("network",), "07_resnet")


@typechecked
def responses_figure(responses: Mapping[str, Sequence[float]]) -> go.Figure:
    """He et al.'s Fig. 7 for our nets: the std of each layer's response against the layer index.

    Args:
        responses: network name -> one std per layer, e.g. from `reslib.resnet.layer_responses`;
            names starting with "plain" are drawn dashed.

    Traces (by key, see `find_trace`): one per network, keyed by its name.
    """
    fig = go.Figure()
    for name, stds in responses.items():
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(stds) + 1)),
                y=list(stds),
                mode="lines+markers",
                name=name,
                meta=name,
                line=dict(dash="dash" if name.startswith("plain") else "solid"),
            )
        )
    fig.update_xaxes(title_text=tr("layer index (each 3x3 conv of the stages, in order)"))
    fig.update_yaxes(title_text=tr("std of the response (after BN, before ReLU/addition)"))
    fig.update_layout(height=380, **LAYOUT)
    return fig
