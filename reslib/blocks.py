"""Residual blocks with torchvision's names: `BasicBlock`, `Bottleneck` and their pre-activation twins.

Every block computes $y = \\mathrm{shortcut}(x) + F(x)$. The shortcut is the
identity when the shapes agree, else (torchvision's `downsample`) a projection:
option B, a strided 1x1 conv + norm (He et al., 2016a), or option A, a
parameter-free strided subsample padded with zero channels. `shortcut=None`
drops the skip and gives the *plain* block of the same depth, for comparisons.

Blocks work on images (`dim=2`, the default) or on 1-D signals (`dim=1`, e.g.
MNIST-1D), with the same names and parameter counts per kernel position.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from reslib.core import residual_add

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "PadShortcut",
    "PreActBlock",
    "PreActBottleneck",
    "make_stage",
]

NormLayer = Callable[[int], nn.Module]
_SHORTCUTS = ("A", "B", None)


def _conv(dim: int) -> type[nn.Module]:
    if dim not in (1, 2):
        raise ValueError(f"dim must be 1 (signals, Conv1d) or 2 (images, Conv2d), got {dim!r}")
    return nn.Conv1d if dim == 1 else nn.Conv2d


def _norm(dim: int, norm_layer: NormLayer | None) -> NormLayer:
    if norm_layer is not None:
        return norm_layer
    return nn.BatchNorm1d if dim == 1 else nn.BatchNorm2d


def _check_block_args(in_channels: int, planes: int, stride: int, shortcut: str | None) -> None:
    for name, value in (("in_channels", in_channels), ("planes", planes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if stride not in (1, 2) or isinstance(stride, bool):
        raise ValueError(f"stride must be 1 (keep the size) or 2 (halve it), got {stride!r}")
    if shortcut not in _SHORTCUTS:
        raise ValueError(f"shortcut must be 'A' (zero-pad), 'B' (1x1 projection) or None (plain, "
                         f"no skip), got {shortcut!r}")


class PadShortcut(nn.Module):
    r"""Option A: $x \mapsto [x_{::s};\ 0]$, subsample by the stride and append zero channels.

    Parameter-free, so a CIFAR ResNet with option A has exactly the parameters of its plain twin.

    Shape:
        (N, C_in, *S) -> (N, C_out, *S / stride)
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, dim: int = 2):
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"zero padding can only add channels, got {in_channels} -> {out_channels}; "
                             "use shortcut='B' (a 1x1 projection) to reduce them")
        self.in_channels, self.out_channels, self.stride, self.dim = in_channels, out_channels, stride, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[(slice(None), slice(None)) + (slice(None, None, self.stride),) * self.dim]
        pad = self.out_channels - self.in_channels
        return F.pad(x, (0, 0) * self.dim + (0, pad))  # zeros after the last channel

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> {self.out_channels}, stride={self.stride}"


def _downsample(in_channels: int, out_channels: int, stride: int, shortcut: str | None, dim: int,
                norm: NormLayer, preact: bool) -> nn.Module | None:
    if shortcut is None or (stride == 1 and in_channels == out_channels):
        return None
    if shortcut == "A":
        return PadShortcut(in_channels, out_channels, stride, dim)
    conv = _conv(dim)(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)
    # torchvision: downsample.0 (conv) and downsample.1 (norm); pre-activation blocks project only.
    return nn.Sequential(conv) if preact else nn.Sequential(conv, norm(out_channels))


class _Block(nn.Module):
    expansion = 1

    def _setup(self, in_channels: int, planes: int, stride: int, shortcut: str | None, dim: int,
               norm_layer: NormLayer | None) -> tuple[type[nn.Module], NormLayer]:
        """Check the arguments, record the block's shape, and return its conv and norm factories."""
        _check_block_args(in_channels, planes, stride, shortcut)
        self.in_channels, self.out_channels = in_channels, planes * self.expansion
        self.stride, self.shortcut = stride, shortcut
        return _conv(dim), _norm(dim, norm_layer)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.downsample is None else self.downsample(x)

    def _add(self, x: torch.Tensor, fx: torch.Tensor) -> torch.Tensor:
        return fx if self.shortcut is None else residual_add(self._shortcut(x), fx)

    def extra_repr(self) -> str:
        return (f"{self.in_channels} -> {self.out_channels}, stride={self.stride}, "
                f"shortcut={self.shortcut!r}")


