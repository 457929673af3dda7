"""ResNet costs: basic vs bottleneck block costs, parameters and FLOPs per stage, and their explorers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reslib.blocks import BasicBlock, Bottleneck
from reslib.costs import BlockCosts, StageCost, block_costs, stage_costs
from reslib.preact import ShortcutGradients, shortcut_gradients
from reslib.resnet import ARCHITECTURES
from reslib.train import History
from reslib.validate import require_bool, require_choice, typechecked
from reslib.viz.explorer import Explorer, find_trace, plain_list
from reslib.viz.registry import register_explorer
from reslib.viz.style import BLUE, GREEN, LAYOUT, ORANGE
from reslib.viz.training import METRICS

__all__ = [
    "NETWORKS",
    "STRIDES",
    "block_cost_explorer",
    "block_cost_figure",
    "network_costs",
    "resnet_explorer",
    "resnet_figure",
    "responses_figure",
    "shortcut_explorer",
    "shortcut_figure",
]


_KINDS = ("basic", "bottleneck")


_CONV_COLORS = {"conv1": BLUE, "conv2": ORANGE, "conv3": GREEN}


@typechecked
def block_cost_figure(costs: BlockCosts | None = None) -> go.Figure:
    """Parameters (left) and FLOPs (right) of a basic and a bottleneck block, stacked per conv.

    Args:
        costs: the result of `reslib.costs.block_costs`; the Fig. 5 setting (256 channels,
            width 64, 56x56, 3x3) by default.

    Traces (by key, see `find_trace`): "conv1 params", "conv1 flops", ..., "conv3 flops".
    """
    costs = costs if costs is not None else block_costs(256, 64, 56, 3)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("conv parameters", "FLOPs per image"))
    for conv in ("conv1", "conv2", "conv3"):
        for col in (1, 2):
            fig.add_trace(
                go.Bar(
                    x=list(_KINDS),
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
    """Notebook 06: channels, bottleneck width, map size and kernel -> cost of basic vs bottleneck, live."""
    figure = go.FigureWidget(block_cost_figure(block_costs(channels, planes, size, kernel_size)))

    def redraw(channels: int, planes: int, size: int, kernel_size: int) -> str:
        costs = block_costs(channels, planes, size, kernel_size)
        _update_block_cost_figure(figure, costs)
        (p_basic, p_bottle), (f_basic, f_bottle) = _totals(costs, "params"), _totals(costs, "flops")
        return (
            f"{channels} channels, width {planes}, {size}x{size} map, {kernel_size}x{kernel_size}: "
            f"basic {p_basic:,} weights / {f_basic / 1e9:.3g} GFLOPs, bottleneck "
            f"{p_bottle:,} / {f_bottle / 1e9:.3g} GFLOPs "
            f"(basic/bottleneck = {p_basic / p_bottle:.2f}x)"
        )

    controls = {
        "channels": widgets.IntSlider(value=channels, min=16, max=1024, step=16, description="channels C"),
        "planes": widgets.IntSlider(value=planes, min=4, max=512, step=4, description="width"),
        "size": widgets.IntSlider(value=size, min=1, max=112, description="map size"),
        "kernel_size": widgets.IntSlider(value=kernel_size, min=1, max=7, step=2, description="kernel k"),
    }
    return Explorer(controls, figure, redraw, name="block_cost_explorer")


register_explorer(
    block_cost_explorer,
    lambda: dict(channels=256, planes=64, size=56, kernel_size=3),
    ("channels",),
    "06_bottleneck_counts",
)


NETWORKS: dict[str, dict] = {
    **{name: dict(block=b, layers=layers) for name, (b, layers) in ARCHITECTURES.items()},
    **{
        f"CIFAR ResNet-{d}": dict(
            block=BasicBlock,
            layers=[(d - 2) // 6] * 3,
            widths=(16, 32, 64),
            stem_type="cifar",
            image_size=32,
            num_classes=10,
            shortcut_type="A",
        )
        for d in (20, 32, 44, 56, 110)
    },
}


STRIDES = {"3x3 (torchvision, v1.5)": False, "first 1x1 (He et al., v1)": True}


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
        subplot_titles=("", "share per stage (%)", f"{metric}"),
    )
    fig.add_trace(
        go.Table(
            header=dict(values=["stage", "output shape", "blocks", "parameters", "MFLOPs"]),
            cells=dict(values=[[], [], [], [], []]),
            meta="stages",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(go.Bar(x=[], y=[], name="parameters", marker_color=BLUE, meta="parameters"), row=2, col=1)
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
    fig.update_xaxes(title_text="epoch", row=2, col=2)
    fig.update_layout(height=620, **LAYOUT)
    _update_resnet_figure(fig, network_costs(name), histories or {}, metric)
    return fig


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
    table.header.values = ["stage", "output shape", "blocks", "parameters", f"MFLOPs{note}"]
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
    fig.layout.annotations[-1].text = metric


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
        note = " (basic blocks have no 1x1 conv: nothing moves)" if basic else ""
        heading = " (basic blocks: no 1x1)" if basic else " (stride on 1x1, v1)" if STRIDES[stride] else ""
        _update_resnet_figure(figure, rows, histories, metric, heading)
        params, flops = sum(r.params for r in rows), sum(r.flops for r in rows)
        finals = ", ".join(f"{k} {getattr(h, METRICS[metric])[-1]:.3f}" for k, h in histories.items())
        return (
            f"{network}, stride on the {stride}{note}: {params:,} parameters, {flops / 2e9:.3g} GMACs "
            f"per image; final {metric}: {finals}"
        )

    controls = {
        "network": widgets.Dropdown(options=list(NETWORKS), value=name, description="network"),
        "stride": widgets.Dropdown(options=list(STRIDES), description="stride on"),
        "metric": widgets.Dropdown(options=list(METRICS), value="training error", description="curves"),
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
def shortcut_figure(results: Sequence[ShortcutGradients]) -> go.Figure:
    r"""Gradient at each block relative to the output (log scale): measured, and $\lambda^{L-l}$.

    Traces (by key, see `find_trace`): "measured <i>" and "reference <i>" for result i.
    """
    fig = go.Figure()
    for i in range(len(results)):
        fig.add_trace(go.Scatter(x=[], y=[], mode="lines+markers", name="", meta=f"measured {i}"))
        fig.add_trace(
            go.Scatter(x=[], y=[], mode="lines", line=dict(dash="dot"), name="", meta=f"reference {i}")
        )
    fig.update_xaxes(title_text="block l (0 = the first block's input)")
    fig.update_yaxes(title_text="||dL/dh_l|| / ||dL/dh_L||", type="log", exponentformat="power")
    fig.update_layout(height=380, **LAYOUT)
    _update_shortcut_figure(fig, results)
    return fig


def _update_shortcut_figure(fig: go.Figure | go.FigureWidget, results: Sequence[ShortcutGradients]) -> None:
    """Write `results` into a figure made by `shortcut_figure` (two traces per result)."""
    for i, r in enumerate(results):
        blocks = list(range(r.depth + 1))
        lam, alpha = r.shortcut_scale, r.branch_scale
        measured, reference = find_trace(fig, f"measured {i}"), find_trace(fig, f"reference {i}")
        measured.x, measured.y = blocks, plain_list(r.norms)
        measured.name = f"measured, λ = {lam:g}, α = {alpha:g}"
        reference.x, reference.y = blocks, plain_list([lam ** (r.depth - l) for l in blocks])
        reference.name = f"λ^(L-l) = {lam:g}^(L-l)"


@typechecked
def shortcut_explorer(depth: int = 40, shortcut_scale: float = 0.5, branch_scale: float = 0.1) -> Explorer:
    r"""Notebook 07: shortcut scale $\lambda$, branch scale $\alpha$, depth -> gradient per block, live."""
    first = shortcut_gradients(depth, shortcut_scale, branch_scale)
    figure = go.FigureWidget(shortcut_figure([first]))

    def redraw(depth: int, shortcut_scale: float, branch_scale: float) -> str:
        r = shortcut_gradients(depth, shortcut_scale, branch_scale)  # one thread inside: ~10 ms
        _update_shortcut_figure(figure, [r])
        return (
            f"{depth} blocks, λ = {shortcut_scale:g}, α = {branch_scale:g}: the gradient at the input is "
            f"{r.at_input:.2g} x the output's ({r.per_block:.3g} per block; "
            f"λ^L = {shortcut_scale**depth:.2g})"
        )

    controls = {
        "depth": widgets.IntSlider(value=depth, min=1, max=80, description="blocks L"),
        "shortcut_scale": widgets.FloatSlider(
            value=shortcut_scale, min=0.0, max=1.5, step=0.05, description="shortcut λ"
        ),
        "branch_scale": widgets.FloatSlider(
            value=branch_scale, min=0.0, max=1.0, step=0.05, description="branch α"
        ),
    }
    return Explorer(controls, figure, redraw, name="shortcut_explorer")


register_explorer(
    shortcut_explorer,
    lambda: dict(depth=40, shortcut_scale=0.5, branch_scale=0.1),
    ("depth",),
    "07_resnet",
)


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
    fig.update_xaxes(title_text="layer index (each 3x3 conv of the stages, in order)")
    fig.update_yaxes(title_text="std of the response (after BN, before ReLU/addition)")
    fig.update_layout(height=380, **LAYOUT)
    return fig
