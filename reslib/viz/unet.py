"""U-Net: the network drawn as a U, the size trace through a valid-padding U-Net, its explorer, masks."""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from reslib.language import tr
from reslib.unet import UNet, unet_output_size, unet_shape_trace
from reslib.validate import require_int, require_memory, typechecked
from reslib.viz import style
from reslib.viz.diagram import Box, Diagram, layer_label, spatial_label, trace
from reslib.viz.explorer import Explorer, find_trace, image_trace, require_real
from reslib.viz.registry import register_explorer
from reslib.viz.style import LAYOUT, LIGHT_RED, PLAIN, RESIDUAL

__all__ = [
    "segmentation_figure",
    "unet_diagram",
    "unet_trace_explorer",
    "unet_trace_figure",
]


ROW = 84  # vertical distance between two levels of the U
BOX_W = 196  # every double conv is drawn this wide, so the two sides of the U line up
SHIFT = 52  # how far each level down moves towards the middle
BOTTOM_GAP = 340  # horizontal distance from the deepest encoder box to the deepest concatenation
MAX_INPUT = 4096  # pixels: a larger tile draws the same U, only its numbers grow


def _double_conv_label(block: nn.Module) -> str:
    """The two convs of a level, "Conv 3×3, 64→128→128", with "+ BN" when each has a BatchNorm."""
    convs = [m for m in block.children() if isinstance(m, nn.Conv2d)]
    first = layer_label(convs[0])[0].split(",")[0]  # "Conv 3×3"
    channels = "→".join([str(convs[0].in_channels), *(str(c.out_channels) for c in convs)])
    norm = " + BN" if any(isinstance(m, nn.BatchNorm2d) for m in block.children()) else ""
    return f"{first}{norm}, {channels}"


