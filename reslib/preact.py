r"""Pre-activation residual blocks (He et al., "Identity Mappings in Deep Residual Networks", 2016).

BN and ReLU move *before* each conv and nothing follows the addition, so a stack of
these blocks keeps a clean identity path from input to output,
$x_L = x_l + \sum_{i=l}^{L-1} F(x_i)$. Same arguments, names and shortcuts as
`reslib.blocks`.
"""

from __future__ import annotations

import torch
from torch import nn

from reslib.blocks import BlockBase, NormLayer, zero_last

__all__ = ["PreActBlock", "PreActBottleneck"]


class PreActBlock(BlockBase):
    r"""Pre-activation basic block: $y = \mathrm{sc}(x) + W_2\,a(\mathrm{BN}(W_1\,a(\mathrm{BN}(x))))$.

    Nothing follows the addition, so a stack of these keeps a clean identity path
    from input to output; the branch ends in a conv and can add negative values.

    References:
        He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016.
    """

    expansion = 1
    preact = True

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
        self.bn1 = norm(in_channels)
        self.conv1 = conv(in_channels, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = norm(planes)
        self.conv2 = conv(planes, planes, 3, padding=1, bias=False)
        self.relu = nn.ReLU()
        self.downsample = self._downsample(norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu(self.bn1(x))
        h = self.conv1(h)  # (N, planes, *S / stride)
        h = self.relu(self.bn2(h))
        fx = self.conv2(h)
        return self._add_shortcut(x, fx)

    def zero_init_last(self) -> None:
        """Zero `conv2`: the block starts as its shortcut."""
        zero_last(None, self.conv2)


class PreActBottleneck(BlockBase):
    r"""Pre-activation bottleneck.

    $y = \mathrm{sc}(x) + W_3\,a(\mathrm{BN}(W_2\,a(\mathrm{BN}(W_1\,a(\mathrm{BN}(x))))))$.

    Shape:
        (N, in_channels, *S) -> (N, 4 * planes, *S / stride)
    """

    expansion = 4
    preact = True

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
        self.bn1 = norm(in_channels)
        self.conv1 = conv(in_channels, planes, 1, bias=False)
        self.bn2 = norm(planes)
        self.conv2 = conv(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn3 = norm(planes)
        self.conv3 = conv(planes, self.out_channels, 1, bias=False)
        self.relu = nn.ReLU()
        self.downsample = self._downsample(norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.relu(self.bn1(x)))  # (N, planes, *S)
        h = self.conv2(self.relu(self.bn2(h)))  # (N, planes, *S / stride)
        fx = self.conv3(self.relu(self.bn3(h)))  # (N, 4 planes, *S / stride)
        return self._add_shortcut(x, fx)

    def zero_init_last(self) -> None:
        """Zero `conv3`: the block starts as its shortcut."""
        zero_last(None, self.conv3)
