"""Architecture diagrams as SVG, drawn from the model a notebook builds.

A figure of a block or a network that is typed by hand drifts from the code the moment a width
changes. The diagrams of the series are built the other way round: a topic module's `*_diagram`
function takes the `nn.Module` (or the spec) the notebook built, reads its layer names, channel
counts and strides from the module, traces a forward pass for the tensor sizes (`trace`), and
places boxes, arrows and labels on a `Diagram`. The result is plain SVG (`image/svg+xml`), which
JupyterLab, RISE slides, `nbconvert --to html`, the static site, GitHub and nbviewer all show
without a kernel or a script.

`Diagram` is deliberately small: boxes (a layer, a norm, an activation...), round nodes (the
residual addition, a concatenation), polyline arrows with an optional label, text and dashed
regions. Coordinates are SVG user units (y grows downwards); the canvas grows to hold what is
drawn. `texts()` lists every label, which is what the tests compare with the module.

Example:
    >>> d = Diagram("a residual block")
    >>> x = d.box(100, 20, "x", kind="io")
    >>> f = d.box(100, 80, "Linear 64→64")
    >>> add = d.node(100, 140, "+")
    >>> d.arrow([x.bottom, f.top]); d.arrow([f.bottom, add.top])
    >>> d.arrow([x.right, (170, x.y), (170, add.y), add.right], label="identity")
    >>> "Linear 64→64" in d.texts()
    True
"""

from __future__ import annotations

import dataclasses
import html
import math
import unicodedata
from collections.abc import Sequence

import torch
from torch import nn

from reslib.language import tr
from reslib.runtime import local_seed
from reslib.validate import require_choice, require_float, require_type, typechecked
from reslib.viz import style

__all__ = [
    "BOX_KINDS",
    "Box",
    "Call",
    "Diagram",
    "layer_label",
    "shape_label",
    "side_by_side",
    "spatial_label",
    "trace",
]

# What a box's colour says, the same in every diagram: kind -> (fill, stroke), from the style module.
BOX_KINDS = style.DIAGRAM_BOXES
NODE_FILL = style.WHITE
FONT = "Helvetica, Arial, sans-serif"
CHAR_WIDTH = 0.6  # an average glyph's width per unit of font size, for sizing a box to its label
WIDE_CHAR_WIDTH = 1.0  # a wide glyph's (Hangul, CJK): about one font size, so a Korean label fits its box
MARGIN = 12


@typechecked  # fields checked on construction
@dataclasses.dataclass(frozen=True)
class Box:
    """A drawn box or node: centre (`x`, `y`), width and height; its sides as anchor points."""

    x: float
    y: float
    w: float
    h: float

    def __post_init__(self) -> None:  # a NaN coordinate would draw nothing, without a word
        for name in ("x", "y"):
            require_float(f"Box: {name}", getattr(self, name))
        for name in ("w", "h"):
            require_float(f"Box: {name}", getattr(self, name), minimum=0.0, fix="a width or height in pixels")

    @property
    def top(self) -> tuple[float, float]:
        return (self.x, self.y - self.h / 2)

    @property
    def bottom(self) -> tuple[float, float]:
        return (self.x, self.y + self.h / 2)

    @property
    def left(self) -> tuple[float, float]:
        return (self.x - self.w / 2, self.y)

    @property
    def right(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y)


