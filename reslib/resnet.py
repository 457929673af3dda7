"""ResNet: the ImageNet family with torchvision's layout, and the CIFAR family of He et al.

`resnet18` ... `resnet200` build the networks of He et al. (2016a), Table 1, with
torchvision's module names (`conv1`, `bn1`, `relu`, `maxpool`, `layer1`..`layer4`,
`avgpool`, `fc`) and state_dict layout, so a torchvision state_dict loads with
`strict=True`. `cifar_resnet(depth)` builds the 6n+2 networks of section 4.2 (three
stages of 16/32/64 channels on 32/16/8 maps), with option A or B shortcuts, or
`plain=True` for the same stack without skips: the degradation experiment.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reslib.blocks import BLOCKS, BasicBlock, Bottleneck, NormLayer, make_stage

__all__ = [
    "ARCHITECTURES",
    "ResNet",
    "cifar_resnet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnet200",
    "stage_costs",
]

_STEMS = ("imagenet", "cifar")


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


class ResNet(nn.Module):
    r"""A stem, stages of residual blocks, global average pooling and a linear classifier.

    $$\text{logits} = W_{fc}\,\mathrm{GAP}\big(\mathrm{stage}_K \circ \cdots \circ \mathrm{stage}_1
    \circ \mathrm{stem}(x)\big) + b_{fc}$$

    Stage $k$ has `layers[k]` blocks of width `widths[k]`; every stage after the first
    halves the spatial size with stride 2 in its first block.

    Args:
        block: one of `reslib.blocks`' `BasicBlock`, `Bottleneck`, `PreActBlock`, `PreActBottleneck`.
        layers: blocks per stage, e.g. `[2, 2, 2, 2]` for ResNet-18.
        num_classes: outputs of `fc`.
        widths: `planes` of each stage (the bottleneck width for bottleneck blocks).
        stem: `"imagenet"` (7x7/2 conv + 3x3/2 max-pool) or `"cifar"` (3x3/1 conv, no pooling).
        in_channels: channels of the input (3 for RGB images, 1 for MNIST-1D signals).
        shortcut: `"B"` (1x1 projection), `"A"` (zero padding), passed to every block.
        plain: drop every skip connection (same layers, same parameters with option A).
        zero_init_residual: zero the last norm (or conv) of every block: each block starts as its shortcut.
        norm_layer: `channels -> module`; BatchNorm by default.
        dim: 2 for images, 1 for signals.

    Shape:
        (N, in_channels, H, W) -> (N, num_classes); with `dim=1`, (N, in_channels, L) -> (N, num_classes).

    Note:
        The downsampling stride of a bottleneck sits on its 3x3 conv, as in torchvision
        ("ResNet v1.5"); He et al. put it on the first 1x1 conv. The parameter count is the same.

    References:
        He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, Table 1 and section 4.2.
    """

    def __init__(self, block: type[nn.Module], layers: Sequence[int], num_classes: int = 1000,
                 widths: Sequence[int] = (64, 128, 256, 512), stem: str = "imagenet",
                 in_channels: int = 3, shortcut: str = "B", plain: bool = False,
                 zero_init_residual: bool = False, norm_layer: NormLayer | None = None, dim: int = 2):
        super().__init__()
        if block not in BLOCKS:
            raise TypeError(f"block must be one of {[b.__name__ for b in BLOCKS]}, got {block!r}")
        layers, widths = list(layers), list(widths)
        if not layers or len(layers) != len(widths):
            raise ValueError(f"give one width per stage: got layers={layers} and widths={widths}")
        for name, value in [("num_classes", num_classes), ("in_channels", in_channels)]:
            _positive_int(name, value)
        if stem not in _STEMS:
            raise ValueError(f"stem must be 'imagenet' (7x7/2 conv + max-pool) or 'cifar' (3x3 conv), "
                             f"got {stem!r}")
        if dim not in (1, 2):
            raise ValueError(f"dim must be 1 (signals) or 2 (images), got {dim!r}")
        conv = nn.Conv1d if dim == 1 else nn.Conv2d
        norm = norm_layer or (nn.BatchNorm1d if dim == 1 else nn.BatchNorm2d)
        self.stem, self.plain, self.dim = stem, plain, dim
        if stem == "imagenet":
            self.conv1 = conv(in_channels, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
            self.maxpool = (nn.MaxPool1d if dim == 1 else nn.MaxPool2d)(kernel_size=3, stride=2, padding=1)
        else:
            self.conv1 = conv(in_channels, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = norm(widths[0])
        self.relu = nn.ReLU()
        channels = widths[0]
        kwargs = dict(norm_layer=norm_layer, shortcut=None if plain else shortcut, dim=dim)
        for i, (num_blocks, planes) in enumerate(zip(layers, widths, strict=True)):
            stage, channels = make_stage(block, channels, planes, num_blocks, 1 if i == 0 else 2, **kwargs)
            setattr(self, f"layer{i + 1}", stage)
        self.num_stages = len(layers)
        self.avgpool = nn.AdaptiveAvgPool1d(1) if dim == 1 else nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(channels, num_classes)
        self._init_weights(zero_init_residual)
        # torchvision registers conv1, bn1, relu, maxpool: keep that order in state_dict and repr
        self._modules = {k: self._modules[k] for k in
                         ["conv1", "bn1", "relu", "maxpool",
                          *[f"layer{i + 1}" for i in range(self.num_stages)], "avgpool", "fc"]}

    def _init_weights(self, zero_init_residual: bool) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d)):
                # Kaiming (He) init, fan_out: a conv followed by ReLU keeps the variance of the
                # *gradients* flowing back through it (fan_out = C_out * k * k), as torchvision does;
                # with BN after every conv the forward scale is reset anyway.
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            self.zero_init_last()

    def zero_init_last(self) -> None:
        """Call every block's `zero_init_last()`: each block then computes its shortcut (Goyal et al.)."""
        for m in self.modules():
            if isinstance(m, BLOCKS):
                m.zero_init_last()

    def stages(self) -> list[nn.Sequential]:
        """`[layer1, layer2, ...]`."""
        return [getattr(self, f"layer{i + 1}") for i in range(self.num_stages)]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and stages: (N, C_in, H, W) -> (N, C_last, H / s, W / s)."""
        if x.dim() != self.dim + 2:
            raise ValueError(f"input must have shape (N, C, {'H, W' if self.dim == 2 else 'L'}), got "
                             f"{tuple(x.shape)}" + ("; add a channel axis with x.unsqueeze(1)"
                                                    if x.dim() == self.dim + 1 else ""))
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in self.stages():
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.forward_features(x))  # (N, C, 1, 1)
        return self.fc(torch.flatten(x, 1))  # (N, num_classes)

    def extra_repr(self) -> str:
        return f"stem={self.stem!r}, stages={self.num_stages}, plain={self.plain}, dim={self.dim}"


def resnet18(**kwargs) -> ResNet:
    """ResNet-18: BasicBlock, [2, 2, 2, 2], 11,689,512 parameters with 1000 classes."""
    return ResNet(BasicBlock, [2, 2, 2, 2], **kwargs)


def resnet34(**kwargs) -> ResNet:
    """ResNet-34: BasicBlock, [3, 4, 6, 3], 21,797,672 parameters."""
    return ResNet(BasicBlock, [3, 4, 6, 3], **kwargs)


def resnet50(**kwargs) -> ResNet:
    """ResNet-50: Bottleneck, [3, 4, 6, 3], 25,557,032 parameters."""
    return ResNet(Bottleneck, [3, 4, 6, 3], **kwargs)


def resnet101(**kwargs) -> ResNet:
    """ResNet-101: Bottleneck, [3, 4, 23, 3], 44,549,160 parameters."""
    return ResNet(Bottleneck, [3, 4, 23, 3], **kwargs)


def resnet152(**kwargs) -> ResNet:
    """ResNet-152: Bottleneck, [3, 8, 36, 3], 60,192,808 parameters."""
    return ResNet(Bottleneck, [3, 8, 36, 3], **kwargs)


def resnet200(**kwargs) -> ResNet:
    """ResNet-200 (He et al., ECCV 2016): Bottleneck, [3, 24, 36, 3], 64,673,832 parameters.

    Note:
        The paper's ResNet-200 uses pre-activation blocks; pass `block` via `ResNet` directly
        (`ResNet(PreActBottleneck, [3, 24, 36, 3])`) for that variant.
    """
    return ResNet(Bottleneck, [3, 24, 36, 3], **kwargs)


def cifar_resnet(depth: int, shortcut: str = "A", plain: bool = False, num_classes: int = 10,
                 width: int = 16, in_channels: int = 3, dim: int = 2,
                 block: type[nn.Module] = BasicBlock, **kwargs) -> ResNet:
    r"""The CIFAR-10 networks of He et al. (2016a), section 4.2: depth $= 6n + 2$.

    A 3x3 conv, three stages of $n$ basic blocks with `width`, `2 width`, `4 width` channels
    (16/32/64 on 32/16/8 maps for CIFAR), global average pooling and `fc`: $6n$ stacked
    3x3 convs plus the first conv and `fc`.

    Args:
        depth: 20, 32, 44, 56, 110, ... (any $6n + 2$ with $n \ge 1$).
        shortcut: `"A"` (zero padding, parameter-free, the paper's choice) or `"B"` (1x1 projection).
        plain: the same stack without skips.
        num_classes: outputs of `fc`.
        width: channels of the first stage (16 in the paper; smaller for CPU-scale experiments).
        in_channels: 3 for images, 1 for a signal.
        dim: 2 for images, 1 for signals (MNIST-1D: input (N, 1, 40)).
        block: `BasicBlock` (the paper) or `PreActBlock`.
        **kwargs: passed on to `ResNet` (e.g. `zero_init_residual=True`, `norm_layer`).

    Returns:
        A `ResNet` with `layer1..layer3`; option A has 0.27M, 0.46M, 0.66M, 0.85M, 1.7M parameters
        for depth 20, 32, 44, 56, 110.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        near = max(8, 6 * round((depth - 2) / 6) + 2) if isinstance(depth, (int, float)) else 20
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got "
                         f"{depth!r}; the nearest valid depth is {near}")
    _positive_int("width", width)
    n = (depth - 2) // 6
    return ResNet(block, [n, n, n], num_classes=num_classes, widths=(width, 2 * width, 4 * width),
                  stem="cifar", in_channels=in_channels, shortcut=shortcut, plain=plain, dim=dim,
                  **kwargs)


