r"""DenseNet: every layer sees the concatenation of all earlier feature maps.

A residual block *adds*, $x_{l} = x_{l-1} + F_l(x_{l-1})$; a dense layer
*concatenates*, $x_l = F_l([x_0, x_1, \dots, x_{l-1}])$, so the input of layer
$l$ in a block has $k_0 + l\,k$ channels (growth rate $k$). Module names and
state_dict layout follow torchvision's `models/densenet.py`
(`features.denseblockN.denselayerM.norm1/conv1/norm2/conv2`,
`features.transitionN`, `features.norm5`, `classifier`), so a torchvision
state_dict loads strictly.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from reslib.guard import require_input
from reslib.layers import STEM_TYPES, layers_for
from reslib.validate import MAX_BLOCKS, require_choice, require_float, require_int, sized, typechecked

__all__ = [
    "BlockPlan",
    "DenseBlock",
    "DenseLayer",
    "DenseNet",
    "Transition",
    "channel_plan",
    "densenet121",
    "densenet169",
    "densenet201",
    "densenet_bc",
]


_STEM_FIX = "'imagenet' is a 7x7/2 conv + BN + ReLU + 3x3/2 max pool, 'cifar' one 3x3 conv"
_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)"}  # a conv's input, in require_input's messages


def _require_input(module: nn.Module, x: object, dim: int, channels: int, like: torch.Tensor) -> torch.Tensor:
    """What every `forward` here checks first: (N, channels, *S) floats of the weights' dtype and device."""
    return require_input(module, x, dim + 2, size=(1, channels), like=like, layout=_LAYOUT[dim])