@typechecked
def unet_diagram(model: UNet, input_size: int = 572) -> Diagram:
    """The U-Net `model` drawn as a U (Ronneberger et al. 2015, fig. 1), every size from a forward pass.

    The contracting path runs down the left, one box per level (its two convs, their channels,
    the spatial size in and out), max pooling between levels; the bottleneck sits at the bottom;
    the expanding path runs up the right, an up-convolution into each level, where the encoder's
    map is copied across (centre-cropped to the decoder's size for valid padding: "crop 64×64 →
    56×56") and concatenated ("C") before the level's two convs. Channels and kernels are read
    from the module; every spatial size comes from one traced forward pass of a zero image of
    `input_size` pixels, run on the model's own device (a model on the "meta" device costs
    nothing, so the paper's 31M-parameter network draws instantly).

    Args:
        model: a `rl.unet.UNet`.
        input_size: the height and width of the traced input (572 for the paper's tile), at most 4096.

    Raises:
        ValueError: an `input_size` the network cannot take (with the nearest sizes that work).
    """
    require_int(
        "input_size", input_size, minimum=1, maximum=MAX_INPUT, fix="the height (= width) of the input image"
    )
    try:
        unet_output_size(input_size, model.depth, model.padding)
    except ValueError as err:
        raise ValueError(f"input_size {input_size} does not fit this U-Net: {err}") from None
    first = next(model.parameters())
    in_channels = model.down[0][0].in_channels
    if first.device.type != "meta":  # the traced pass's peak, measured: about (32 + 5 width) maps of s x s
        width = model.down[0][0].out_channels  # (width 2, 1084 px: 182 MB; 8: 315 MB; 64 at 572: 333 MB)
        require_memory("input_size", input_size, (32 + 5 * width) * input_size**2 * first.element_size())
    x = torch.zeros(1, in_channels, input_size, input_size, device=first.device, dtype=first.dtype)
    out = {c.name: c for c in trace(model, x)}
    depth = model.depth
    bn = any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    fields = dict(
        depth=depth,
        padding=model.padding,
        size_in=spatial_label(out[""].inputs[0]),
        size_out=spatial_label(out[""].output),
    )
    d = Diagram(
        tr("U-Net, depth {depth}, {padding} padding: {size_in} → {size_out} (BN after each conv)", **fields)
        if bn
        else tr("U-Net, depth {depth}, {padding} padding: {size_in} → {size_out}", **fields)
    )
    half = BOX_W / 2
    ex = [i * SHIFT for i in range(depth)]  # encoder boxes, left side, moving in as they go down
    cx = [(depth - 1) * SHIFT + BOTTOM_GAP + (depth - 1 - i) * SHIFT for i in range(depth)]  # the "C"s
    dx = [c + half + 34 for c in cx]  # decoder boxes, right of their concatenation
    y = [i * ROW for i in range(depth + 1)]

    def level_box(px: float, py: float, name: str) -> Box:
        call = out[name]
        sub = f"{spatial_label(call.inputs[0])} → {spatial_label(call.output)}"
        return d.box(px, py, _double_conv_label(model.get_submodule(name)), sub=sub, w=BOX_W)

    # the input, at the top left
    image_label = tr("input {channels}×{size}", channels=in_channels, size=spatial_label(out[""].inputs[0]))
    image = d.box(ex[0], y[0] - ROW, image_label, kind="io")
    enc = []
    for i in range(depth):
        box = level_box(ex[i], y[i], f"down.{i}")
        if i == 0:
            d.arrow([image.bottom, box.top])
        enc.append(box)
    pool_k = _pair_int(model.pool.kernel_size)
    # max pooling between levels: a vertical arrow from level i into level i + 1
    for i in range(depth - 1):
        px = ex[i] + SHIFT / 2
        d.arrow([(px, enc[i].bottom[1]), (px, enc[i + 1].top[1])], colour=style.PURPLE)
        d.text(
            px + 6,
            (y[i] + y[i + 1]) / 2 + 4,
            f"MaxPool {pool_k}×{pool_k} → {spatial_label(out[f'down.{i + 1}'].inputs[0])}",
            size=10,
            anchor="start",
            colour=style.PURPLE,
        )
    # the bottleneck, at the bottom of the U
    bx = (ex[-1] + cx[-1]) / 2
    bottom = level_box(bx, y[depth], "bottleneck")
    d.arrow([enc[-1].bottom, (ex[-1], y[depth]), bottom.left], colour=style.PURPLE)
    d.text(
        ex[-1] + 6,
        (y[depth - 1] + y[depth]) / 2 + 4,
        f"MaxPool {pool_k}×{pool_k} → {spatial_label(out['bottleneck'].inputs[0])}",
        size=10,
        anchor="start",
        colour=style.PURPLE,
    )
    # the expanding path, bottom up: up-conv, copy (and crop), concatenate, two convs
    below = bottom
    for i in reversed(range(depth)):
        up_call = out[f"upconv.{i}"]
        label = f"{layer_label(model.upconv[i])[0]} → {spatial_label(up_call.output)}"
        top_y = y[i] + 11 if model.skips else y[i] + 19
        if i == depth - 1:
            d.arrow([below.right, (cx[i], y[depth]), (cx[i], top_y)], colour=style.PURPLE)
        else:
            d.arrow([(cx[i], below.top[1]), (cx[i], top_y)], colour=style.PURPLE)
        d.text(cx[i] - 6, (y[i] + y[i + 1]) / 2 + 4, label, size=10, anchor="end", colour=style.PURPLE)
        dec_name = f"up.{i}"
        if model.skips:
            join = d.node(cx[i], y[i], "C")
            enc_side, dec_side = spatial_label(out[f"down.{i}"].output), spatial_label(up_call.output)
            skip = (
                tr("copy and crop {encoder} → {decoder}", encoder=enc_side, decoder=dec_side)
                if enc_side != dec_side
                else tr("copy {encoder}", encoder=enc_side)
            )
            d.arrow([enc[i].right, join.left], label=skip, colour=style.RESIDUAL, width=2)
            start = join.right
        else:
            d.text(cx[i], y[i] + 4, tr("no skip"), size=10, colour=style.GREY, italic=True)
            start = (cx[i] + 26, y[i])
        box = level_box(dx[i], y[i], dec_name)
        d.arrow([start, box.left])
        below = box
    # the 1x1 head and the output, at the top right
    head_label, head_kind = layer_label(model.head)
    head = d.box(dx[0], y[0] - ROW, head_label, kind=head_kind)
    d.arrow([below.top, head.bottom])
    result_label = tr(
        "output {channels}×{size}", channels=out[""].output[1], size=spatial_label(out[""].output)
    )
    result = d.box(dx[0], y[0] - 2 * ROW, result_label, kind="io")
    d.arrow([head.top, result.bottom])
    d.text(
        bx,
        y[depth] + 44,
        tr("C: concatenate (the copied encoder map, then the up-convolved one)")
        if model.skips
        else tr("skips=False: the decoder sees only the bottleneck"),
        size=10,
        colour=style.GREY,
    )
    return d


def _pair_int(k: object) -> int:
    return int(k[0]) if isinstance(k, (tuple, list)) else int(k)


def _step_label(stage: str, level: int) -> str:
    """A size-trace step as its hover label reads: "encoder 2" (the stage names stay English in data)."""
    if stage == "encoder":
        return tr("encoder {level}", level=level)
    if stage == "bottleneck":
        return tr("bottleneck {level}", level=level)
    if stage == "up":
        return tr("up {level}", level=level)
    if stage == "decoder":
        return tr("decoder {level}", level=level)
    return tr("input")


def _trace_xy(size: int, depth: int, padding: str) -> tuple[list[str], list[int], str | None]:
    trace = unet_shape_trace(size, depth, padding)
    labels = [_step_label(r.stage, r.level) for r in trace.steps]
    return labels, [r.size for r in trace.steps], trace.problem


def _padding_name(padding: str, problem: str | None) -> str:
    """A size trace's legend name: "valid", or "valid (stops)" where its sizes stop working."""
    return padding if problem is None else tr("{padding} (stops)", padding=padding)


