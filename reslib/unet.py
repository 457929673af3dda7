r"""U-Net (Ronneberger et al. 2015): an encoder-decoder whose skips *concatenate*.

The encoder halves the resolution `depth` times to see more context; the
decoder doubles it back. The skips hand the decoder the encoder's
high-resolution detail: U-Net *concatenates* the (cropped) encoder map,
$d_i = D_i([\mathrm{crop}(e_i), \mathrm{up}(d_{i+1})])$; an hourglass *adds*
a branch that went through its own residual module,
$y = R(x) + \mathrm{up}(g(\mathrm{pool}(x)))$ (see `reslib.hourglass`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from reslib.guard import require_input
from reslib.validate import require_bool, require_choice, require_int, require_tensor, sized, typechecked

__all__ = [
    "ShapeTrace",
    "TraceStep",
    "UNet",
    "center_crop",
    "segmentation_loss",
    "unet_output_size",
    "unet_shape_trace",
]

PADDINGS = ("valid", "same")
MAX_DEPTH = 16  # 2x downsamplings: a 65,536-pixel image reaches one pixel
_PADDING_FIX = "'valid' (no padding, crop the skips) or 'same' (zero padding)"


_STAGES = ("input", "encoder", "bottleneck", "up", "decoder")  # the steps of a size trace


# The two records below are built by the hundred thousand when a U-Net lists the sizes it takes
# (`_nearest`), so they check their fields with plain isinstance, not @typechecked (30x cheaper).
@dataclass(frozen=True)
class TraceStep:
    """One step of a U-Net's size trace: stage, level, spatial size, pixels cropped from the skip."""

    stage: str
    level: int
    size: int
    crop: int

    def __post_init__(self) -> None:
        if self.stage not in _STAGES or not isinstance(self.stage, str):
            raise (ValueError if isinstance(self.stage, str) else TypeError)(
                f"TraceStep: stage must be one of {', '.join(map(repr, _STAGES))}, got {self.stage!r}"
            )
        for field in ("level", "size", "crop"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"TraceStep: {field} must be an int, got {type(value).__name__} {value!r}")
        if self.level < 0:
            raise ValueError(f"TraceStep: level must be >= 0, got {self.level}")


@dataclass(frozen=True)
class ShapeTrace:
    """The steps of `unet_shape_trace` up to where the sizes work, and why they stop (None if they do not)."""

    steps: tuple[TraceStep, ...]
    problem: str | None

    def __post_init__(self) -> None:
        if not isinstance(self.steps, (list, tuple)) or not all(isinstance(t, TraceStep) for t in self.steps):
            raise TypeError(
                f"ShapeTrace: steps must be a list or tuple of TraceSteps, got {self.steps!r:.80}"
            )
        object.__setattr__(self, "steps", tuple(self.steps))
        if self.problem is not None and not isinstance(self.problem, str):
            raise TypeError(f"ShapeTrace: problem must be a str or None, got {type(self.problem).__name__}")


@typechecked
def unet_shape_trace(size: int, depth: int = 4, padding: str = "valid") -> ShapeTrace:
    """The spatial size at every step of a U-Net, traced without running it.

    A valid 3x3 conv takes 2 pixels off (two per level: -4); a 2x2 max pool needs an even
    size; an up-convolution doubles; the skip is centre-cropped to the decoder's size.

    Returns:
        A `ShapeTrace`: `steps` (stage, level, size, crop) up to where the sizes work, and
        `problem`, None or a sentence saying where and why the sizes stop working.
    """
    require_int("size", size)
    require_int("depth", depth, maximum=MAX_DEPTH, fix="depth is the number of 2x downsamplings")
    require_choice("padding", padding, PADDINGS, fix=_PADDING_FIX)
    return _trace(size, depth, padding, suggest=True)


@functools.lru_cache(maxsize=4096)  # a ShapeTrace is frozen; listing the sizes that work traces hundreds
def _trace(size: int, depth: int, padding: str, suggest: bool) -> ShapeTrace:
    shrink = 4 if padding == "valid" else 0
    steps, skips, s = [TraceStep("input", 0, size, 0)], [], size
    for level in range(depth + 1):
        if s - shrink < 1:
            return ShapeTrace(
                tuple(steps),
                f"level {level}: two valid 3x3 convs need at least {shrink + 1} pixels, the map has {s}",
            )
        s -= shrink
        steps.append(TraceStep("bottleneck" if level == depth else "encoder", level, s, 0))
        if level == depth:
            break
        if s % 2:
            return ShapeTrace(
                tuple(steps),
                (
                    f"level {level}: 2x2 max pooling needs an even size, got {s}; "
                    f"{'valid' if shrink else 'same'} U-Nets of depth {depth} take "
                    f"{_nearest(size, depth, padding) if suggest else '...'}"
                ),
            )
        skips.append(s)
        s //= 2
    for level in reversed(range(depth)):
        s *= 2
        steps.append(TraceStep("up", level, s, skips[level] - s))
        if s - shrink < 1:
            return ShapeTrace(
                tuple(steps), f"decoder level {level}: {s} pixels are too few for two valid 3x3 convs"
            )
        s -= shrink
        steps.append(TraceStep("decoder", level, s, 0))
    return ShapeTrace(tuple(steps), None)


