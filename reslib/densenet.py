"""DenseNet: every layer sees the concatenation of all earlier feature maps.

A residual block *adds*, $x_{l} = x_{l-1} + F_l(x_{l-1})$; a dense layer
*concatenates*, $x_l = F_l([x_0, x_1, \\dots, x_{l-1}])$, so the input of layer
$l$ in a block has $k_0 + l\\,k$ channels (growth rate $k$). Module names and
state_dict layout follow torchvision's `models/densenet.py`
(`features.denseblockN.denselayerM.norm1/conv1/norm2/conv2`,
`features.transitionN`, `features.norm5`, `classifier`), so a torchvision
state_dict loads strictly.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "DenseBlock",
    "DenseLayer",
    "DenseNet",
    "Transition",
    "channel_plan",
    "densenet121",
    "densenet169",
    "densenet201",
    "densenet_bc",
    "densenet_parameter_count",
    "saved_tensor_bytes",
]


def _modules(dim: int) -> tuple[type[nn.Module], type[nn.Module], type[nn.Module]]:
    if dim == 1:
        return nn.Conv1d, nn.BatchNorm1d, nn.AvgPool1d
    if dim == 2:
        return nn.Conv2d, nn.BatchNorm2d, nn.AvgPool2d
    raise ValueError(f"dim must be 1 (signals) or 2 (images), got {dim!r}")


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _check_plan(growth_rate: int, block_config: Sequence[int], num_init_features: int,
                bn_size: int, compression: float) -> None:
    _positive_int("growth_rate (k, channels each dense layer adds)", growth_rate)
    _positive_int("num_init_features (k0, channels of the stem)", num_init_features)
    _positive_int("bn_size (the bottleneck has bn_size * k channels)", bn_size)
    if isinstance(block_config, (str, bytes)) or not isinstance(block_config, Sequence) or not block_config:
        raise ValueError(f"block_config must be a non-empty sequence of layer counts, got {block_config!r}")
    for n in block_config:
        _positive_int("every entry of block_config (layers per dense block)", n)
    if isinstance(compression, bool) or not isinstance(compression, (int, float)) or not 0 < compression <= 1:
        raise ValueError(f"compression (theta) must be in (0, 1], got {compression!r}")


class DenseLayer(nn.Module):
    r"""The bottleneck dense layer: BN-ReLU-1x1 conv to $4k$, BN-ReLU-3x3 conv to $k$.

    $x_l = W_2 * \mathrm{ReLU}(\mathrm{BN}(W_1 * \mathrm{ReLU}(\mathrm{BN}([x_0, \dots, x_{l-1}]))))$.

    Shape:
        (N, in_channels, *S) -> (N, growth_rate, *S): only the *new* features.
    """

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int = 4, drop_rate: float = 0.0,
                 dim: int = 2):
        super().__init__()
        conv, norm, _ = _modules(dim)
        self.in_channels, self.growth_rate, self.drop_rate = in_channels, growth_rate, float(drop_rate)
        self.norm1 = norm(in_channels)
        self.relu1 = nn.ReLU()
        self.conv1 = conv(in_channels, bn_size * growth_rate, kernel_size=1, bias=False)
        self.norm2 = norm(bn_size * growth_rate)
        self.relu2 = nn.ReLU()
        self.conv2 = conv(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.relu1(self.norm1(x)))  # (N, bn_size*k, *S)
        h = self.conv2(self.relu2(self.norm2(h)))  # (N, k, *S)
        return F.dropout(h, p=self.drop_rate, training=self.training) if self.drop_rate else h

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> +{self.growth_rate}"


class DenseBlock(nn.ModuleDict):
    r"""`num_layers` dense layers; layer $l$ (from 0) reads $k_0 + l\,k$ channels.

    Shape:
        (N, k0, *S) -> (N, k0 + num_layers * k, *S)
    """

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, bn_size: int = 4,
                 drop_rate: float = 0.0, dim: int = 2):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = in_channels + num_layers * growth_rate
        for i in range(num_layers):
            self[f"denselayer{i + 1}"] = DenseLayer(in_channels + i * growth_rate, growth_rate,
                                                    bn_size, drop_rate, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]  # every earlier output stays alive: that is the memory cost
        for layer in self.values():
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> {self.out_channels}"


class Transition(nn.Sequential):
    r"""BN-ReLU-1x1 conv from $m$ to $\lfloor\theta m\rfloor$ channels, then 2x2 average pooling.

    Shape:
        (N, m, *S) -> (N, floor(theta * m), *S / 2)
    """

    def __init__(self, in_channels: int, out_channels: int, dim: int = 2):
        conv, norm, pool = _modules(dim)
        super().__init__(OrderedDict(norm=norm(in_channels), relu=nn.ReLU(),
                                     conv=conv(in_channels, out_channels, kernel_size=1, bias=False),
                                     pool=pool(kernel_size=2, stride=2)))


def channel_plan(growth_rate: int, block_config: Sequence[int], num_init_features: int,
                 compression: float = 0.5) -> list[dict]:
    """Closed-form channel bookkeeping: one row per block with the input width of every layer.

    Returns:
        A list of dicts `{block, layer_inputs, out, after_transition}`; `after_transition`
        is None for the last block.
    """
    _check_plan(growth_rate, block_config, num_init_features, 1, compression)
    rows, c = [], num_init_features
    for b, n in enumerate(block_config):
        inputs = [c + i * growth_rate for i in range(n)]
        c = c + n * growth_rate
        last = b == len(block_config) - 1
        after = None if last else max(1, math.floor(compression * c))
        rows.append(dict(block=b + 1, layer_inputs=inputs, out=c, after_transition=after))
        c = after if after is not None else c
    return rows


def densenet_parameter_count(growth_rate: int, block_config: Sequence[int], num_init_features: int,
                             bn_size: int = 4, compression: float = 0.5, num_classes: int = 1000,
                             in_channels: int = 3, stem: str = "imagenet") -> int:
    """The parameters of `DenseNet(...)` without building it (used live by the explorer).

    A dense layer reading $c$ channels costs $2c + 4kc + 2\\cdot 4k + 9\\cdot 4k\\cdot k$ (BN, 1x1, BN, 3x3).
    """
    _check_plan(growth_rate, block_config, num_init_features, bn_size, compression)
    b = bn_size * growth_rate
    total = (in_channels * num_init_features * 49 + 2 * num_init_features if stem == "imagenet"
             else in_channels * num_init_features * 9)
    for row in channel_plan(growth_rate, block_config, num_init_features, compression):
        total += sum(2 * c + c * b + 2 * b + 9 * b * growth_rate for c in row["layer_inputs"])
        if row["after_transition"] is not None:
            total += 2 * row["out"] + row["out"] * row["after_transition"]
    c = row["out"]
    return total + 2 * c + c * num_classes + num_classes


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
        stem: "imagenet" (7x7/2 conv, BN, ReLU, 3x3/2 max pool) or "cifar" (one 3x3 conv).
        dim: 2 for images, 1 for signals (MNIST-1D).

    Shape:
        (N, in_channels, *S) -> (N, num_classes)

    Note:
        torchvision's in-place ReLUs and optional checkpointing ("memory efficient") are left out;
        the parameters, names and outputs are the same.

    References:
        Huang et al., "Densely Connected Convolutional Networks", CVPR 2017.
    """

    def __init__(self, growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, compression: float = 0.5,
                 drop_rate: float = 0.0, num_classes: int = 1000, in_channels: int = 3,
                 stem: str = "imagenet", dim: int = 2):
        super().__init__()
        _check_plan(growth_rate, block_config, num_init_features, bn_size, compression)
        _positive_int("num_classes", num_classes)
        _positive_int("in_channels", in_channels)
        conv, norm, _ = _modules(dim)
        if stem == "imagenet":
            maxpool = nn.MaxPool1d if dim == 1 else nn.MaxPool2d
            layers = [("conv0", conv(in_channels, num_init_features, 7, stride=2, padding=3, bias=False)),
                      ("norm0", norm(num_init_features)), ("relu0", nn.ReLU()),
                      ("pool0", maxpool(kernel_size=3, stride=2, padding=1))]
        elif stem == "cifar":
            layers = [("conv0", conv(in_channels, num_init_features, 3, padding=1, bias=False))]
        else:
            raise ValueError(f"stem must be 'imagenet' (7x7/2 conv + max pool) or 'cifar' (3x3 conv), "
                             f"got {stem!r}")
        self.growth_rate, self.block_config, self.stem = growth_rate, tuple(block_config), stem
        self.features = nn.Sequential(OrderedDict(layers))
        plan = channel_plan(growth_rate, block_config, num_init_features, compression)
        c = num_init_features
        for row, n in zip(plan, block_config, strict=True):
            self.features.add_module(f"denseblock{row['block']}",
                                     DenseBlock(n, c, growth_rate, bn_size, drop_rate, dim))
            c = row["out"]
            if row["after_transition"] is not None:
                self.features.add_module(f"transition{row['block']}",
                                         Transition(c, row["after_transition"], dim))
                c = row["after_transition"]
        self.features.add_module("norm5", norm(c))
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
        return F.relu(self.features(x))  # (N, C, *S')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.forward_features(x)
        return self.classifier(torch.flatten(h, 2).mean(-1))  # global average pool -> (N, classes)

    def extra_repr(self) -> str:
        return f"k={self.growth_rate}, blocks={self.block_config}, stem={self.stem!r}"


