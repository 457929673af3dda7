"""Pre-activation shortcuts, drawn: the gradient at each block when the shortcut is scaled by λ.

`reslib.preact.shortcut_gradients` measures a residual MLP whose blocks are h_{l+1} = λ h_l + α W_l ReLU(h_l);
the figure puts the measured gradient per block beside λ^(L-l), what the shortcut path alone gives.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import plotly.graph_objects as go

from reslib.language import tr
from reslib.preact import ShortcutGradients, shortcut_gradients
from reslib.validate import typechecked
from reslib.viz.explorer import Explorer, find_trace, plain_list, require_control
from reslib.viz.registry import register_explorer
from reslib.viz.style import LAYOUT

__all__ = ["shortcut_explorer", "shortcut_figure"]


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
    fig.update_xaxes(title_text=tr("block l (0 = the first block's input)"))
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
        measured.name = tr("measured, λ = {lam:g}, α = {alpha:g}", lam=lam, alpha=alpha)
        reference.x, reference.y = blocks, plain_list([lam ** (r.depth - l) for l in blocks])
        reference.name = f"λ^(L-l) = {lam:g}^(L-l)"


@typechecked
def shortcut_explorer(depth: int = 40, shortcut_scale: float = 0.5, branch_scale: float = 0.1) -> Explorer:
    r"""Notebook 07: shortcut scale $\lambda$, branch scale $\alpha$, depth -> gradient per block, live.

    Each value must lie in its slider's range (ValueError): a slider would clamp it without a word.
    """
    controls = {
        "depth": widgets.IntSlider(value=1, min=1, max=80, description=tr("blocks L")),
        "shortcut_scale": widgets.FloatSlider(
            value=0.0, min=0.0, max=1.5, step=0.05, description=tr("shortcut λ")
        ),
        "branch_scale": widgets.FloatSlider(
            value=0.0, min=0.0, max=1.0, step=0.05, description=tr("branch α")
        ),
    }
    for name, value in dict(depth=depth, shortcut_scale=shortcut_scale, branch_scale=branch_scale).items():
        controls[name].value = require_control(name, value, controls[name])
    first = shortcut_gradients(depth, shortcut_scale, branch_scale)
    figure = go.FigureWidget(shortcut_figure([first]))

    def redraw(depth: int, shortcut_scale: float, branch_scale: float) -> str:
        r = shortcut_gradients(depth, shortcut_scale, branch_scale)  # one thread inside: ~10 ms
        _update_shortcut_figure(figure, [r])
        return tr(
            "{depth} blocks, λ = {lam:g}, α = {alpha:g}: the gradient at the input is {at_input:.2g} x "
            "the output's ({per_block:.3g} per block; λ^L = {lam_to_the_l:.2g})",
            depth=depth,
            lam=shortcut_scale,
            alpha=branch_scale,
            at_input=r.at_input,
            per_block=r.per_block,
            lam_to_the_l=shortcut_scale**depth,
        )

    return Explorer(controls, figure, redraw, name="shortcut_explorer")


register_explorer(
    shortcut_explorer,
    lambda: dict(depth=40, shortcut_scale=0.5, branch_scale=0.1),
    ("depth",),
    "07_resnet",
)
