"""U-Net (Ronneberger et al. 2015): an encoder-decoder whose skips *concatenate*.

The encoder halves the resolution `depth` times to see more context; the
decoder doubles it back. The skips hand the decoder the encoder's
high-resolution detail: U-Net *concatenates* the (cropped) encoder map,
$d_i = D_i([\\mathrm{crop}(e_i), \\mathrm{up}(d_{i+1})])$; an hourglass *adds*
a branch that went through its own residual module,
$y = R(x) + \\mathrm{up}(g(\\mathrm{pool}(x)))$ (see `reslib.hourglass`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["UNet", "center_crop", "fit_dense", "unet_output_size", "unet_shape_trace"]

_PADDINGS = ("valid", "same")


def _check_unet(depth: int, padding: str) -> None:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth (number of 2x downsamplings) must be a positive int, got {depth!r}")
    if padding not in _PADDINGS:
        raise ValueError(f"padding must be 'valid' (no padding, crop the skips) or 'same' "
                         f"(zero padding), got {padding!r}")


def unet_shape_trace(size: int, depth: int = 4, padding: str = "valid") -> tuple[list[dict], str | None]:
    """The spatial size at every step of a U-Net, traced without running it.

    A valid 3x3 conv takes 2 pixels off (two per level: -4); a 2x2 max pool needs an even
    size; an up-convolution doubles; the skip is centre-cropped to the decoder's size.

    Returns:
        `(rows, problem)`: rows `{stage, level, size, crop}` up to where the sizes work, and
        None or a sentence saying where and why the sizes stop working.
    """
    _check_unet(depth, padding)
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size must be an int, got {type(size).__name__}")
    return _trace(size, depth, padding, suggest=True)


def _trace(size: int, depth: int, padding: str, suggest: bool) -> tuple[list[dict], str | None]:
    shrink = 4 if padding == "valid" else 0
    rows, skips, s = [dict(stage="input", level=0, size=size, crop=0)], [], size
    for level in range(depth + 1):
        if s - shrink < 1:
            return rows, (f"level {level}: two valid 3x3 convs need at least {shrink + 1} pixels, "
                          f"the map has {s}")
        s -= shrink
        rows.append(dict(stage="bottleneck" if level == depth else "encoder", level=level, size=s, crop=0))
        if level == depth:
            break
        if s % 2:
            return rows, (f"level {level}: 2x2 max pooling needs an even size, got {s}; "
                          f"{'valid' if shrink else 'same'} U-Nets of depth {depth} take "
                          f"{_nearest(size, depth, padding) if suggest else '...'}")
        skips.append(s)
        s //= 2
    for level in reversed(range(depth)):
        s *= 2
        crop = skips[level] - s
        rows.append(dict(stage="up", level=level, size=s, crop=crop))
        if s - shrink < 1:
            return rows, f"decoder level {level}: {s} pixels are too few for two valid 3x3 convs"
        s -= shrink
        rows.append(dict(stage="decoder", level=level, size=s, crop=0))
    return rows, None


def _nearest(size: int, depth: int, padding: str) -> str:
    ok = [s for s in range(max(1, size - 64), size + 257)
          if _trace(s, depth, padding, suggest=False)[1] is None]
    below = [s for s in ok if s < size]
    above = [s for s in ok if s > size]
    parts = ([f"{below[-1]}"] if below else []) + ([f"{above[0]}"] if above else [])
    return " or ".join(parts) if parts else "no size near this one"


def unet_output_size(size: int, depth: int = 4, padding: str = "valid") -> int:
    """The output's height (or width) for an input of `size` pixels; ValueError if it cannot work.

    For the original U-Net (depth 4, valid): 572 -> 388.
    """
    rows, problem = unet_shape_trace(size, depth, padding)
    if problem is not None:
        raise ValueError(f"a {padding} U-Net of depth {depth} cannot take {size} pixels: {problem}")
    return rows[-1]["size"]


def center_crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The central `size` window of x's last two dimensions (U-Net's crop before concatenation)."""
    h, w = x.shape[-2:]
    if size[0] > h or size[1] > w or (h - size[0]) % 2 or (w - size[1]) % 2:
        raise ValueError(f"cannot centre-crop {(h, w)} to {tuple(size)}: need a smaller size that "
                         "differs by an even number of pixels")
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

    def __init__(self, in_channels: int, num_classes: int, depth: int = 4, base_channels: int = 64,
                 padding: str = "valid", skips: bool = True, batch_norm: bool = True):
        super().__init__()
        _check_unet(depth, padding)
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes),
                            ("base_channels", base_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.depth, self.padding, self.skips = depth, padding, skips
        pad = 1 if padding == "same" else 0
        widths = [base_channels * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList([DoubleConv(in_channels if i == 0 else widths[i - 1], widths[i], pad,
                                              batch_norm) for i in range(depth)])
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = DoubleConv(widths[depth - 1], widths[depth], pad, batch_norm)
        self.upconv = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                     for i in range(depth)])
        self.up = nn.ModuleList([DoubleConv(widths[i] * (2 if skips else 1), widths[i], pad, batch_norm)
                                 for i in range(depth)])
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        for s in size:
            unet_output_size(int(s), self.depth, self.padding)  # a clear ValueError before any conv
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


def fit_dense(model: nn.Module, x: torch.Tensor, target: torch.Tensor, epochs: int, lr: float = 1e-2,
              batch_size: int = 50, seed: int = 0) -> list[float]:
    """Train a segmenter (integer `target` (N, H, W), per-pixel cross-entropy) or a heat-map
    predictor (float `target` (N, K, H, W), a list of outputs, one per stack) with Adam.

    Heat maps are trained as distributions over pixels: $-\\sum_p \\hat t(p) \\log \\mathrm{softmax}(h)(p)$
    with $\\hat t$ the target bump normalised to sum 1, summed over the stacks. (Newell et al. use
    the mean squared error; on a few hundred images it learns much more slowly.)

    A valid U-Net's smaller output is compared with the centre crop of the target.

    Returns:
        The mean training loss of each epoch.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if len(x) != len(target):
        raise ValueError(f"x and target need the same length, got {len(x)} and {len(target)}")
    model.to(x.device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        order, total = torch.randperm(len(x), generator=gen).to(x.device), []
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            out = model(x[idx])
            if target.dtype == torch.int64:
                loss = F.cross_entropy(out, center_crop(target[idx], tuple(out.shape[-2:])))
            else:
                # each heat map is a distribution over pixels: cross-entropy with the normalised
                # target bump, summed over the stacks (intermediate supervision)
                p = target[idx].flatten(2)
                p = p / p.sum(-1, keepdim=True).clamp(min=1e-12)
                loss = sum(-(p * F.log_softmax(h.flatten(2), -1)).sum(-1).mean() for h in out)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total.append(loss.detach())
        losses.append(torch.stack(total).mean().item())
    return losses