def _nearest(size: int, depth: int, padding: str) -> str:
    ok = [
        s
        for s in range(max(1, size - 64), size + 257)
        if _trace(s, depth, padding, suggest=False).problem is None
    ]
    below = [s for s in ok if s < size]
    above = [s for s in ok if s > size]
    parts = ([f"{below[-1]}"] if below else []) + ([f"{above[0]}"] if above else [])
    return " or ".join(parts) if parts else "no size near this one"


@typechecked
def unet_output_size(size: int, depth: int = 4, padding: str = "valid") -> int:
    """The output's height (or width) for an input of `size` pixels; ValueError if it cannot work.

    For the original U-Net (depth 4, valid): 572 -> 388.
    """
    trace = unet_shape_trace(size, depth, padding)
    if trace.problem is not None:
        raise ValueError(f"a {padding} U-Net of depth {depth} cannot take {size} pixels: {trace.problem}")
    return trace.steps[-1].size


@typechecked
def center_crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The central `size` window of x's last two dimensions (U-Net's crop before concatenation).

    Any tensor with at least two dimensions, of any dtype and device (a crop copies values: it
    reads none), so a U-Net's forward can call it at every step.
    """
    if x.ndim < 2:
        raise ValueError(f"center_crop: x must have at least 2 dimensions (H, W), got shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if size[0] > h or size[1] > w or (h - size[0]) % 2 or (w - size[1]) % 2:
        raise ValueError(
            f"cannot centre-crop x of height and width {(h, w)} to size {tuple(size)}: need a size "
            "no larger than x's that differs from it by an even number of pixels"
        )
    top, left = (h - size[0]) // 2, (w - size[1]) // 2
    return x[..., top : top + size[0], left : left + size[1]]


class DoubleConv(nn.Sequential):
    """Two 3x3 convs, each followed by (BN and) ReLU; `padding=0` is U-Net's valid conv."""

    def __init__(self, in_channels: int, out_channels: int, padding: int, batch_norm: bool):
        layers: list[nn.Module] = []
        for c_in in (in_channels, out_channels):
            layers.append(nn.Conv2d(c_in, out_channels, 3, padding=padding, bias=not batch_norm))
            layers += [nn.BatchNorm2d(out_channels)] if batch_norm else []
            layers.append(nn.ReLU())
        super().__init__(*layers)
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        require_input(self, x, 4, size=(1, self.in_channels), like=self[0].weight, layout="(N, C, H, W)")
        return super().forward(x)  # (N, out_channels, H', W')


def _unet_values(
    in_channels: int,
    num_classes: int,
    depth: int,
    base_channels: int,
    skips: bool,
    batch_norm: bool,
    **_: object,
) -> int:
    """Values of a `UNet`, level by level: DoubleConvs down and up, the up-convolutions, the head."""

    def double_conv(c_in: int, c_out: int) -> int:  # two 3x3 convs, each with a BatchNorm or a bias
        return 9 * (c_in + c_out) * c_out + 2 * (4 * c_out + 1 if batch_norm else c_out)

    levels = max(1, min(depth, 64))  # the body refuses depth > 16; 64 keeps 2**depth a small number
    widths = [base_channels * 2**i for i in range(levels + 1)]  # c 2^i channels at level i
    # the encoder's levels and the bottleneck (level `depth`), then the decoder's
    down = sum(double_conv(in_channels if i == 0 else widths[i - 1], widths[i]) for i in range(levels + 1))
    upconv = sum(4 * widths[i + 1] * widths[i] + widths[i] for i in range(levels))  # 2x2 * in * out + bias
    up = sum(double_conv(widths[i] * (2 if skips else 1), widths[i]) for i in range(levels))
    head = (widths[0] + 1) * num_classes  # 1x1 conv, a weight and a bias
    return down + upconv + up + head