# name -> (block, blocks per stage): He et al. (2016a) Table 1, and (2016b) for ResNet-200
ARCHITECTURES: dict[str, tuple[type[nn.Module], list[int]]] = {
    "ResNet-18": (BasicBlock, [2, 2, 2, 2]),
    "ResNet-34": (BasicBlock, [3, 4, 6, 3]),
    "ResNet-50": (Bottleneck, [3, 4, 6, 3]),
    "ResNet-101": (Bottleneck, [3, 4, 23, 3]),
    "ResNet-152": (Bottleneck, [3, 8, 36, 3]),
    "ResNet-200": (Bottleneck, [3, 24, 36, 3]),
}


def _conv_row(k: int, c_in: int, c_out: int, positions: int) -> tuple[int, int]:
    return k * k * c_in * c_out, 2 * k * k * c_in * c_out * positions


def stage_costs(block: type[nn.Module], layers: Sequence[int], widths: Sequence[int] = (64, 128, 256, 512),
                stem: str = "imagenet", image_size: int = 224, in_channels: int = 3,
                num_classes: int = 1000, shortcut: str = "B") -> list[dict]:
    r"""Shapes, parameters and FLOPs per stage of `ResNet(block, layers, ...)`, in closed form.

    No network is built: each conv costs $k^2 C_{in} C_{out}$ weights and twice that many
    FLOPs per output position; each BN $2C$ parameters. `tests/test_resnet.py` checks every
    number against `reslib.counting.parameter_table` on the real model.

    Returns:
        One dict per row (`stem`, `layer1`.., `head`) with `name`, `shape` (C, H, W) of the
        output, `blocks`, `params`, `flops` (for one image).
    """
    if block not in (BasicBlock, Bottleneck):
        raise TypeError(f"block must be BasicBlock or Bottleneck, got {block!r}")
    if stem not in _STEMS:
        raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")
    _positive_int("image_size", image_size)
    if stem == "imagenet":
        size = (image_size + 1) // 2  # 7x7/2 conv, padding 3
        p, f = _conv_row(7, in_channels, widths[0], size * size)
        size = (size + 1) // 2  # 3x3/2 max-pool, padding 1
    else:
        size = image_size
        p, f = _conv_row(3, in_channels, widths[0], size * size)
    rows = [dict(name="stem", shape=(widths[0], size, size), blocks=0, params=p + 2 * widths[0], flops=f)]
    channels = widths[0]
    for i, (n, planes) in enumerate(zip(layers, widths, strict=True)):
        params = flops = 0
        for j in range(n):
            stride = 2 if i > 0 and j == 0 else 1
            out_size = (size + 1) // 2 if stride == 2 else size
            pos_in, pos = size * size, out_size * out_size
            out = planes * block.expansion
            if block is BasicBlock:
                convs = [_conv_row(3, channels, planes, pos), _conv_row(3, planes, planes, pos)]
                bn = 2 * planes + 2 * planes
            else:
                convs = [_conv_row(1, channels, planes, pos_in), _conv_row(3, planes, planes, pos),
                         _conv_row(1, planes, out, pos)]
                bn = 2 * planes + 2 * planes + 2 * out
            if shortcut == "B" and (stride != 1 or channels != out):
                convs.append(_conv_row(1, channels, out, pos))
                bn += 2 * out
            params += sum(c[0] for c in convs) + bn
            flops += sum(c[1] for c in convs)
            channels, size = out, out_size
        rows.append(dict(name=f"layer{i + 1}", shape=(channels, size, size), blocks=n, params=params,
                         flops=flops))
    rows.append(dict(name="head", shape=(num_classes,), blocks=0,
                     params=channels * num_classes + num_classes, flops=2 * channels * num_classes))
    return rows
