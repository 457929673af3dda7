r"""Residual blocks with torchvision's names: `BasicBlock`, `Bottleneck` (pre-activation: `reslib.preact`).

Every block computes $y = \mathrm{shortcut}(x) + F(x)$. The shortcut is the
identity when the shapes agree; else torchvision's `downsample` module maps x to
F(x)'s shape, by `shortcut_type` "B", a strided 1x1 conv + norm (He et al., 2016a),
or "A", a parameter-free strided subsample padded with zero channels;
`block.shortcut(x)` computes that skip path. `plain=True` drops the skip and
gives the *plain* block of the same depth, for comparisons.

Blocks work on images (`dim=2`, the default) or on 1-D signals (`dim=1`, e.g.
MNIST-1D), with the same names and parameter counts per kernel position.

Your own block can be staged by `make_stage` and `ResNet` too: any `nn.Module`
class with an `expansion` attribute and a `zero_init_last()` method.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from reslib.guard import require_input
from reslib.layers import layers_for, residual_add
from reslib.validate import (
    MAX_BLOCKS,
    MEMORY_LIMIT,
    require_bool,
    require_choice,
    require_int,
    require_memory,
    sized,
    typechecked,
)

__all__ = [
    "BasicBlock",
    "BlockBase",
    "Bottleneck",
    "PadShortcut",
    "make_stage",
    "require_block",
    "zero_last",
]

NormLayer = Callable[[int], nn.Module]
SHORTCUT_TYPES = ("A", "B")
_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)"}  # a conv's input, in require_input's messages


@typechecked
class PadShortcut(nn.Module):
    r"""Option A: $x \mapsto [x_{::s};\ 0]$, subsample by the stride and append zero channels.

    Parameter-free, so a CIFAR ResNet with option A has exactly the parameters of its plain twin.

    Shape:
        (N, C_in, *S) -> (N, C_out, *S / stride)
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, dim: int = 2):
        super().__init__()
        require_int("in_channels", in_channels)
        require_int("out_channels", out_channels)
        require_int("stride", stride, 1, 2)
        layers_for(dim)  # dim is 1 or 2
        if out_channels < in_channels:
            raise ValueError(
                f"zero padding can only add channels, got in_channels={in_channels} -> "
                f"out_channels={out_channels}; "
                "use shortcut_type='B' (a 1x1 projection) to reduce them"
            )
        # a shortcut whose output for one example of one pixel would pass the limit can never run
        require_memory("out_channels", out_channels, out_channels * torch.get_default_dtype().itemsize)
        self.in_channels, self.out_channels, self.stride, self.dim = in_channels, out_channels, stride, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        require_input(self, x, self.dim + 2, size=(1, self.in_channels), layout=_LAYOUT[self.dim])
        # the output's size, from the shape alone, before the zeros are allocated (meta holds none)
        nbytes = x.shape[0] * self.out_channels * x.dtype.itemsize
        nbytes *= math.prod(-(-s // self.stride) for s in x.shape[2:])  # odd sizes round up
        if nbytes > MEMORY_LIMIT and x.device.type != "meta":
            given = {"x.shape": tuple(x.shape), "out_channels": self.out_channels, "stride": self.stride}
            require_memory("sizes", given, nbytes)
        x = x[(slice(None), slice(None)) + (slice(None, None, self.stride),) * self.dim]  # (N, C_in, *S/s)
        pad = self.out_channels - self.in_channels
        return F.pad(x, (0, 0) * self.dim + (0, pad))  # zeros after the last channel: (N, C_out, *S/s)

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> {self.out_channels}, stride={self.stride}"


@typechecked
class BlockBase(nn.Module):
    """The shared base of the residual conv blocks: argument checks, `downsample`, the shortcut."""

    expansion = 1
    preact = False

    def _setup(
        self,
        in_channels: int,
        planes: int,
        stride: int,
        norm_layer: NormLayer | None,
        shortcut_type: str,
        plain: bool,
        dim: int,
    ) -> tuple[type[nn.Module], NormLayer]:
        """Check the arguments, record the block's shape and `downsample`, return its conv and norm."""
        require_int("in_channels", in_channels)
        require_int("planes", planes)
        require_int("stride", stride, 1, 2, fix="1 keeps the size, 2 halves it")
        require_choice(
            "shortcut_type",
            shortcut_type,
            SHORTCUT_TYPES,
            fix="'A' zero-pads the channels, 'B' is a 1x1 projection",
        )
        require_bool("plain", plain)
        layers = layers_for(dim)
        self.in_channels, self.out_channels = in_channels, planes * self.expansion
        self.stride, self.shortcut_type, self.plain, self.dim = stride, shortcut_type, plain, dim
        return layers.conv, norm_layer or layers.batch_norm

    def _downsample(self, norm: NormLayer) -> nn.Module | None:
        """The shortcut projection (torchvision's `downsample`): maps x to F(x)'s shape; None: identity."""
        if self.plain or (self.stride == 1 and self.in_channels == self.out_channels):
            return None
        if self.shortcut_type == "A":
            return PadShortcut(self.in_channels, self.out_channels, self.stride, self.dim)
        conv = layers_for(self.dim).conv(
            self.in_channels, self.out_channels, kernel_size=1, stride=self.stride, bias=False
        )
        # downsample.0 (conv) and downsample.1 (norm); pre-activation blocks project only.
        return nn.Sequential(conv) if self.preact else nn.Sequential(conv, norm(self.out_channels))

    @staticmethod
    def norm_values(norm_layer: NormLayer | None, channels: int) -> int:
        """Values held by `norm_layer(channels)`, for the blocks' size formulas.

        BatchNorm (the default) holds a weight, a bias, a running mean and variance per channel and
        one step counter: 4 C + 1; `nn.Identity` none. Any other norm is counted as BatchNorm, an
        upper bound (a GroupNorm holds 2 C).
        """
        return 0 if norm_layer is nn.Identity else 4 * channels + 1

    @classmethod
    def shortcut_values(
        cls,
        in_channels: int,
        planes: int,
        stride: int,
        norm_layer: NormLayer | None,
        shortcut_type: str,
        plain: bool,
        **_: object,
    ) -> int:
        """Values held by `downsample`: none for the identity and option A, else a 1x1 conv and its norm."""
        out_channels = planes * cls.expansion
        if plain or shortcut_type == "A" or (stride == 1 and in_channels == out_channels):
            return 0
        norm = 0 if cls.preact else cls.norm_values(norm_layer, out_channels)  # pre-activation: no norm
        return in_channels * out_channels + norm  # 1x1 conv: in * out

    def _require_input(self, x: object) -> torch.Tensor:
        """What `forward` checks first: (N, in_channels, *S) floats of the weights' dtype and device."""
        return require_input(
            self,
            x,
            self.dim + 2,
            size=(1, self.in_channels),
            like=self.conv1.weight,
            layout=_LAYOUT[self.dim],
        )

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """The skip path: x itself, or `downsample(x)` where the block changes the shape.

        Raises:
            ValueError: a plain block has no skip path.
        """
        self._require_input(x)
        if self.plain:
            raise ValueError("a plain block (plain=True) has no shortcut; build it with plain=False")
        return x if self.downsample is None else self.downsample(x)

    def _add_shortcut(self, x: torch.Tensor, fx: torch.Tensor) -> torch.Tensor:
        r"""$\mathrm{shortcut}(x) + F(x)$, or just $F(x)$ for a plain block."""
        # through the public `shortcut`: `rl.viz.block_diagram` marks the addition where it is called
        return fx if self.plain else residual_add(self.shortcut(x), fx)

    def extra_repr(self) -> str:
        skip = "plain=True" if self.plain else f"shortcut_type={self.shortcut_type!r}"
        return f"{self.in_channels} -> {self.out_channels}, stride={self.stride}, {skip}"


@typechecked
@sized(
    lambda in_channels, planes, norm_layer, dim, **kwargs: (
        (3 if dim == 1 else 9) * (in_channels + planes) * planes  # conv1, conv2: 3x3 * in * out each
        + 2 * BlockBase.norm_values(norm_layer, planes)  # bn1, bn2
        + BasicBlock.shortcut_values(in_channels, planes, norm_layer=norm_layer, **kwargs)
    )
)
class BasicBlock(BlockBase):
    r"""Two 3x3 convs, post-activation.

    $y = a(\mathrm{sc}(x) + \mathrm{BN}(W_2\,a(\mathrm{BN}(W_1 x))))$ with $a$ = ReLU.

    Args:
        in_channels: channels of x.
        planes: channels of both convs; the output has `planes * expansion` (= planes).
        stride: 1, or 2 to halve the spatial size (in `conv1`, as torchvision).
        norm_layer: a callable `channels -> module`; `nn.Identity` drops normalisation.
        shortcut_type: when the shape changes, `"B"` (1x1 projection) or `"A"` (zero padding).
        plain: drop the skip connection (the plain block of the same depth).
        dim: 2 for images, 1 for signals.

    Shape:
        (N, in_channels, *S) -> (N, planes, *S / stride)

    References:
        He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, Fig. 2 and 5.
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        norm_layer: NormLayer | None = None,
        shortcut_type: str = "B",
        plain: bool = False,
        dim: int = 2,
    ):
        super().__init__()
        conv, norm = self._setup(in_channels, planes, stride, norm_layer, shortcut_type, plain, dim)
        self.conv1 = conv(in_channels, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = norm(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv(planes, planes, 3, padding=1, bias=False)
        self.bn2 = norm(planes)
        self.downsample = self._downsample(norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._require_input(x)
        h = self.conv1(x)  # (N, planes, *S / stride)
        h = self.bn1(h)
        h = self.relu(h)
        h = self.conv2(h)
        fx = self.bn2(h)
        return self.relu(self._add_shortcut(x, fx))

    def zero_init_last(self) -> None:
        """Zero the last BN's scale (or the last conv without BN): the block starts as its shortcut."""
        zero_last(self.bn2, self.conv2)


@typechecked
@sized(
    lambda in_channels, planes, norm_layer, dim, **kwargs: (
        in_channels * planes  # conv1: 1x1 * in * planes
        + (3 if dim == 1 else 9) * planes * planes  # conv2: 3x3 * planes * planes
        + planes * 4 * planes  # conv3: 1x1 * planes * 4 planes
        + 2 * BlockBase.norm_values(norm_layer, planes)  # bn1, bn2
        + BlockBase.norm_values(norm_layer, 4 * planes)  # bn3
        + Bottleneck.shortcut_values(in_channels, planes, norm_layer=norm_layer, **kwargs)
    )
)
class Bottleneck(BlockBase):
    r"""1x1 reduce, 3x3, 1x1 expand (x4), post-activation.

    $y = a(\mathrm{sc}(x) + \mathrm{BN}(W_3\,a(\mathrm{BN}(W_2\,a(\mathrm{BN}(W_1 x))))))$.

    The stride sits on the 3x3 conv (torchvision's "ResNet v1.5"); `stride_in_1x1=True` moves it
    to the first 1x1 conv, as in He et al. (v1): same parameters, fewer FLOPs (3.8 vs 4.1 GMACs
    for ResNet-50), since the 1x1 reduce conv then runs on the halved map.

    Shape:
        (N, in_channels, *S) -> (N, 4 * planes, *S / stride)

    References:
        He et al., CVPR 2016, Fig. 5 (right).
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        norm_layer: NormLayer | None = None,
        shortcut_type: str = "B",
        plain: bool = False,
        dim: int = 2,
        stride_in_1x1: bool = False,
    ):
        super().__init__()
        conv, norm = self._setup(in_channels, planes, stride, norm_layer, shortcut_type, plain, dim)
        self.stride_in_1x1 = require_bool("stride_in_1x1", stride_in_1x1)
        s1, s2 = (stride, 1) if stride_in_1x1 else (1, stride)  # where the map is halved
        self.conv1 = conv(in_channels, planes, 1, stride=s1, bias=False)
        self.bn1 = norm(planes)
        self.conv2 = conv(planes, planes, 3, stride=s2, padding=1, bias=False)
        self.bn2 = norm(planes)
        self.conv3 = conv(planes, self.out_channels, 1, bias=False)
        self.bn3 = norm(self.out_channels)
        self.relu = nn.ReLU()
        self.downsample = self._downsample(norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._require_input(x)
        h = self.relu(self.bn1(self.conv1(x)))  # (N, planes, *S), or *S / stride if stride_in_1x1
        h = self.relu(self.bn2(self.conv2(h)))  # (N, planes, *S / stride)
        fx = self.bn3(self.conv3(h))  # (N, 4 planes, *S / stride)
        return self.relu(self._add_shortcut(x, fx))

    def extra_repr(self) -> str:
        return super().extra_repr() + (", stride_in_1x1=True" if self.stride_in_1x1 else "")

    def zero_init_last(self) -> None:
        """Zero `bn3`'s scale: the block starts as its shortcut (Goyal et al., 2017)."""
        zero_last(self.bn3, self.conv3)


@typechecked
def zero_last(norm: nn.Module | None, conv: nn.Module) -> None:
    """Zero a branch's last scale: the norm's gamma, or the conv's weights where there is no norm.

    The branch then adds nothing at initialisation, and the block starts as its shortcut (Goyal et
    al., 2017: "zero gamma"); `zero_init_last()` of every block class calls this.
    """
    with torch.no_grad():
        if norm is not None and getattr(norm, "weight", None) is not None:
            norm.weight.zero_()
        else:
            conv.weight.zero_()


@typechecked
def require_block(block: object) -> type[nn.Module]:
    """Return `block` if it is a block class `make_stage` and `ResNet` can use.

    A block class is any `nn.Module` subclass with an int `expansion` (output channels =
    `planes * expansion`) and a `zero_init_last()` method (start the block as its shortcut).

    Raises:
        TypeError: `block` is not such a class; the message names what is missing.
    """
    if not (isinstance(block, type) and issubclass(block, nn.Module)):
        raise TypeError(
            f"block must be an nn.Module class such as BasicBlock (the class, not an instance), "
            f"got {type(block).__name__} {block!r}"
        )
    missing = [
        what
        for what, ok in [
            (
                "an int `expansion` attribute (output channels = planes * expansion)",
                isinstance(getattr(block, "expansion", None), int),
            ),
            ("a `zero_init_last()` method", callable(getattr(block, "zero_init_last", None))),
        ]
        if not ok
    ]
    if missing:
        raise TypeError(f"block {block.__name__} needs {' and '.join(missing)} to be staged")
    return block


@typechecked
def make_stage(
    block: type[nn.Module],
    in_channels: int,
    planes: int,
    num_blocks: int,
    stride: int = 1,
    **block_kwargs: object,
) -> tuple[nn.Sequential, int]:
    """`num_blocks` blocks, the first with `stride` (and the shortcut that changes shape), the rest stride 1.

    Pure: returns the stage and its output channels, `planes * block.expansion`,
    instead of keeping a running channel count on a model (torchvision's `self.inplanes`).

    Args:
        block: a block class (see `require_block`), called as
            `block(in_channels, planes, stride, **block_kwargs)`.

    Returns:
        `(nn.Sequential of blocks, out_channels)`.
    """
    require_block(block)
    require_int("num_blocks", num_blocks, maximum=MAX_BLOCKS)
    out_channels = planes * block.expansion
    layers = [block(in_channels, planes, stride, **block_kwargs)]
    layers += [block(out_channels, planes, 1, **block_kwargs) for _ in range(num_blocks - 1)]
    return nn.Sequential(*layers), out_channels
