"""Stacked hourglass: the network drawn from its module, heat maps per stack, an explorer over them."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from reslib.hourglass import StackedHourglass
from reslib.language import tr
from reslib.scenes import heatmap_argmax, keypoints
from reslib.validate import require_int, typechecked
from reslib.viz import style
from reslib.viz.diagram import Box, Diagram, layer_label, spatial_label, trace
from reslib.viz.explorer import Explorer, find_trace, image_grid, image_trace, require_real
from reslib.viz.registry import register_explorer
from reslib.viz.style import BLUE, GREEN, LAYOUT, ORANGE

__all__ = [
    "heatmap_figure",
    "hourglass_diagram",
    "hourglass_explorer",
    "keypoint_grid_figure",
]


ROW = 66  # vertical distance between two resolutions inside an hourglass
SIDE_W = 132  # the width of a down (pool, R) and an up (R, upsample) box
STEP = SIDE_W / 2 + 34  # how far each resolution down moves towards the hourglass's middle
INNER_GAP = 250  # horizontal distance between the lowest down box and the lowest up box
MAX_INPUT = 1024  # pixels: a larger image draws the same hourglasses, only its numbers grow


def _chain_label(module: nn.Module) -> str:
    """A sequence of layers in one line: "Conv 3×3, 1→16, BN, ReLU, R" (R: a residual module)."""
    parts = []
    for child in module.children():
        label = layer_label(child)
        if label is None:
            continue
        name, kind = label
        if kind == "norm":
            name = "BN" if isinstance(child, nn.BatchNorm2d) else name
        elif kind == "block":
            name = "R"
        parts.append(name)
    return ", ".join(parts)


def _residual_legend(model: StackedHourglass) -> str:
    r = model.stem[-1]
    convs = [m for m in r.modules() if isinstance(m, nn.Conv2d)]
    widths = "→".join([str(convs[0].in_channels), *(str(c.out_channels) for c in convs)])
    kernels = ", ".join(f"{c.kernel_size[0]}×{c.kernel_size[1]}" for c in convs)
    return tr(
        "R: residual module, {block} {widths} (convs {kernels}) + identity",
        block=type(r).__name__,
        widths=widths,
        kernels=kernels,
    )


def _draw_hourglass(d: Diagram, hx: float, y0: float, order: int, prefix: str, out: dict) -> Box:
    """One hourglass of `order` with its entry at (hx, y0): down the left, up the right, skips across.

    Returns the last addition node, whose right side is the hourglass's output.
    """
    xl = [hx + (r - 1) * STEP for r in range(order + 2)]  # down boxes of row r (r >= 1)
    xr_n = xl[order] + INNER_GAP
    xr = [xr_n + (order - r) * STEP for r in range(order + 1)]  # up boxes of row r (r >= 1)
    y = [y0 + r * ROW for r in range(order + 1)]
    names = [prefix + ".inner" * r for r in range(order + 1)]  # the hourglass of each resolution
    downs, ups, pluses = {}, {}, {}
    for r in range(1, order + 1):
        down = out[f"{names[r - 1]}.down"]
        up = out[f"{names[r - 1]}.up"]
        downs[r] = d.box(
            xl[r],
            y[r],
            "MaxPool → R",
            kind="pool",
            sub=f"{spatial_label(out[names[r - 1]].inputs[0])} → {spatial_label(down.output)}",
            w=SIDE_W,
        )
        d.arrow([(xl[r], y[r - 1]), downs[r].top], colour=style.PURPLE)
        ups[r] = d.box(
            xr[r],
            y[r],
            "R → Upsample",
            kind="pool",
            sub=f"{spatial_label(up.output)} → {spatial_label(out[names[r - 1] + '.skip'].output)}",
            w=SIDE_W,
        )
    inner = out[names[order]]
    mid = d.box((xl[order] + xr[order]) / 2, y[order], "R", kind="block", sub=spatial_label(inner.output))
    d.arrow([downs[order].right, mid.left])
    d.arrow([mid.right, ups[order].left])
    for r in reversed(range(order)):
        skip = out[f"{names[r]}.skip"]
        start = (hx, y0) if r == 0 else downs[r].right
        box = d.box((xl[r + 1] + xr[r + 1]) / 2, y[r], "R", kind="block", sub=spatial_label(skip.output))
        d.arrow([start, box.left], colour=style.RESIDUAL, width=2)
        pluses[r] = d.node(xr[r + 1], y[r], "+")
        d.arrow([box.right, pluses[r].left], colour=style.RESIDUAL, width=2)
        d.arrow([ups[r + 1].top, pluses[r].bottom], colour=style.PURPLE)
        if r > 0:
            d.arrow([pluses[r].right, ups[r].left])
    return pluses[0]


@typechecked
def hourglass_diagram(model: StackedHourglass, input_size: int = 24) -> Diagram:
    """The stacked hourglass `model` drawn from its module (Newell et al. 2016), sizes from a forward pass.

    The stem at the top left; then each stack in turn: its hourglass as a symmetric shape (max
    pooling and a residual module R down the left, R and a 2x upsampling up the right, and at every
    resolution a skip branch through its own R that is *added* back), the stack's features, the
    1x1 head and its heat maps, marked as supervised (every stack's heat maps go to the loss:
    intermediate supervision). Between stacks, the next stack's input is the previous one's input
    plus 1x1 convs of its features and of its heat maps. Channels and kernels are read from the
    module; every spatial size comes from one traced forward pass of a zero image of
    `input_size` pixels on the model's device.

    Args:
        model: a `rl.hourglass.StackedHourglass`.
        input_size: the height and width of the traced input; a multiple of 2^order, at most 1024.

    Raises:
        ValueError: an `input_size` the hourglasses cannot halve `order` times.
    """
    require_int(
        "input_size", input_size, minimum=1, maximum=MAX_INPUT, fix="the height (= width) of the input image"
    )
    if input_size % 2**model.order:
        raise ValueError(
            f"input_size must be a multiple of 2^order = {2**model.order} (each order halves the map), "
            f"got {input_size}"
        )
    first = next(model.parameters())
    stem_conv = model.stem[0]
    x = torch.zeros(1, stem_conv.in_channels, input_size, input_size, device=first.device, dtype=first.dtype)
    out = {c.name: c for c in trace(model, x)}
    order, stacks = model.order, model.num_stacks
    channels = stem_conv.out_channels
    fields = dict(stacks=stacks, order=order, channels=channels, size=input_size)
    d = Diagram(
        tr(
            "Stacked hourglass: {stacks} stacks of order {order}, {channels} channels, input {size}×{size}",
            **fields,
        )
        if stacks > 1
        else tr(
            "Stacked hourglass: {stacks} stack of order {order}, {channels} channels, input {size}×{size}",
            **fields,
        )
    )
    hx = 0.0
    width = (order - 1) * STEP * 2 + INNER_GAP + 11  # from an hourglass's entry to its last "+"
    band = max(order * ROW + 20, 2 * 70) + 110
    stem_label = _chain_label(model.stem)
    stem_x = hx - 60 - (len(stem_label) * 7.2 + 16) / 2
    image_label = tr(
        "input {channels}×{size}", channels=stem_conv.in_channels, size=spatial_label(out[""].inputs[0])
    )
    image = d.box(stem_x, -70, image_label, kind="io")
    stem = d.box(stem_x, 0, stem_label, kind="layer", sub=spatial_label(out["stem"].output))
    d.arrow([image.bottom, stem.top])
    d.arrow([stem.right, (hx, 0.0)], head=False)
    for s in range(stacks):
        y0 = s * band
        d.region(hx - 24, y0 - 22, hx + width + 12, y0 + order * ROW + 40, label=None)
        d.text(
            hx - 18,
            y0 + order * ROW + 24,
            tr("hourglass {number}", number=s + 1),
            size=10,
            anchor="start",
            colour=style.GREY,
        )
        last = _draw_hourglass(d, hx, y0, order, f"hourglasses.{s}", out)
        feature_label = _chain_label(model.features[s])
        fw = len(feature_label) * 7.2 + 16
        fx = hx + width + 50 + fw / 2
        features = d.box(fx, y0, feature_label, sub=spatial_label(out[f"features.{s}"].output))
        d.arrow([last.right, features.left])
        head_label, head_kind = layer_label(model.heads[s])
        head = d.box(fx, y0 + 70, head_label, kind=head_kind)
        d.arrow([features.bottom, head.top])
        final = s == stacks - 1
        maps = out[f"heads.{s}"].output
        heat = d.box(
            fx,
            y0 + 140,
            tr("heat maps {maps}×{size}", maps=maps[1], size=spatial_label(maps)),
            kind="io",
            sub=tr("stack {number}: to the loss; the prediction", number=s + 1)
            if final
            else tr("stack {number}: to the loss", number=s + 1),
        )
        d.arrow([head.bottom, heat.top])
        if final:
            break
        mx = fx + fw / 2 + 120
        merge = d.node(mx, y0, "+")
        d.arrow([features.right, merge.left], label=layer_label(model.merge_features[s])[0])
        d.arrow([heat.right, (mx, y0 + 140), merge.bottom])
        d.text(mx - 6, y0 + 104, layer_label(model.merge_heatmaps[s])[0], size=10, anchor="end")
        d.arrow(
            [(hx, y0), (hx, y0 - 40), (mx, y0 - 40), merge.top], label=tr("identity"), colour=style.RESIDUAL
        )
        down_y = y0 + band - 75
        d.arrow(
            [
                merge.right,
                (mx + 30, y0),
                (mx + 30, down_y),
                (hx - 44, down_y),
                (hx - 44, y0 + band),
                (hx, y0 + band),
            ],
            head=False,
        )
    d.text(
        hx,
        (stacks - 1) * band + band - 50,
        tr(
            "{residual}; + adds; each stack's heat maps are supervised (intermediate supervision)",
            residual=_residual_legend(model),
        ),
        size=10,
        anchor="start",
        colour=style.GREY,
    )
    return d


def _require_matching(
    x: torch.Tensor,
    heatmaps: torch.Tensor,
    coords: torch.Tensor,
    x_name: str,
    maps_name: str,
    coords_name: str,
) -> None:
    """Images (.., 1, H, W), heat maps (.., K, H, W) and keypoints (.., K, 2) of the same examples.

    The keypoints and the heat maps' maxima are drawn on the image in its pixels, so the heat maps
    must have the image's size; each keypoint (row, column) has its own heat map.
    """
    if heatmaps.shape[-2:] != x.shape[-2:] or heatmaps.shape[:-3] != x.shape[:-3]:
        raise ValueError(
            f"{maps_name} {tuple(heatmaps.shape)} must have the examples and the height and width of "
            f"{x_name} {tuple(x.shape)}: one heat map per keypoint, of the image's size"
        )
    if coords.shape[-1] != 2 or coords.shape[:-1] != heatmaps.shape[:-2]:
        raise ValueError(
            f"{coords_name} {tuple(coords.shape)} must hold one (row, column) pair per heat map of "
            f"{maps_name} {tuple(heatmaps.shape)}: shape {(*heatmaps.shape[:-2], 2)}"
        )


def _keypoint_names() -> tuple[str, str]:
    """The keypoints of `rl.scenes.keypoints`, as a figure names them."""
    return tr("disc centre"), tr("square centre")


def _marker_name(kind: str, name: object) -> str:
    """A legend entry: "true disc centre" (`kind` "true") or "predicted disc centre" ("predicted")."""
    return tr("true {name}", name=name) if kind == "true" else tr("predicted {name}", name=name)


@typechecked
def heatmap_figure(
    x: torch.Tensor,
    heatmaps: torch.Tensor,
    coords: torch.Tensor,
    names: Sequence[str] | None = None,
) -> go.Figure:
    """One image, its predicted heat maps (one per keypoint), true (o) and argmax (x) keypoints.

    `names` titles the heat maps, one per keypoint: by default "disc centre", "square centre".

    Traces (by key, see `find_trace`): "image", "heat map <j>" per keypoint j, and its markers
    "true <j> on image", "predicted <j> on image", "true <j> on heat map", "predicted <j> on heat map".
    """
    require_real("x", x, ndim=3, fix="one image (1, H, W)")
    require_real("heatmaps", heatmaps, ndim=3, fix="one image's heat maps (K, H, W)")
    require_real("coords", coords, ndim=2, fix="one image's keypoints (K, 2)")
    _require_matching(x, heatmaps, coords, "x", "heatmaps", "coords")
    k = heatmaps.shape[0]
    names = _keypoint_names() if names is None else names
    fig = make_subplots(rows=1, cols=k + 1, subplot_titles=[tr("image"), *names[:k]])
    h = x.shape[-1]
    fig.add_trace(image_trace(x[0]).update(meta="image"), row=1, col=1)
    pred = heatmap_argmax(heatmaps[None])[0]
    for j in range(k):
        fig.add_trace(image_trace(heatmaps[j], "Hot").update(meta=f"heat map {j}"), row=1, col=j + 2)
    markers = (
        ("true", coords, dict(symbol="circle-open", size=12, color=BLUE)),  # target
        ("predicted", pred, dict(symbol="x", size=10, color=GREEN)),
    )  # predicted maximum
    for j in range(k):
        for col in (1, j + 2):
            for kind, points, marker in markers:
                point = go.Scatter(
                    x=[float(points[j, 1])],
                    y=[h - 1 - float(points[j, 0])],
                    mode="markers",
                    marker=marker,
                    showlegend=False,
                    meta=f"{kind} {j} on {'image' if col == 1 else 'heat map'}",
                )
                fig.add_trace(point, row=1, col=col)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    fig.update_layout(
        height=300, width=260 * (k + 1), title=tr("o true keypoint, x heat-map maximum"), **LAYOUT
    )
    return fig


@typechecked
def keypoint_grid_figure(
    x: torch.Tensor,
    heatmaps: torch.Tensor,
    coords: torch.Tensor,
    n: int = 8,
    names: Sequence[str] | None = None,
) -> go.Figure:
    """The first `n` images, each with its true keypoints (o) and the heat maps' maxima (x).

    One colour per keypoint (blue: the first, orange: the second), so a swap shows as a blue x on
    the orange o. Each title gives the two errors in pixels. `names` names the keypoints in the
    legend: by default "disc centre", "square centre".

    Traces (by key, see `find_trace`): "image <i>", and "true <j> in <i>", "predicted <j> in <i>".
    """
    require_real("x", x, ndim=4, fix="images (N, 1, H, W)")
    require_real("heatmaps", heatmaps, ndim=4, fix="predicted heat maps (N, K, H, W)")
    require_real("coords", coords, ndim=3, fix="true keypoints (N, K, 2)")
    _require_matching(x, heatmaps, coords, "x", "heatmaps", "coords")
    require_int("n", n, 1, len(x), fix=f"x holds {len(x)} images")
    names = _keypoint_names() if names is None else names
    x, heatmaps, coords = x[:n].detach().cpu(), heatmaps[:n].detach().cpu(), coords[:n].detach().cpu()
    pred = heatmap_argmax(heatmaps)  # (n, K, 2) rows and columns
    err = (pred - coords).norm(dim=-1)  # (n, K)
    cols = min(n, 4)
    rows = -(-n // cols)
    titles = [", ".join(f"{e:.0f}" for e in err[i].tolist()) + " px" for i in range(n)]
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.02, vertical_spacing=0.08
    )
    h = x.shape[-1]
    colors = (BLUE, ORANGE)
    for i in range(n):
        r, c = i // cols + 1, i % cols + 1
        fig.add_trace(image_trace(x[i, 0]).update(meta=f"image {i}"), row=r, col=c)
        for j in range(heatmaps.shape[1]):
            color = colors[j % len(colors)]
            for kind, points, symbol in (("true", coords, "circle-open"), ("predicted", pred, "x")):
                point = go.Scatter(
                    x=[float(points[i, j, 1])],
                    y=[h - 1 - float(points[i, j, 0])],
                    mode="markers",
                    marker=dict(symbol=symbol, size=12 if kind == "true" else 9, color=color, line_width=2),
                    name=_marker_name(kind, names[j] if j < len(names) else j),
                    legendgroup=f"{kind} {j}",
                    showlegend=i == 0,
                    meta=f"{kind} {j} in {i}",
                )
                fig.add_trace(point, row=r, col=c)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    fig.update_layout(
        height=190 * rows + 90,
        width=170 * cols + 200,
        title=tr("o true keypoint, x heat-map maximum; titles: errors in pixels"),
        **LAYOUT,
    )
    return fig


@typechecked
def hourglass_explorer(x: torch.Tensor, outputs: Sequence[torch.Tensor], coords: torch.Tensor) -> Explorer:
    """Notebook 09: stack -> that stack's heat maps (precomputed) for one example.

    Args:
        x: images (N, 1, H, W).
        outputs: per stack, predicted heat maps (N, K, H, W), computed once.
        coords: true keypoints (N, K, 2).
    """
    require_real("x", x, ndim=4, fix="images (N, 1, H, W)")
    require_real("coords", coords, ndim=3, fix="keypoints (N, K, 2)")
    for i, o in enumerate(outputs):
        require_real(f"outputs[{i}]", o, ndim=4, fix="heat maps (N, K, H, W) per stack")
        _require_matching(x, o, coords, "x", f"outputs[{i}]", "coords")
    if not outputs:
        raise ValueError("outputs must hold the heat maps of at least one stack")
    outputs = [o.detach().cpu() for o in outputs]
    x, coords = x.detach().cpu(), coords.detach().cpu()
    figure = go.FigureWidget(heatmap_figure(x[0], outputs[-1][0], coords[0]))
    k = outputs[0].shape[1]

    def redraw(stack: int, example: int) -> str:
        heat = outputs[stack - 1][example]
        pred = heatmap_argmax(heat[None])[0]
        h = x.shape[-1]
        find_trace(figure, "image").update(z=image_grid(x[example, 0]))
        for j in range(k):
            find_trace(figure, f"heat map {j}").update(z=image_grid(heat[j]))
            for where in ("image", "heat map"):
                find_trace(figure, f"true {j} on {where}").update(
                    x=[float(coords[example, j, 1])], y=[h - 1 - float(coords[example, j, 0])]
                )
                find_trace(figure, f"predicted {j} on {where}").update(
                    x=[float(pred[j, 1])], y=[h - 1 - float(pred[j, 0])]
                )
        err = (pred - coords[example]).norm(dim=-1)
        return tr(
            "stack {stack} of {stacks}, example {example}: keypoint errors {errors} pixels",
            stack=stack,
            stacks=len(outputs),
            example=example,
            errors=", ".join(f"{e:.1f}" for e in err.tolist()),
        )

    controls = {
        "stack": widgets.IntSlider(value=len(outputs), min=1, max=len(outputs), description=tr("stack")),
        "example": widgets.IntSlider(value=0, min=0, max=len(x) - 1, description=tr("example")),
    }
    return Explorer(controls, figure, redraw, name="hourglass_explorer")


def _hourglass_demo() -> dict:
    """Notebook 09's sizes with random heat maps where the notebook passes its trained hourglass's.

    20 test scenes of 24x24, two keypoints, two stacks.
    An update draws whichever heat maps it is given; random ones cost the same as trained ones.
    """
    scenes = keypoints(20, 24, seed=0)
    gen = torch.Generator().manual_seed(0)
    outputs = [torch.rand(20, 2, 24, 24, generator=gen) for _ in range(2)]
    return dict(x=scenes.x, outputs=outputs, coords=scenes.coords)


register_explorer(hourglass_explorer, _hourglass_demo, ("example",), "09_unet_hourglass")
