"""DenseNet channel growth: input channels of every layer per dense block, and its explorer."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import plotly.graph_objects as go

from reslib.costs import densenet_parameter_count
from reslib.densenet import channel_plan
from reslib.validate import require_int, typechecked
from reslib.viz.explorer import Explorer, find_trace
from reslib.viz.registry import register_explorer
from reslib.viz.style import LAYOUT, PALETTE

__all__ = [
    "channel_figure",
    "densenet_explorer",
]


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
        fig.add_trace(go.Bar(x=x, y=y, name=f"block {i + 1}", marker_color=color, meta=f"block {i + 1}"))
    for i in range(len(fig.data), 4):  # fixed number of traces, so an explorer can update them
        fig.add_trace(go.Bar(x=[], y=[], name=f"block {i + 1}", visible=False, meta=f"block {i + 1}"))
    fig.update_layout(
        title=f"channels read by each dense layer (k={growth_rate}, theta={compression})",
        xaxis_title="dense layer (counted through the network)",
        yaxis_title="input channels",
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
        figure.layout.title.text = (
            f"channels read by each dense layer (k={growth_rate}, theta={compression:.2f})"
        )
        params = densenet_parameter_count(
            growth_rate, config, 2 * growth_rate, compression=compression, num_classes=10, stem_type="cifar"
        )
        widest = max(max(y) for _, y in bars)
        depth = 6 * layers + 4
        return (
            f"DenseNet-BC, depth {depth} ({num_blocks} blocks of {layers}), k0 = 2k = {2 * growth_rate}: "
            f"{params:,} parameters; widest layer input {widest} channels"
        )

    controls = {
        "growth_rate": widgets.IntSlider(value=12, min=1, max=48, description="growth k"),
        "layers": widgets.IntSlider(value=16, min=1, max=40, description="layers/block"),
        "compression": widgets.FloatSlider(value=0.5, min=0.1, max=1.0, step=0.05, description="theta"),
    }
    return Explorer(controls, figure, redraw, name="densenet_explorer")


register_explorer(densenet_explorer, lambda: {}, ("growth_rate",), "08_densenet")