@typechecked
def unet_trace_figure(size: int = 572, depth: int = 4) -> go.Figure:
    """The spatial size after each step of a valid and a same U-Net; crops as bars.

    Traces (by key, see `find_trace`): "valid", "same" (the sizes), "crops".
    """
    fig = go.Figure()
    for padding, color in (("valid", PLAIN), ("same", RESIDUAL)):
        labels, sizes, problem = _trace_xy(size, depth, padding)
        fig.add_trace(
            go.Scatter(
                x=list(range(len(sizes))),
                y=sizes,
                mode="lines+markers+text",
                text=[str(s) for s in sizes],
                textposition="top center",
                name=_padding_name(padding, problem),
                line=dict(color=color),
                hovertext=labels,
                meta=padding,
            )
        )
    steps = unet_shape_trace(size, depth, "valid").steps
    fig.add_trace(
        go.Bar(
            x=[i for i, r in enumerate(steps) if r.crop],
            y=[r.crop for r in steps if r.crop],
            name=tr("valid: pixels cropped from the skip"),
            marker_color=LIGHT_RED,
            opacity=0.6,
            meta="crops",
        )
    )
    fig.update_layout(
        title=tr(
            "U-Net of depth {depth}: spatial size through the network, input {size}", depth=depth, size=size
        ),
        xaxis_title=tr("step (input, encoder levels, bottleneck, up/decoder levels)"),
        yaxis_title=tr("height = width (pixels)"),
        height=400,
        **LAYOUT,
    )
    return fig


@typechecked
def unet_trace_explorer(depth: int = 4) -> Explorer:
    """Notebook 09: input size -> the size trace through a valid and a same U-Net (never raises)."""
    figure = go.FigureWidget(unet_trace_figure(572, depth))

    def redraw(size: int) -> str:
        messages = []
        for padding in ("valid", "same"):
            labels, sizes, problem = _trace_xy(size, depth, padding)
            find_trace(figure, padding).update(
                x=list(range(len(sizes))),
                y=sizes,
                text=[str(s) for s in sizes],
                hovertext=labels,
                name=_padding_name(padding, problem),
            )
            messages.append(
                f"{padding}: {size} -> {sizes[-1]}"
                if problem is None
                else tr("{padding}: fails at {problem}", padding=padding, problem=problem)
            )
        steps = unet_shape_trace(size, depth, "valid").steps
        find_trace(figure, "crops").update(
            x=[i for i, r in enumerate(steps) if r.crop], y=[r.crop for r in steps if r.crop]
        )
        figure.layout.title.text = tr(
            "U-Net of depth {depth}: spatial size through the network, input {size}", depth=depth, size=size
        )
        return "; ".join(messages)

    controls = {"size": widgets.IntSlider(value=572, min=16, max=700, description=tr("input size"))}
    return Explorer(controls, figure, redraw, name="unet_trace_explorer")


register_explorer(unet_trace_explorer, lambda: dict(depth=4), ("size",), "09_unet_hourglass")


@typechecked
def segmentation_figure(
    x: torch.Tensor, mask: torch.Tensor, predictions: Mapping[str, torch.Tensor], n: int = 4
) -> go.Figure:
    """Rows: images, true masks, then one row of predicted masks per model (labels (N, H, W))."""
    require_real("x", x, ndim=4, fix="images (N, 1, H, W)")
    require_real("mask", mask, ndim=3, fix="masks (N, H, W)")
    if mask.shape != (x.shape[0], *x.shape[2:]):
        raise ValueError(
            f"mask {tuple(mask.shape)} must have one mask per image of x {tuple(x.shape)}, of its height "
            f"and width: shape {(x.shape[0], *x.shape[2:])}"
        )
    for name, p in predictions.items():
        require_real(f"predictions[{name!r}]", p, ndim=3, fix="predicted masks (N, H, W)")
        if p.shape != mask.shape:
            raise ValueError(
                f"predictions[{name!r}] {tuple(p.shape)} must have the shape of mask {tuple(mask.shape)}"
            )
    require_int("n", n, 1, len(x), fix=f"x holds {len(x)} images")
    rows = {"image": x[:n, 0], "true mask": mask[:n], **{k: v[:n] for k, v in predictions.items()}}
    titles = [{"image": tr("image"), "true mask": tr("true mask")}.get(name, name) for name in rows]
    fig = make_subplots(
        rows=len(rows), cols=n, row_titles=titles, horizontal_spacing=0.01, vertical_spacing=0.02
    )
    for r, (name, images) in enumerate(rows.items()):
        for c in range(n):
            trace = (
                image_trace(images[c]) if name == "image" else image_trace(images[c].float(), "Viridis", 0, 2)
            )
            fig.add_trace(trace, row=r + 1, col=c + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    fig.update_layout(
        height=150 * len(rows) + 60,
        width=150 * n + 120,
        title=tr("masks: 0 background, 1 disc, 2 square"),
        **LAYOUT,
    )
    return fig
