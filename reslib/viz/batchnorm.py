"""Batch normalization: its computation drawn from a module, learning-rate sweeps, running statistics.

`batch_norm_diagram` draws what one BN layer computes, read from the module and an input size:
which values share one mean and variance, the normalisation with the module's eps, the learned
scale and shift, and the running statistics it updates in training mode only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from reslib import batchnorm as rl_batchnorm
from reslib.batchnorm import RunningStatsTrace, running_stats_trace
from reslib.language import tr
from reslib.validate import require_int, require_memory, require_seed, typechecked
from reslib.viz import style
from reslib.viz.diagram import CHAR_WIDTH, Diagram, shape_label, trace
from reslib.viz.explorer import Explorer, find_trace, plain_list
from reslib.viz.registry import register_explorer
from reslib.viz.style import BLUE, GREEN, LAYOUT, ORANGE, PURPLE, RED

__all__ = [
    "batch_norm_diagram",
    "lr_sweep_figure",
    "running_stats_explorer",
    "running_stats_figure",
]

# the batch norms a diagram can read, and the input ranks each accepts (N, C, ...)
_BN_RANKS = {
    nn.BatchNorm1d: (2, 3),
    nn.BatchNorm2d: (4,),
    rl_batchnorm.BatchNorm1d: (2, 3),
    rl_batchnorm.BatchNorm2d: (4,),
}
_AXES = {2: "N", 3: "N×L", 4: "N×H×W"}


def _number(v: float) -> str:
    return f"{v:g}"


@typechecked
def batch_norm_diagram(bn: nn.Module, input_size: Sequence[int], title: str | None = None) -> Diagram:
    r"""What one batch-norm layer computes on an input of size `input_size`, as a diagram.

    Top to bottom: the input; the batch statistics, one $\mu_B$ and one $\sigma_B^2$ per channel over
    the batch and every position ($m = N$ values for `(N, C)`, $m = N H W$ for `(N, C, H, W)`);
    the normalisation with the module's $\epsilon$; the learned scale and shift ($C$ of each, only
    if `affine`); the output. Beside it, the running statistics: updated in training mode only
    (with the module's momentum and the unbiased variance, $m/(m-1)$), used instead of the batch
    statistics in eval mode. Every number is read from the module (`num_features`, `eps`,
    `momentum`, `affine`, `track_running_stats`) or from a traced forward pass of `input_size`.

    Args:
        bn: a `torch.nn.BatchNorm1d`/`BatchNorm2d`, or reslib's `rl.batchnorm.BatchNorm1d`/`BatchNorm2d`.
        input_size: the full input size including the batch, `(N, C)`, `(N, C, L)` or `(N, C, H, W)`.
        title: a heading; by default "BatchNorm2d(4) on 8×4×5×5".

    Raises:
        TypeError: `bn` is not one of those batch norms.
        ValueError: an input size of the wrong rank, a channel count that is not `num_features`,
            a batch of fewer than 2 values per channel.
    """
    ranks = next((r for cls, r in _BN_RANKS.items() if isinstance(bn, cls)), None)
    if ranks is None:
        raise TypeError(
            f"bn must be a BatchNorm1d or BatchNorm2d (torch's or reslib's), got {type(bn).__name__}"
        )
    size = tuple(input_size)
    for i, v in enumerate(size):
        require_int(f"input_size[{i}]", v, minimum=1)
    kind = type(bn).__name__
    if len(size) not in ranks:
        raise ValueError(
            f"input_size must have {' or '.join(map(str, ranks))} entries (N, C, ...) for a {kind}, "
            f"got {size!r}"
        )
    if size[1] != bn.num_features:
        raise ValueError(
            f"input_size[1] must be the {bn.num_features} channels of "
            f"{kind}({bn.num_features}), got {size[1]}"
        )
    m = size[0] * math.prod(size[2:])
    if m < 2:
        raise ValueError(
            f"input_size {size!r} gives each channel m = {m} value; batch statistics need at least 2"
        )
    require_memory("input_size", size, 3 * 4 * math.prod(size))  # the input, its output, a copy: float32
    calls = trace(bn, torch.zeros(size))
    c = bn.num_features
    if title is None:
        title = tr("{module} on {size}", module=f"{kind}({c})", size=shape_label(size, batch=True))
    d = Diagram(title)
    axes = _AXES[len(size)]
    count = "×".join(str(v) for v in (size[0], *size[2:]))
    inp = d.box(
        0,
        0,
        tr(
            "input x: {size} ({axes})",
            size=shape_label(calls[0].inputs[0], batch=True),
            axes=f"N×C{axes[1:]}",
        ),
        kind="io",
    )
    values = f"{count} = {m}" if count != str(m) else str(m)
    stats = d.box(
        0,
        70,
        tr("batch statistics: {c} means μ, {c} variances σ²", c=c),
        kind="norm",
        sub=tr("one pair per channel, over {axes} = {values} values", axes=axes, values=values),
    )
    d.arrow([inp.bottom, stats.top])
    norm = d.box(0, 140, tr("normalise: x̂ = (x − μ) / √(σ² + ε)"), kind="norm", sub=f"ε = {_number(bn.eps)}")
    d.arrow([stats.bottom, norm.top], label=tr("train mode"))
    last = norm
    if bn.affine:
        affine = d.box(
            0,
            210,
            tr("scale and shift: y = γ·x̂ + β"),
            kind="layer",
            sub=tr("γ, β: {c} learned values each", c=c),
        )
        d.arrow([norm.bottom, affine.top])
        last = affine
    else:
        d.text(0, 200, tr("affine=False: no γ, β (y = x̂)"), size=10, colour=style.GREY)
    out = d.box(
        0, last.y + 70, tr("output y: {size}", size=shape_label(calls[0].output, batch=True)), kind="io"
    )
    d.arrow([last.bottom, out.top])
    right = stats.w / 2 + 130  # where the running statistics' column starts
    if bn.track_running_stats:
        label = tr("running statistics μ̂, σ̂² ({c} each)", c=c)
        w = len(label) * 12 * CHAR_WIDTH + 16
        running = d.box(right + w / 2, 70, label, kind="io", w=w)
        if bn.momentum is None:
            rules = [tr("cumulative averages of every batch's μ, σ²"), "(momentum=None)"]
        else:
            keep, new = _number(round(1 - bn.momentum, 10)), _number(bn.momentum)
            rules = [
                f"μ̂ ← {keep}·μ̂ + {new}·μ",
                tr("σ̂² ← {keep}·σ̂² + {new}·σ²·m/(m−1)  (momentum {new})", keep=keep, new=new),
            ]
        rules.append(tr("m/(m−1) = {m}/{m_minus_1}: the unbiased variance", m=m, m_minus_1=m - 1))
        for i, rule in enumerate(rules):
            d.text(
                right + 30, running.bottom[1] + 16 + 14 * i, rule, size=10, anchor="start", colour=style.GREY
            )
        d.arrow([stats.right, running.left], label=tr("train mode: update"), dashed=True, colour=style.ORANGE)
        d.arrow(
            [(right + 16, running.bottom[1]), (right + 16, norm.y), norm.right],
            dashed=True,
            colour=style.BLUE,
        )
        d.text(
            (right + 16 + norm.right[0]) / 2,
            norm.y + 14,
            tr("eval mode: used instead of μ, σ²"),
            size=10,
            colour=style.BLUE,
        )
    else:
        d.text(
            stats.right[0] + 12,
            stats.y + 4,
            tr("track_running_stats=False: eval mode uses batch statistics too"),
            size=10,
            anchor="start",
            colour=style.GREY,
        )
    return d


_BINS = np.linspace(-12, 12, 97)


@typechecked
def lr_sweep_figure(
    lrs: Sequence[float], losses: Mapping[str, Sequence[float]], title: str = ""
) -> go.Figure:
    """Final training loss against learning rate (log x), one line per label; diverged runs as x."""
    fig = go.Figure()
    for label, values in losses.items():
        v = np.asarray(values, dtype=float)
        fig.add_trace(go.Scatter(x=list(lrs), y=plain_list(v), name=label, mode="lines+markers"))
        bad = [lr for lr, loss in zip(lrs, v, strict=True) if not np.isfinite(loss)]
        if bad:
            fig.add_trace(
                go.Scatter(
                    x=bad,
                    y=[3.0] * len(bad),
                    mode="markers",
                    name=tr("{label}: diverged", label=label),
                    marker=dict(symbol="x", size=12, color=RED),
                )
            )
    fig.update_xaxes(title_text=tr("learning rate"), type="log")
    fig.update_yaxes(title_text=tr("training loss after training"))
    fig.update_layout(height=380, title=title, **LAYOUT)
    return fig


@typechecked
def running_stats_figure(trace: RunningStatsTrace | None = None) -> go.Figure:
    """Running mean/variance vs step, train-vs-eval gap vs step, eval output histogram.

    Traces (by key, see `find_trace`): "running mean", "true mean", "running var", "true var"
    (the population's), "gap", "histogram".
    """
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=(
            tr("running statistics"),
            tr("|train output - eval output|"),
            tr("eval-mode output y"),
        ),
    )
    for key, name, color, dash in (  # key: the trace's meta, looked up by `find_trace`; name: its legend
        ("running mean", tr("running mean"), BLUE, None),
        ("true mean", tr("true mean"), BLUE, "dash"),
        ("running var", tr("running var"), ORANGE, None),
        ("true var", tr("true var"), ORANGE, "dash"),
    ):
        fig.add_trace(
            go.Scatter(mode="lines", name=name, line=dict(color=color, dash=dash), meta=key), row=1, col=1
        )
    fig.add_trace(go.Scatter(mode="lines", name=tr("gap"), line=dict(color=GREEN), meta="gap"), row=1, col=2)
    fig.add_trace(go.Bar(name="y", marker_color=PURPLE, showlegend=False, meta="histogram"), row=1, col=3)
    fig.update_xaxes(title_text=tr("step"), row=1, col=1)
    fig.update_xaxes(title_text=tr("step"), row=1, col=2)
    fig.update_xaxes(title_text="y", range=[-12, 12], row=1, col=3)
    fig.update_layout(height=380, bargap=0, legend=dict(orientation="h", y=-0.25), **LAYOUT)
    if trace is not None:
        _update_running_stats_figure(fig, trace)
    return fig


def _update_running_stats_figure(fig: go.Figure | go.FigureWidget, trace: RunningStatsTrace) -> None:
    """Write a `running_stats_trace` result into a `running_stats_figure`."""
    steps = list(range(1, len(trace.running_mean) + 1))
    ends = [1, steps[-1]]
    find_trace(fig, "running mean").update(x=steps, y=plain_list(trace.running_mean))
    find_trace(fig, "true mean").update(x=ends, y=[trace.mean] * 2)
    find_trace(fig, "running var").update(x=steps, y=plain_list(trace.running_var))
    find_trace(fig, "true var").update(x=ends, y=[trace.var] * 2)
    find_trace(fig, "gap").update(x=steps, y=plain_list(trace.gap))
    counts, _ = np.histogram(np.clip(trace.output, _BINS[0], _BINS[-1]), _BINS)
    find_trace(fig, "histogram").update(
        x=plain_list((_BINS[:-1] + _BINS[1:]) / 2), y=plain_list(counts / counts.sum())
    )


@typechecked
def running_stats_explorer(steps: int = 100, seed: int = 0) -> Explorer:
    """Notebook 05: batch size and momentum -> running statistics and the train/eval gap;
    gamma and beta -> the output distribution.

    Args:
        steps: training steps each update replays, at most 10,000 (an update then takes about
            0.5 s; the notebook's 100 take 10 ms; 10**6 took 4 minutes a slider move).
        seed: seed of the batches, in [0, 2**63 - 1].
    """
    require_int("steps", steps, maximum=10_000, fix="each slider move replays them all (~50 µs a step)")
    require_seed("seed", seed)
    figure = go.FigureWidget(running_stats_figure())

    def redraw(batch_size: int, momentum: float, gamma: float, beta: float) -> str:
        t = running_stats_trace(batch_size, momentum, steps, gamma, beta, seed=seed)
        _update_running_stats_figure(figure, t)
        return tr(
            "after {steps} steps: running mean {running_mean:.2f} (true {mean:.2f}), running var "
            "{running_var:.2f} (true {var:.2f}); train/eval gap on the last batch {gap:.3f}; output mean "
            "{output_mean:.2f}, std {output_std:.2f}",
            steps=steps,
            running_mean=t.running_mean[-1],
            mean=t.mean,
            running_var=t.running_var[-1],
            var=t.var,
            gap=t.gap[-1],
            output_mean=t.output.mean(),
            output_std=t.output.std(),
        )

    controls = {
        "batch_size": widgets.IntSlider(value=16, min=2, max=256, description=tr("batch size")),
        # log scale: the interesting momenta span 0.01-1; a linear float slider with step 0.01 also
        # got stuck under the keyboard in JupyterLab (0.1 -> 0.1 on ArrowRight)
        "momentum": widgets.FloatLogSlider(
            value=0.1, base=10, min=-2, max=0, step=0.1, description=tr("momentum")
        ),
        "gamma": widgets.FloatSlider(value=1.0, min=-2.0, max=3.0, step=0.1, description="γ"),
        "beta": widgets.FloatSlider(value=0.0, min=-3.0, max=3.0, step=0.1, description="β"),
    }
    return Explorer(controls, figure, redraw, name="running_stats_explorer")


register_explorer(running_stats_explorer, lambda: {}, ("batch_size",), "05_batch_norm_math")