@typechecked
@sized(
    lambda in_channels, growth_rate, bn_size, dim, **_: (
        4 * in_channels
        + 1  # norm1: BatchNorm's weight, bias, running mean and variance, step counter
        + in_channels * bn_size * growth_rate  # conv1: 1x1 * in * (bn_size k)
        + 4 * bn_size * growth_rate
        + 1  # norm2
        + (3 if dim == 1 else 9) * bn_size * growth_rate * growth_rate  # conv2: 3x3 * (bn_size k) * k
    )
)
class DenseLayer(nn.Module):
    r"""The bottleneck dense layer: BN-ReLU-1x1 conv to $4k$, BN-ReLU-3x3 conv to $k$.

    $x_l = W_2 * \mathrm{ReLU}(\mathrm{BN}(W_1 * \mathrm{ReLU}(\mathrm{BN}([x_0, \dots, x_{l-1}]))))$.

    Shape:
        (N, in_channels, *S) -> (N, growth_rate, *S): only the *new* features.
    """

    def __init__(
        self, in_channels: int, growth_rate: int, bn_size: int = 4, drop_rate: float = 0.0, dim: int = 2
    ):
        super().__init__()
        nd = layers_for(dim)
        require_int("in_channels", in_channels)
        require_int("growth_rate", growth_rate, fix="k is the number of channels each dense layer adds")
        require_int("bn_size", bn_size, fix="the bottleneck has bn_size * k channels")
        require_float("drop_rate", drop_rate, 0.0, 1.0)
        self.in_channels, self.growth_rate, self.drop_rate = in_channels, growth_rate, float(drop_rate)
        self.dim = dim
        self.norm1 = nd.batch_norm(in_channels)
        self.relu1 = nn.ReLU()
        self.conv1 = nd.conv(in_channels, bn_size * growth_rate, kernel_size=1, bias=False)
        self.norm2 = nd.batch_norm(bn_size * growth_rate)
        self.relu2 = nn.ReLU()
        self.conv2 = nd.conv(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _require_input(self, x, self.dim, self.in_channels, self.conv1.weight)
        h = self.relu1(self.norm1(x))
        h = self.conv1(h)  # (N, bn_size*k, *S)
        h = self.relu2(self.norm2(h))
        h = self.conv2(h)  # (N, k, *S)
        return F.dropout(h, p=self.drop_rate, training=self.training) if self.drop_rate else h

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> +{self.growth_rate}"


def _dense_block_values(num_layers: int, in_channels: int, growth_rate: int, **kwargs: object) -> int:
    r"""Values of a `DenseBlock`, in closed form: a layer's count is linear in its input channels.

    Layer $l$ reads $k_0 + l k$ channels, so the $L$ layers read $L k_0 + k L (L - 1) / 2$ in all,
    and each input channel costs the same (its norm and its 1x1 conv weights).
    """
    per_layer = DenseLayer.weight_count(0, growth_rate, **kwargs)  # what does not grow with the input
    per_channel = DenseLayer.weight_count(1, growth_rate, **kwargs) - per_layer  # norm1 and conv1
    inputs = num_layers * in_channels + growth_rate * num_layers * (num_layers - 1) // 2
    return num_layers * per_layer + inputs * per_channel


@typechecked
@sized(_dense_block_values)
class DenseBlock(nn.ModuleDict):
    r"""`num_layers` dense layers; layer $l$ (from 0) reads $k_0 + l\,k$ channels.

    Shape:
        (N, k0, *S) -> (N, k0 + num_layers * k, *S)
    """

    def __init__(
        self,
        num_layers: int,
        in_channels: int,
        growth_rate: int,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        dim: int = 2,
    ):
        super().__init__()
        require_int("num_layers", num_layers, maximum=MAX_BLOCKS)
        self.in_channels, self.dim = in_channels, dim
        self.out_channels = in_channels + num_layers * growth_rate
        for i in range(num_layers):
            self[f"denselayer{i + 1}"] = DenseLayer(
                in_channels + i * growth_rate, growth_rate, bn_size, drop_rate, dim
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _require_input(self, x, self.dim, self.in_channels, self["denselayer1"].conv1.weight)
        features = [x]  # every earlier output stays alive: that is the memory cost
        for layer in self.values():
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> {self.out_channels}"


@typechecked
@sized(
    lambda in_channels, out_channels, **_: (
        4 * in_channels
        + 1  # norm: BatchNorm
        + in_channels * out_channels  # conv: 1x1 * in * out
    )
)
class Transition(nn.Sequential):
    r"""BN-ReLU-1x1 conv from $m$ to $\lfloor\theta m\rfloor$ channels, then 2x2 average pooling.

    Shape:
        (N, m, *S) -> (N, floor(theta * m), *S / 2)
    """

    def __init__(self, in_channels: int, out_channels: int, dim: int = 2):
        nd = layers_for(dim)
        require_int("in_channels", in_channels)
        require_int("out_channels", out_channels)
        super().__init__(
            OrderedDict(
                norm=nd.batch_norm(in_channels),
                relu=nn.ReLU(),
                conv=nd.conv(in_channels, out_channels, kernel_size=1, bias=False),
                pool=nd.avg_pool(kernel_size=2, stride=2),
            )
        )
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _require_input(self, x, self.dim, self.conv.in_channels, self.conv.weight)
        return super().forward(x)  # norm, relu, conv, pool


@typechecked
@dataclass(frozen=True)
class BlockPlan:
    """One dense block of `channel_plan`: each layer's input channels, the output, after the transition."""

    block: int
    layer_inputs: tuple[int, ...]
    out: int
    after_transition: int | None

    def __post_init__(self) -> None:
        require_int("BlockPlan: block", self.block, fix="blocks are numbered from 1")
        require_int("BlockPlan: out", self.out, fix="the channels after the block")
        if self.after_transition is not None:
            require_int(
                "BlockPlan: after_transition", self.after_transition, fix="or None after the last block"
            )


@typechecked
def channel_plan(
    growth_rate: int, block_config: Sequence[int], num_init_features: int, compression: float = 0.5
) -> list[BlockPlan]:
    """Closed-form channel bookkeeping: one row per block with the input width of every layer.

    Returns:
        One `BlockPlan` per dense block; `after_transition` is None for the last block.
    """
    require_int("growth_rate", growth_rate, fix="k is the number of channels each dense layer adds")
    require_int("num_init_features", num_init_features, fix="k0 is the number of channels of the stem")
    if not block_config:
        raise ValueError("block_config must name at least one dense block, got an empty sequence")
    for i, n in enumerate(block_config):
        require_int(
            f"block_config[{i}]", n, maximum=MAX_BLOCKS, fix="each entry is the number of layers of a block"
        )
    if sum(block_config) > MAX_BLOCKS:  # a DenseNet of these builds a layer in about a millisecond
        raise ValueError(
            f"block_config={list(block_config)} has {sum(block_config):,} dense layers in all, past "
            f"reslib.validate.MAX_BLOCKS = {MAX_BLOCKS:,} (DenseNet-201 has 98); use fewer layers"
        )
    require_float(
        "compression",
        compression,
        0.0,
        1.0,
        strict_minimum=True,
        fix="theta: a transition keeps floor(theta * m) of its m channels",
    )
    rows, c = [], num_init_features
    for b, n in enumerate(block_config):
        inputs = tuple(c + i * growth_rate for i in range(n))
        c = c + n * growth_rate
        last = b == len(block_config) - 1
        after = None if last else max(1, math.floor(compression * c))
        rows.append(BlockPlan(block=b + 1, layer_inputs=inputs, out=c, after_transition=after))
        c = after if after is not None else c
    return rows


def _densenet_values(
    growth_rate: int,
    block_config: Sequence[int],
    num_init_features: int,
    bn_size: int,
    compression: float,
    num_classes: int,
    in_channels: int,
    stem_type: str,
    dim: int,
    **_: object,
) -> int:
    """Values of a `DenseNet`: stem, dense blocks and transitions (by their formulas), norm5, classifier."""
    if len(block_config) > MAX_BLOCKS:
        return 0  # the body refuses it (a loop per block would take long)
    kernel = 7 if stem_type == "imagenet" else 3
    values = in_channels * num_init_features * (kernel if dim == 1 else kernel * kernel)  # conv0
    values += 4 * num_init_features + 1 if stem_type == "imagenet" else 0  # norm0
    theta = compression if 0.0 < compression <= 1.0 else 1.0  # the body refuses any other
    c = num_init_features
    for b, num_layers in enumerate(block_config):
        values += DenseBlock.weight_count(num_layers, c, growth_rate, bn_size, dim=dim)
        c += num_layers * growth_rate
        if b < len(block_config) - 1:
            after = max(1, math.floor(theta * c))  # as channel_plan
            values += Transition.weight_count(c, after, dim)
            c = after
    return values + 4 * c + 1 + c * num_classes + num_classes  # norm5, classifier: in * out + bias


@typechecked
@sized(_densenet_values)
class DenseNet(nn.Module):
    r"""DenseNet-BC: a stem, dense blocks joined by compressing transitions, BN, global pool, linear.

    Inside block $b$, layer $l$ computes $x_l = H_l([x_0, \dots, x_{l-1}])$ and the block outputs
    $[x_0, \dots, x_L]$ with $k_0 + L k$ channels.

    Args:
        growth_rate: k, the channels each dense layer adds.
        block_config: dense layers per block, e.g. (6, 12, 24, 16) for DenseNet-121.
        num_init_features: k0 of the first block (the stem's channels).
        bn_size: the 1x1 bottleneck has `bn_size * k` channels (4 in the paper).
        compression: theta, a transition keeps `floor(theta * m)` of its m channels.
        drop_rate: dropout after each dense layer.
        num_classes: outputs of `classifier`.
        in_channels: channels of the input.
        stem_type: "imagenet" (7x7/2 conv, BN, ReLU, 3x3/2 max pool) or "cifar" (one 3x3 conv).
        dim: 2 for images, 1 for signals (MNIST-1D).

    Shape:
        (N, in_channels, *S) -> (N, num_classes)

    Note:
        torchvision's in-place ReLUs and optional checkpointing ("memory efficient") are left out;
        the parameters, names and outputs are the same.

    References:
        Huang et al., "Densely Connected Convolutional Networks", CVPR 2017.
    """

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: Sequence[int] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        compression: float = 0.5,
        drop_rate: float = 0.0,
        num_classes: int = 1000,
        in_channels: int = 3,
        stem_type: str = "imagenet",
        dim: int = 2,
    ):
        super().__init__()
        plan = channel_plan(growth_rate, block_config, num_init_features, compression)
        require_int("bn_size", bn_size, fix="the bottleneck has bn_size * k channels")
        require_float("drop_rate", drop_rate, 0.0, 1.0)
        require_int("num_classes", num_classes)
        require_int("in_channels", in_channels)
        require_choice("stem_type", stem_type, STEM_TYPES, fix=_STEM_FIX)
        nd = layers_for(dim)
        if stem_type == "imagenet":
            layers = [
                ("conv0", nd.conv(in_channels, num_init_features, 7, stride=2, padding=3, bias=False)),
                ("norm0", nd.batch_norm(num_init_features)),
                ("relu0", nn.ReLU()),
                ("pool0", nd.max_pool(kernel_size=3, stride=2, padding=1)),
            ]
        else:
            layers = [("conv0", nd.conv(in_channels, num_init_features, 3, padding=1, bias=False))]
        self.growth_rate, self.block_config, self.stem_type = growth_rate, tuple(block_config), stem_type
        self.dim = dim
        self.features = nn.Sequential(OrderedDict(layers))
        c = num_init_features
        for row, n in zip(plan, block_config, strict=True):
            self.features.add_module(
                f"denseblock{row.block}", DenseBlock(n, c, growth_rate, bn_size, drop_rate, dim)
            )
            c = row.out
            if row.after_transition is not None:
                self.features.add_module(f"transition{row.block}", Transition(c, row.after_transition, dim))
                c = row.after_transition
        self.features.add_module("norm5", nd.batch_norm(c))
        self.num_features = c
        self.classifier = nn.Linear(c, num_classes)
        for m in self.modules():  # torchvision's init: He (fan_in) normal for convs, BN = identity
            if isinstance(m, (nn.Conv1d, nn.Conv2d)):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem, dense blocks and transitions, norm5, ReLU: (N, C_in, *S) -> (N, C, *S')."""
        _require_input(self, x, self.dim, self.features.conv0.in_channels, self.features.conv0.weight)
        return F.relu(self.features(x))  # (N, C, *S')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _require_input(self, x, self.dim, self.features.conv0.in_channels, self.features.conv0.weight)
        h = self.forward_features(x)  # (N, C, *S')
        h = torch.flatten(h, 2).mean(-1)  # global average pool: (N, C)
        return self.classifier(h)  # (N, classes)

    def extra_repr(self) -> str:
        return f"k={self.growth_rate}, blocks={self.block_config}, stem_type={self.stem_type!r}"


@typechecked
def densenet121(num_classes: int = 1000, **kwargs: object) -> DenseNet:
    """DenseNet-121: k=32, blocks (6, 12, 24, 16), k0=64 (7,978,856 parameters)."""
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes, **kwargs)


@typechecked
def densenet169(num_classes: int = 1000, **kwargs: object) -> DenseNet:
    """DenseNet-169: k=32, blocks (6, 12, 32, 32), k0=64 (14,149,480 parameters)."""
    return DenseNet(32, (6, 12, 32, 32), 64, num_classes=num_classes, **kwargs)


@typechecked
def densenet201(num_classes: int = 1000, **kwargs: object) -> DenseNet:
    """DenseNet-201: k=32, blocks (6, 12, 48, 32), k0=64 (20,013,928 parameters)."""
    return DenseNet(32, (6, 12, 48, 32), 64, num_classes=num_classes, **kwargs)


@typechecked
def densenet_bc(depth: int = 100, growth_rate: int = 12, num_classes: int = 10, **kwargs: object) -> DenseNet:
    r"""CIFAR DenseNet-BC: 3 blocks of $(L-4)/6$ bottleneck layers, k0 = 2k, theta = 0.5.

    Depth counts the conv layers: stem + 2 per dense layer + 2 transitions + classifier,
    so $L = 6n + 4$ (L=100, k=12: 0.77M parameters, 4.51% error on C10+ in the paper).
    """
    # 3 blocks of (depth - 4) / 6 layers: at most MAX_BLOCKS layers in all
    require_int("depth", depth, minimum=None, maximum=6 * (MAX_BLOCKS // 3) + 4)
    if depth < 10 or (depth - 4) % 6:
        near = max(10, 6 * round((depth - 4) / 6) + 4)
        raise ValueError(
            f"depth must be 6n + 4 with n >= 1 (10, 16, ..., 100, ...), got {depth!r}; "
            f"the nearest valid depth is {near}"
        )
    require_int("growth_rate", growth_rate, fix="k is the number of channels each dense layer adds")
    n = (depth - 4) // 6
    return DenseNet(
        growth_rate, (n, n, n), 2 * growth_rate, num_classes=num_classes, stem_type="cifar", **kwargs
    )