@typechecked
@sized(_unet_values)
class UNet(nn.Module):
    r"""U-Net: a contracting path, an expanding path, and skips that crop and concatenate.

    Level $i$ has $c\,2^i$ channels ($c$ = `base_channels`); the decoder computes
    $d_i = \mathrm{DoubleConv}([\mathrm{crop}(e_i),\ \mathrm{UpConv}(d_{i+1})])$.

    Args:
        in_channels: channels of the image.
        num_classes: output channels (per-pixel logits).
        depth: number of 2x2 max poolings (4 in the paper).
        base_channels: channels of the first level (64 in the paper).
        padding: "valid" (the paper: 572 -> 388, skips cropped) or "same" (output = input size,
            which must be divisible by 2^depth).
        skips: False drops the skip connections (the decoder sees only the bottleneck), for comparison.
        batch_norm: BN after every conv (not in the 2015 paper; it makes small models train fast).

    Shape:
        (N, in_channels, H, W) -> (N, num_classes, H', W'), H' = `unet_output_size(H, depth, padding)`.

    References:
        Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image
        Segmentation", MICCAI 2015.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        depth: int = 4,
        base_channels: int = 64,
        padding: str = "valid",
        skips: bool = True,
        batch_norm: bool = True,
    ):
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("num_classes", num_classes),
            ("base_channels", base_channels),
        ):
            require_int(name, value)
        require_int("depth", depth, maximum=MAX_DEPTH, fix="depth is the number of 2x downsamplings")
        require_choice("padding", padding, PADDINGS, fix=_PADDING_FIX)
        require_bool("skips", skips)
        require_bool("batch_norm", batch_norm)
        self.depth, self.padding, self.skips = depth, padding, skips
        pad = 1 if padding == "same" else 0
        widths = [base_channels * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList(
            [
                DoubleConv(in_channels if i == 0 else widths[i - 1], widths[i], pad, batch_norm)
                for i in range(depth)
            ]
        )
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = DoubleConv(widths[depth - 1], widths[depth], pad, batch_norm)
        self.upconv = nn.ModuleList(
            [nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(depth)]
        )
        self.up = nn.ModuleList(
            [DoubleConv(widths[i] * (2 if skips else 1), widths[i], pad, batch_norm) for i in range(depth)]
        )
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = self.down[0][0]  # the first conv
        require_input(self, x, 4, size=(1, first.in_channels), like=first.weight, layout="(N, C, H, W)")
        for s in x.shape[-2:]:  # a clear ValueError before any conv
            problem = _trace(int(s), self.depth, self.padding, suggest=True).problem
            if problem is not None:
                raise ValueError(
                    f"UNet.forward: x of shape {tuple(x.shape)} does not fit: a {self.padding} U-Net of "
                    f"depth {self.depth} cannot take {int(s)} pixels: {problem}"
                )
        encoded = []
        for down in self.down:
            x = down(x)  # (N, c 2^i, H_i, W_i)
            encoded.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for i in reversed(range(self.depth)):
            x = self.upconv[i](x)  # doubles H, W; halves channels
            if self.skips:
                x = torch.cat([center_crop(encoded[i], tuple(x.shape[-2:])), x], 1)
            x = self.up[i](x)
        return self.head(x)

    def extra_repr(self) -> str:
        return f"depth={self.depth}, padding={self.padding!r}, skips={self.skips}"


@typechecked
def segmentation_loss(
    logits: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Pixel cross-entropy, weighted, $L = -\sum_{n,p} w_{y_{n,p}} \log s_{n,p} / \sum_{n,p} w_{y_{n,p}}$.

    $s_{n,p} = \mathrm{softmax}(z_{n,p})_{y_{n,p}}$ is the probability given to the true class of pixel
    $p$ in image $n$; with all $w_c = 1$ this is the plain mean over pixels.

    A valid U-Net's output is smaller than its input: it is compared with the centre crop
    of the mask (the pixels the network actually saw in full context). Pass it to
    `reslib.train.fit(..., loss_fn=segmentation_loss)`.

    Args:
        logits: per-pixel class scores.
        mask: the true labels.
        weight: one weight $w_c$ per class (None: all 1, the plain mean over pixels); a rare class
            weighted up counts as much in the loss as its share of the pixels would not let it.

    Shape:
        logits: (N, classes, H', W'); mask: (N, H, W) integer labels, H >= H'; weight: (classes,).
    """
    require_tensor("logits", logits, ndim=4, dtype="float", fix="(N, classes, H, W)")
    require_tensor("mask", mask, ndim=3, dtype="label", fix="(N, H, W) class indices")
    if len(logits) != len(mask):
        raise ValueError(f"logits and mask need the same N, got {len(logits)} and {len(mask)}")
    if logits.device != mask.device:  # attributes only: this runs at every training step
        raise ValueError(
            f"logits is on {logits.device} but mask is on {mask.device}; move the batch to the "
            f"model's device, mask.to({str(logits.device)!r})"
        )
    (h, w), (mh, mw) = logits.shape[-2:], mask.shape[-2:]
    if h > mh or w > mw or (mh - h) % 2 or (mw - w) % 2:
        raise ValueError(
            f"logits of height and width {(h, w)} cannot be compared with mask of {(mh, mw)}: the mask is "
            "centre-cropped to the logits' size, so it must be as large or larger by an even number of "
            "pixels (a valid U-Net's output is smaller than its input: pass the mask of that input)"
        )
    if weight is not None:
        require_tensor("weight", weight, ndim=1, dtype="float", fix="one weight per class")
        if len(weight) != logits.shape[1]:
            raise ValueError(f"weight has {len(weight)} entries, the logits {logits.shape[1]} classes")
        weight = weight.to(logits.device)
    return F.cross_entropy(logits, center_crop(mask, tuple(logits.shape[-2:])), weight=weight)