def densenet121(num_classes: int = 1000, **kwargs) -> DenseNet:
    """DenseNet-121: k=32, blocks (6, 12, 24, 16), k0=64 (7,978,856 parameters)."""
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes, **kwargs)


def densenet169(num_classes: int = 1000, **kwargs) -> DenseNet:
    """DenseNet-169: k=32, blocks (6, 12, 32, 32), k0=64 (14,149,480 parameters)."""
    return DenseNet(32, (6, 12, 32, 32), 64, num_classes=num_classes, **kwargs)


def densenet201(num_classes: int = 1000, **kwargs) -> DenseNet:
    """DenseNet-201: k=32, blocks (6, 12, 48, 32), k0=64 (20,013,928 parameters)."""
    return DenseNet(32, (6, 12, 48, 32), 64, num_classes=num_classes, **kwargs)


def densenet_bc(depth: int = 100, growth_rate: int = 12, num_classes: int = 10, **kwargs) -> DenseNet:
    r"""CIFAR DenseNet-BC: 3 blocks of $(L-4)/6$ bottleneck layers, k0 = 2k, theta = 0.5.

    Depth counts the conv layers: stem + 2 per dense layer + 2 transitions + classifier,
    so $L = 6n + 4$ (L=100, k=12: 0.77M parameters, 4.51% error on C10+ in the paper).
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
        raise ValueError(f"depth must be 6n + 4 with n >= 1 (10, 16, ..., 100, ...), got {depth!r}")
    _positive_int("growth_rate (k, channels each dense layer adds)", growth_rate)
    n = (depth - 4) // 6
    return DenseNet(growth_rate, (n, n, n), 2 * growth_rate, num_classes=num_classes, stem="cifar",
                    **kwargs)


def saved_tensor_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of `model(x).sum()`.

    Each storage is counted once (a view shares its base's memory); parameters are excluded.
    """
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum()
    return sum(seen.values())