def _n(v: float) -> str:
    """A coordinate as SVG text: one decimal at most, so the same drawing is the same bytes."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _text_width(text: str, size: float) -> float:
    wide = sum(unicodedata.east_asian_width(c) in ("W", "F") for c in text)
    return len(text) * size * CHAR_WIDTH + wide * size * (WIDE_CHAR_WIDTH - CHAR_WIDTH)


@typechecked
class Diagram:
    """An SVG drawing of boxes, nodes, arrows and labels that shows itself in a notebook.

    Args:
        title: a heading drawn above everything else (optional).

    Every method returns what it drew (`Box` for boxes and nodes), so a layout reads as the
    architecture: `f = d.box(...)`, then `d.arrow([x.bottom, f.top])`.
    """

    def __init__(self, title: str | None = None):
        self.title = title
        self._shapes: list[tuple] = []  # ("rect"|"circle"|"line"|"text"|"poly", params...)
        self._texts: list[str] = []
        self._bounds = [math.inf, math.inf, -math.inf, -math.inf]  # x0, y0, x1, y1

    # -- drawing --------------------------------------------------------------------------------

    def _grow(self, x0: float, y0: float, x1: float, y1: float) -> None:
        b = self._bounds
        b[0], b[1], b[2], b[3] = min(b[0], x0), min(b[1], y0), max(b[2], x1), max(b[3], y1)

    @typechecked
    def box(
        self,
        x: float,
        y: float,
        label: str,
        *,
        kind: str = "layer",
        sub: str | None = None,
        w: float | None = None,
        h: float | None = None,
    ) -> Box:
        """A rounded box centred at (x, y) with `label` (and a smaller second line `sub`).

        Args:
            kind: what the box is, which sets its colour: one of `BOX_KINDS`.
            w, h: the size; by default just wide enough for the label, 26 high (38 with `sub`).
        """
        require_choice("kind", kind, BOX_KINDS)
        if w is None:
            w = max(_text_width(label, 12), _text_width(sub or "", 10)) + 16
        if h is None:
            h = 38.0 if sub else 26.0
        require_float("w", w, minimum=0.0, strict_minimum=True)
        require_float("h", h, minimum=0.0, strict_minimum=True)
        fill, stroke = BOX_KINDS[kind]
        self._shapes.append(("rect", x - w / 2, y - h / 2, w, h, fill, stroke, kind == "block"))
        self._grow(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
        if sub:
            self.text(x, y - 3, label, size=12)
            self.text(x, y + 12, sub, size=10, colour=style.GREY)
        else:
            self.text(x, y + 4, label, size=12)
        return Box(x, y, w, h)

    @typechecked
    def node(self, x: float, y: float, symbol: str = "+", r: float = 11.0) -> Box:
        """A round node at (x, y): "+" for the residual addition, "C" for a concatenation."""
        require_float("r", r, minimum=0.0, strict_minimum=True)
        self._shapes.append(("circle", x, y, r))
        self._grow(x - r, y - r, x + r, y + r)
        self.text(x, y + 5, symbol, size=15, bold=True)
        return Box(x, y, 2 * r, 2 * r)

    @typechecked
    def arrow(
        self,
        points: Sequence[tuple[float, float]],
        *,
        label: str | None = None,
        colour: str = style.DARK_GREY,
        dashed: bool = False,
        head: bool = True,
        width: float = 1.5,
    ) -> None:
        """A polyline through `points` with an arrowhead at the last one.

        `label` is written beside the middle of the longest segment (a tensor's size, "identity").
        """
        if len(points) < 2:
            raise ValueError(f"points must hold at least two (x, y) points, got {len(points)}")
        pts = [(float(px), float(py)) for px, py in points]
        self._shapes.append(("line", pts, colour, dashed, width))
        for px, py in pts:
            self._grow(px, py, px, py)
        if head:
            (x0, y0), (x1, y1) = pts[-2], pts[-1]
            angle = math.atan2(y1 - y0, x1 - x0)
            tip = [
                (x1 - 8 * math.cos(angle + s * 0.45), y1 - 8 * math.sin(angle + s * 0.45)) for s in (-1, 1)
            ]
            self._shapes.append(("poly", [(x1, y1), *tip], colour))
        if label:
            i = max(range(len(pts) - 1), key=lambda k: math.dist(pts[k], pts[k + 1]))
            (ax, ay), (bx, by) = pts[i], pts[i + 1]
            mx, my = (ax + bx) / 2, (ay + by) / 2
            if abs(bx - ax) >= abs(by - ay):  # horizontal: the label above the line
                self.text(mx, my - 5, label, size=10, colour=colour)
            else:  # vertical: the label to the right
                self.text(mx + 6, my + 4, label, size=10, colour=colour, anchor="start")

    @typechecked
    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        size: float = 12,
        anchor: str = "middle",
        colour: str = style.DARK_GREY,
        bold: bool = False,
        italic: bool = False,
    ) -> None:
        """`text` with its baseline at y, anchored at x ("start", "middle" or "end")."""
        require_choice("anchor", anchor, ("start", "middle", "end"))
        self._shapes.append(("text", x, y, text, size, anchor, colour, bold, italic))
        self._texts.append(text)
        w = _text_width(text, size)
        x0 = {"start": x, "middle": x - w / 2, "end": x - w}[anchor]
        self._grow(x0, y - size, x0 + w, y + size * 0.3)

    @typechecked
    def region(self, x0: float, y0: float, x1: float, y1: float, label: str | None = None) -> None:
        """A dashed rectangle from (x0, y0) to (x1, y1) around a group (a block, a stage).

        `label` is written outside it, to the right of its middle, where it cannot cover a box.
        """
        self._shapes.append(("region", x0, y0, x1 - x0, y1 - y0))
        self._grow(x0, y0, x1, y1)
        if label:
            self.text(
                x1 + 6, (y0 + y1) / 2 + 4, label, size=10, anchor="start", colour=style.GREY, italic=True
            )

    # -- output ---------------------------------------------------------------------------------

    def texts(self) -> list[str]:
        """Every label on the drawing, in the order drawn (the title first, if any)."""
        return ([self.title] if self.title else []) + list(self._texts)

    def _shifted(self, dx: float, dy: float) -> list[tuple]:
        out = []
        for s in self._shapes:
            kind = s[0]
            if kind in ("rect", "circle", "text", "region"):
                out.append((kind, s[1] + dx, s[2] + dy, *s[3:]))
            elif kind == "line":
                out.append((kind, [(px + dx, py + dy) for px, py in s[1]], *s[2:]))
            else:  # poly
                out.append((kind, [(px + dx, py + dy) for px, py in s[1]], *s[2:]))
        return out

    def to_svg(self) -> str:
        """The drawing as a standalone SVG document (no scripts, no external references)."""
        if not self._shapes:
            raise ValueError("the diagram is empty: draw a box, a node or an arrow first")
        x0, y0, x1, y1 = self._bounds
        top = 26 if self.title else 0
        width, height = x1 - x0 + 2 * MARGIN, y1 - y0 + 2 * MARGIN + top
        title_width = _text_width(self.title, 14) + 2 * MARGIN if self.title else 0.0
        pad = max(0.0, (title_width - width) / 2)  # a title wider than the drawing: centre the drawing
        width += 2 * pad
        dx, dy = MARGIN + pad - x0, MARGIN + top - y0
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}" '
            f'viewBox="0 0 {_n(width)} {_n(height)}" font-family="{FONT}" role="img">',
            f"<title>{html.escape(self.title or tr('diagram'))}</title>",
            f'<rect x="0" y="0" width="{_n(width)}" height="{_n(height)}" fill="{style.WHITE}"/>',
        ]
        if self.title:
            parts.append(
                f'<text x="{_n(width / 2)}" y="{_n(MARGIN + 12)}" font-size="14" font-weight="bold" '
                f'text-anchor="middle" fill="{style.DARK_GREY}">{html.escape(self.title)}</text>'
            )
        for s in self._shifted(dx, dy):
            parts.append(_render(s))
        parts.append("</svg>")
        return "\n".join(parts)

    def _repr_svg_(self) -> str:
        return self.to_svg()

    def __repr__(self) -> str:
        return f"Diagram({self.title!r}, {len(self._shapes)} shapes)"


def _render(s: tuple) -> str:
    kind = s[0]
    if kind == "rect":
        _, x, y, w, h, fill, stroke, thick = s
        return (
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="5" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{2 if thick else 1.2}"/>'
        )
    if kind == "circle":
        _, x, y, r = s
        return (
            f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="{NODE_FILL}" '
            f'stroke="{style.DARK_GREY}" stroke-width="1.5"/>'
        )
    if kind == "region":
        _, x, y, w, h = s
        return (
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="8" fill="none" '
            f'stroke="{style.LIGHT_GREY}" stroke-dasharray="5,4"/>'
        )
    if kind == "line":
        _, pts, colour, dashed, width = s
        d = " ".join(f"{_n(px)},{_n(py)}" for px, py in pts)
        dash = ' stroke-dasharray="5,4"' if dashed else ""
        return f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="{_n(width)}"{dash}/>'
    if kind == "poly":
        _, pts, colour = s
        d = " ".join(f"{_n(px)},{_n(py)}" for px, py in pts)
        return f'<polygon points="{d}" fill="{colour}"/>'
    _, x, y, text, size, anchor, colour, bold, italic = s
    extra = (' font-weight="bold"' if bold else "") + (' font-style="italic"' if italic else "")
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" text-anchor="{anchor}" '
        f'fill="{colour}"{extra}>{html.escape(text)}</text>'
    )


@typechecked
def side_by_side(diagrams: Sequence[Diagram], gap: float = 40.0, title: str | None = None) -> Diagram:
    """One diagram holding `diagrams` left to right, tops aligned, each keeping its own title.

    For comparisons: a plain layer beside a residual block, post- beside pre-activation.
    """
    if not diagrams:
        raise ValueError("diagrams must hold at least one Diagram, got none")
    require_float("gap", gap, minimum=0.0)
    out = Diagram(title)
    x = 0.0
    for i, d in enumerate(diagrams):
        require_type(f"diagrams[{i}]", d, Diagram)
        if not d._shapes:
            raise ValueError(f"diagrams[{i}] is empty: draw something on it first")
        x0, y0, x1, y1 = d._bounds
        top = 24.0 if d.title else 0.0
        dx, dy = x - x0, top - y0
        if d.title:
            out.text(x + (x1 - x0) / 2, 12, d.title, size=13, bold=True)
        out._shapes += d._shifted(dx, dy)
        out._texts += d._texts
        out._grow(x, 0.0, x + x1 - x0, top + y1 - y0)
        x += x1 - x0 + gap
    return out


# ---------------------------------------------------------------------------------------------
# Reading a model: what each submodule received and returned
# ---------------------------------------------------------------------------------------------


@typechecked  # fields checked on construction
@dataclasses.dataclass(frozen=True)
class Call:
    """One call of a submodule during `trace`: its qualified name, the module, input and output sizes.

    `inputs` holds the shape of every tensor argument; `output` the shape of the tensor returned
    (None when it returned something else, such as a list of heat maps).
    """

    name: str
    module: nn.Module
    inputs: tuple[tuple[int, ...], ...]
    output: tuple[int, ...] | None


def _shape(value: object) -> tuple[int, ...] | None:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else None


@typechecked
def trace(module: nn.Module, inputs: torch.Tensor | Sequence[torch.Tensor]) -> list[Call]:
    """Run `module(inputs)` once and record every submodule call, in the order the calls started.

    `inputs` is the input tensor, or a sequence of them for a module taking several
    (`module(*inputs)`).

    The forward pass runs in eval mode under `no_grad`, on the global RNG's copy: batch norm's
    running statistics, dropout and the notebook's random numbers are left as they were, and
    each submodule's train/eval mode is given back. A submodule called twice (a shared ReLU)
    appears twice. The root module is the call named "".
    """
    inputs = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    if not inputs:
        raise ValueError("inputs must be a tensor or a non-empty sequence of tensors, got an empty sequence")
    calls: list[list] = []
    handles = []
    modes = {m: m.training for m in module.modules()}

    def before(name: str):
        def hook(mod: nn.Module, args: tuple) -> None:
            shapes = tuple(_shape(a) for a in args if isinstance(a, torch.Tensor))
            calls.append([name, mod, shapes, None])
            mod._reslib_trace_stack = getattr(mod, "_reslib_trace_stack", []) + [len(calls) - 1]

        return hook

    def after(mod: nn.Module, args: tuple, output: object) -> None:
        index = mod._reslib_trace_stack.pop()
        calls[index][3] = _shape(output)

    try:
        for name, mod in module.named_modules():
            handles.append(mod.register_forward_pre_hook(before(name)))
            handles.append(mod.register_forward_hook(after))
        module.eval()
        with torch.no_grad(), local_seed(None):
            try:
                module(*inputs)
            except (RuntimeError, TypeError, ValueError, IndexError) as exc:
                shapes = ", ".join(f"{tuple(t.shape)} {t.dtype}" for t in inputs)
                raise ValueError(
                    f"inputs: {type(module).__name__} could not run on inputs {shapes}: {exc}. "
                    "Pass the input the model is built for (float, with a batch axis)."
                ) from exc
    finally:
        for h in handles:
            h.remove()
        for mod, training in modes.items():
            mod.training = training
            if hasattr(mod, "_reslib_trace_stack"):
                del mod._reslib_trace_stack
    return [Call(*c) for c in calls]


@typechecked
def shape_label(shape: Sequence[int], batch: bool = False) -> str:
    """A tensor size as a diagram writes it: "64×32×32" for (N, 64, 32, 32); `batch=True` keeps N."""
    dims = list(shape) if batch else list(shape)[1:]
    if not dims:
        raise ValueError(f"shape must have a dimension besides the batch, got {tuple(shape)!r}")
    return "×".join(str(int(d)) for d in dims)


@typechecked
def spatial_label(shape: Sequence[int] | None) -> str:
    """The spatial size of a traced (N, C, *S) tensor as a diagram writes it: "572×572"."""
    if shape is None or len(shape) < 3:
        raise ValueError(f"shape must be a traced (N, C, H, W) or (N, C, L) size, got {shape!r}")
    return "×".join(str(int(v)) for v in shape[2:])


_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)
_ACTS = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.LeakyReLU)
_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)


def _pair(v: object) -> str:
    v = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    return "×".join(str(int(k)) for k in v)


@typechecked
def layer_label(module: nn.Module) -> tuple[str, str] | None:
    """How a diagram names a layer, read from the module: (label, kind), or None for `nn.Identity`.

    A convolution shows its kernel, channels and stride ("Conv 3×3, 64→128, /2"), a linear layer
    its features ("Linear 40→64"), a norm its kind, an activation its name. Any other module is
    drawn as a "block" box with its class name.
    """
    if isinstance(module, nn.Identity):
        return None
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d)):
        name = "Up-conv" if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d)) else "Conv"
        stride = max(module.stride)
        down = f", /{stride}" if stride > 1 and name == "Conv" else ""
        return (
            f"{name} {_pair(module.kernel_size)}, {module.in_channels}→{module.out_channels}{down}",
            "layer",
        )
    if isinstance(module, nn.Linear):
        return f"Linear {module.in_features}→{module.out_features}", "layer"
    if isinstance(module, _NORMS):
        name = {"BatchNorm1d": "BatchNorm", "BatchNorm2d": "BatchNorm"}.get(type(module).__name__)
        if isinstance(module, nn.GroupNorm):
            name = tr("GroupNorm ({groups} groups)", groups=module.num_groups)
        return name or type(module).__name__, "norm"
    if isinstance(module, _ACTS):
        return type(module).__name__, "act"
    if isinstance(module, _POOLS):
        return type(module).__name__.replace("Adaptive", "Global ").rstrip("12d").strip(), "pool"
    return type(module).__name__, "block"