class BasicBlock(_Block):
    r"""Two 3x3 convs, post-activation.

    $y = a(\mathrm{sc}(x) + \mathrm{BN}(W_2\,a(\mathrm{BN}(W_1 x))))$ with $a$ = ReLU.

    Args:
        in_channels: channels of x.
        planes: channels of both convs; the output has `planes * expansion` (= planes).
        stride: 1, or 2 to halve the spatial size (in `conv1`, as torchvision).
        norm_layer: a callable `channels -> module`; `nn.Identity` drops normalisation.
        shortcut: `"B"` (1x1 projection when shapes change), `"A"` (zero padding) or None (plain).
        dim: 2 for images, 1 for signals.

    Shape:
        (N, in_channels, *S) -> (N, planes, *S / stride)

    References:
        He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, Fig. 2 and 5.
    """

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1,
                 norm_layer: NormLayer | None = None, shortcut: str | None = "B", dim: int = 2):
        super().__init__()
        conv, norm = self._setup(in_channels, planes, stride, shortcut, dim, norm_layer)
        self.conv1 = conv(in_channels, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = norm(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv(planes, planes, 3, padding=1, bias=False)
        self.bn2 = norm(planes)
        self.downsample = _downsample(in_channels, self.out_channels, stride, shortcut, dim, norm, False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fx = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(self._add(x, fx))

    def zero_init_last(self) -> None:
        """Zero the last BN's scale (or the last conv without BN): the block starts as its shortcut."""
        _zero_last(self.bn2, self.conv2)


class Bottleneck(_Block):
    r"""1x1 reduce, 3x3, 1x1 expand (x4), post-activation.

    $y = a(\mathrm{sc}(x) + \mathrm{BN}(W_3\,a(\mathrm{BN}(W_2\,a(\mathrm{BN}(W_1 x))))))$.

    The stride sits on the 3x3 conv (torchvision's "ResNet v1.5").

    Shape:
        (N, in_channels, *S) -> (N, 4 * planes, *S / stride)

    References:
        He et al., CVPR 2016, Fig. 5 (right).
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1,
                 norm_layer: NormLayer | None = None, shortcut: str | None = "B", dim: int = 2):
        super().__init__()
        conv, norm = self._setup(in_channels, planes, stride, shortcut, dim, norm_layer)
        self.conv1 = conv(in_channels, planes, 1, bias=False)
        self.bn1 = norm(planes)
        self.conv2 = conv(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = norm(planes)
        self.conv3 = conv(planes, self.out_channels, 1, bias=False)
        self.bn3 = norm(self.out_channels)
        self.relu = nn.ReLU()
        self.downsample = _downsample(in_channels, self.out_channels, stride, shortcut, dim, norm, False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu(self.bn1(self.conv1(x)))
        h = self.relu(self.bn2(self.conv2(h)))
        fx = self.bn3(self.conv3(h))
        return self.relu(self._add(x, fx))

    def zero_init_last(self) -> None:
        """Zero `bn3`'s scale: the block starts as its shortcut (Goyal et al., 2017)."""
        _zero_last(self.bn3, self.conv3)


class PreActBlock(_Block):
    r"""Pre-activation basic block: $y = \mathrm{sc}(x) + W_2\,a(\mathrm{BN}(W_1\,a(\mathrm{BN}(x))))$.

    Nothing follows the addition, so a stack of these keeps a clean identity path
    from input to output; the branch ends in a conv and can add negative values.

    References:
        He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016.
    """

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1,
                 norm_layer: NormLayer | None = None, shortcut: str | None = "B", dim: int = 2):
        super().__init__()
        conv, norm = self._setup(in_channels, planes, stride, shortcut, dim, norm_layer)
        self.bn1 = norm(in_channels)
        self.conv1 = conv(in_channels, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = norm(planes)
        self.conv2 = conv(planes, planes, 3, padding=1, bias=False)
        self.relu = nn.ReLU()
        self.downsample = _downsample(in_channels, self.out_channels, stride, shortcut, dim, norm, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fx = self.conv2(self.relu(self.bn2(self.conv1(self.relu(self.bn1(x))))))
        return self._add(x, fx)

    def zero_init_last(self) -> None:
        """Zero `conv2`: the block starts as its shortcut."""
        _zero_last(None, self.conv2)


class PreActBottleneck(_Block):
    r"""Pre-activation bottleneck.

    $y = \mathrm{sc}(x) + W_3\,a(\mathrm{BN}(W_2\,a(\mathrm{BN}(W_1\,a(\mathrm{BN}(x))))))$.

    Shape:
        (N, in_channels, *S) -> (N, 4 * planes, *S / stride)
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1,
                 norm_layer: NormLayer | None = None, shortcut: str | None = "B", dim: int = 2):
        super().__init__()
        conv, norm = self._setup(in_channels, planes, stride, shortcut, dim, norm_layer)
        self.bn1 = norm(in_channels)
        self.conv1 = conv(in_channels, planes, 1, bias=False)
        self.bn2 = norm(planes)
        self.conv2 = conv(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn3 = norm(planes)
        self.conv3 = conv(planes, self.out_channels, 1, bias=False)
        self.relu = nn.ReLU()
        self.downsample = _downsample(in_channels, self.out_channels, stride, shortcut, dim, norm, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.relu(self.bn1(x)))
        h = self.conv2(self.relu(self.bn2(h)))
        fx = self.conv3(self.relu(self.bn3(h)))
        return self._add(x, fx)

    def zero_init_last(self) -> None:
        """Zero `conv3`: the block starts as its shortcut."""
        _zero_last(None, self.conv3)


def _zero_last(norm: nn.Module | None, conv: nn.Module) -> None:
    with torch.no_grad():
        if norm is not None and getattr(norm, "weight", None) is not None:
            norm.weight.zero_()
        else:
            conv.weight.zero_()


BLOCKS = (BasicBlock, Bottleneck, PreActBlock, PreActBottleneck)


def make_stage(block: type[_Block], in_channels: int, planes: int, num_blocks: int, stride: int = 1,
               **block_kwargs) -> tuple[nn.Sequential, int]:
    """`num_blocks` blocks, the first with `stride` (and the shortcut that changes shape), the rest stride 1.

    Pure: returns the stage and its output channels, `planes * block.expansion`,
    instead of keeping a running channel count on a model (torchvision's `self.inplanes`).

    Returns:
        `(nn.Sequential of blocks, out_channels)`.
    """
    if block not in BLOCKS:
        raise TypeError(f"block must be one of {[b.__name__ for b in BLOCKS]}, got {block!r}")
    if isinstance(num_blocks, bool) or not isinstance(num_blocks, int) or num_blocks < 1:
        raise ValueError(f"num_blocks must be a positive int, got {num_blocks!r}")
    out_channels = planes * block.expansion
    layers = [block(in_channels, planes, stride, **block_kwargs)]
    layers += [block(out_channels, planes, 1, **block_kwargs) for _ in range(num_blocks - 1)]
    return nn.Sequential(*layers), out_channels
