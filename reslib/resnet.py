"""ResNet: the ImageNet family with torchvision's layout, and the CIFAR family of He et al.

`resnet18` ... `resnet200` build the networks of He et al. (2016a), Table 1, with
torchvision's module names (`conv1`, `bn1`, `relu`, `maxpool`, `layer1`..`layer4`,
`avgpool`, `fc`) and state_dict layout, so a torchvision state_dict loads with
`strict=True`. `cifar_resnet(depth)` builds the 6n+2 networks of section 4.2 (three
stages of 16/32/64 channels on 32/16/8 maps), with option A or B shortcuts, or
`plain=True` for the same stack without skips: the degradation experiment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import torch
from torch import nn

from reslib.blocks import BasicBlock, BlockBase, Bottleneck, NormLayer, make_stage, require_block
from reslib.guard import require_input
from reslib.layers import STEM_TYPES, layers_for
from reslib.validate import (
    MAX_BLOCKS,
    require_bool,
    require_choice,
    require_int,
    require_memory,
    require_tensor,
    sized,
    typechecked,
)

__all__ = [
    "ARCHITECTURES",
    "ResNet",
    "cifar_resnet",
    "layer_responses",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnet200",
]

_STEM_FIX = "'imagenet' is a 7x7/2 conv + 3x3/2 max-pool, 'cifar' one 3x3 conv"


def _block_values(
    block: type[nn.Module], in_channels: int, planes: int, stride: int, **kwargs: object
) -> int:
    """Values of one block: its own `@sized` formula, or an estimate for a block without one.

    A block class of yours (or a subclass of ours, which may add weights) is counted as a
    `BasicBlock` of its output width with a projection and BatchNorm: two 3x3 convs, a 1x1 conv
    and three norms, about right for a residual block, a guess for anything else.
    """
    if "weight_count" in vars(block):  # the class's own formula, not one inherited from its parent
        return block.weight_count(in_channels, planes, stride, **kwargs)
    expansion = block.expansion if isinstance(getattr(block, "expansion", None), int) else 1
    out = planes * expansion
    taps = 3 if kwargs["dim"] == 1 else 9
    return taps * (in_channels + out) * out + in_channels * out + 3 * (4 * out + 1)


def _resnet_values(
    block: type[nn.Module],
    layers: Sequence[int],
    num_classes: int,
    widths: Sequence[int],
    stem_type: str,
    in_channels: int,
    norm_layer: NormLayer | None,
    dim: int,
    shortcut_type: str,
    plain: bool,
    **_: object,
) -> int:
    """Values of a `ResNet`: the stem, each stage's blocks (by their formula) and `fc`."""
    if not layers or len(layers) != len(widths) or len(layers) > MAX_BLOCKS:
        return 0  # the body says what is wrong (a loop over many stages would take long)
    kernel = 7 if stem_type == "imagenet" else 3
    stem = in_channels * widths[0] * (kernel if dim == 1 else kernel * kernel)  # conv1: k x k * in * out
    stem += BlockBase.norm_values(norm_layer, widths[0])  # bn1
    kwargs = dict(norm_layer=norm_layer, shortcut_type=shortcut_type, plain=plain, dim=dim)
    expansion = block.expansion if isinstance(getattr(block, "expansion", None), int) else 1
    stages, channels = 0, widths[0]
    for i, (num_blocks, planes) in enumerate(zip(layers, widths, strict=True)):
        out = planes * expansion
        stages += _block_values(block, channels, planes, 1 if i == 0 else 2, **kwargs)  # the first block
        stages += (num_blocks - 1) * _block_values(block, out, planes, 1, **kwargs)  # the others are equal
        channels = out
    return stem + stages + channels * num_classes + num_classes  # fc: in * out + bias


@typechecked
@sized(_resnet_values)
class ResNet(nn.Module):
    r"""A stem, stages of residual blocks, global average pooling and a linear classifier.

    $$\text{logits} = W_{fc}\,\mathrm{GAP}\big(\mathrm{stage}_K \circ \cdots \circ \mathrm{stage}_1
    \circ \mathrm{stem}(x)\big) + b_{fc}$$

    Stage $k$ has `layers[k]` blocks of width `widths[k]`; every stage after the first
    halves the spatial size with stride 2 in its first block.

    Args:
        block: a block class: `BasicBlock`, `Bottleneck` (`reslib.blocks`), `PreActBlock`,
            `PreActBottleneck` (`reslib.preact`), or your own (an `expansion` and a `zero_init_last()`;
            it is called as `block(in_channels, planes, stride, norm_layer=, shortcut_type=, plain=, dim=)`).
        layers: blocks per stage, e.g. `[2, 2, 2, 2]` for ResNet-18.
        num_classes: outputs of `fc`.
        widths: `planes` of each stage (the bottleneck width for bottleneck blocks).
        stem_type: `"imagenet"` (7x7/2 conv + 3x3/2 max-pool) or `"cifar"` (3x3/1 conv, no pooling).
        in_channels: channels of the input (3 for RGB images, 1 for MNIST-1D signals).
        shortcut_type: `"B"` (1x1 projection) or `"A"` (zero padding) where a stage changes the shape.
        plain: drop every skip connection (same layers, same parameters with option A).
        zero_init_residual: zero the last norm (or conv) of every block: each block starts as its shortcut.
        norm_layer: `channels -> module`; BatchNorm by default.
        dim: 2 for images, 1 for signals.
        stride_in_1x1: bottleneck blocks only: put the downsampling stride on the first 1x1 conv
            (He et al.'s original placement) instead of the 3x3 conv (torchvision's "v1.5").

    Shape:
        (N, in_channels, H, W) -> (N, num_classes); with `dim=1`, (N, in_channels, L) -> (N, num_classes).

    Note:
        The downsampling stride of a bottleneck sits on its 3x3 conv, as in torchvision
        ("ResNet v1.5"); He et al. put it on the first 1x1 conv (`stride_in_1x1=True`). The
        parameter count is the same; v1.5 costs more FLOPs (ResNet-50: 4.09 vs 3.86 GMACs).

    References:
        He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, Table 1 and section 4.2.
    """

    def __init__(
        self,
        block: type[nn.Module],
        layers: Sequence[int],
        num_classes: int = 1000,
        widths: Sequence[int] = (64, 128, 256, 512),
        stem_type: str = "imagenet",
        in_channels: int = 3,
        shortcut_type: str = "B",
        plain: bool = False,
        zero_init_residual: bool = False,
        norm_layer: NormLayer | None = None,
        dim: int = 2,
        stride_in_1x1: bool = False,
    ):
        super().__init__()
        require_block(block)
        layers, widths = list(layers), list(widths)
        if not layers or len(layers) != len(widths):
            raise ValueError(f"give one width per stage: got layers={layers} and widths={widths}")
        for i, n in enumerate(layers):
            require_int(
                f"layers[{i}]", n, maximum=MAX_BLOCKS, fix="each entry is the number of blocks of a stage"
            )
        if sum(layers) > MAX_BLOCKS:  # a block takes about a millisecond to build
            raise ValueError(
                f"layers={layers} has {sum(layers):,} blocks in all, past reslib.validate.MAX_BLOCKS = "
                f"{MAX_BLOCKS:,} (the deepest network of the series, ResNet-1001, has 333); use fewer blocks"
            )
        require_int("num_classes", num_classes)
        require_int("in_channels", in_channels)
        require_choice("stem_type", stem_type, STEM_TYPES, fix=_STEM_FIX)
        require_bool("plain", plain)
        require_bool("zero_init_residual", zero_init_residual)
        nd = layers_for(dim)
        norm = norm_layer or nd.batch_norm
        self.stem_type, self.plain, self.dim = stem_type, plain, dim
        # the stem, in torchvision's order: conv1, bn1, relu, maxpool
        if stem_type == "imagenet":
            self.conv1 = nd.conv(in_channels, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        else:
            self.conv1 = nd.conv(in_channels, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = norm(widths[0])
        self.relu = nn.ReLU()
        self.maxpool = (
            nd.max_pool(kernel_size=3, stride=2, padding=1) if stem_type == "imagenet" else nn.Identity()
        )
        channels = widths[0]
        kwargs = dict(norm_layer=norm_layer, shortcut_type=shortcut_type, plain=plain, dim=dim)
        if require_bool("stride_in_1x1", stride_in_1x1):
            if not issubclass(block, Bottleneck):
                raise ValueError(
                    f"stride_in_1x1 moves a Bottleneck's stride to its first 1x1 conv, but "
                    f"{block.__name__} has no such conv; use block=Bottleneck or stride_in_1x1=False"
                )
            kwargs["stride_in_1x1"] = True
        for i, (num_blocks, planes) in enumerate(zip(layers, widths, strict=True)):
            stage, channels = make_stage(block, channels, planes, num_blocks, 1 if i == 0 else 2, **kwargs)
            setattr(self, f"layer{i + 1}", stage)
        self.num_stages = len(layers)
        self.avgpool = nd.adaptive_avg_pool(1 if dim == 1 else (1, 1))
        self.fc = nn.Linear(channels, num_classes)
        self._init_weights(zero_init_residual)

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
            if m is not self and hasattr(m, "zero_init_last"):
                m.zero_init_last()

    def stages(self) -> list[nn.Sequential]:
        """`[layer1, layer2, ...]`."""
        return [getattr(self, f"layer{i + 1}") for i in range(self.num_stages)]

    def _require_input(self, x: object) -> torch.Tensor:
        """(N, in_channels, H, W) floats (or (N, in_channels, L)) of the weights' dtype and device."""
        try:
            return require_input(
                self,
                x,
                self.dim + 2,
                size=(1, self.conv1.in_channels),
                like=self.conv1.weight,
                layout="(N, C, H, W)" if self.dim == 2 else "(N, C, L)",
            )
        except ValueError:
            if x.ndim == self.dim + 1 and self.conv1.in_channels == 1 and x.shape[0] != 1:
                layout = "(N, 1, H, W)" if self.dim == 2 else "(N, 1, L)"
                raise ValueError(  # (N, L) signals, not one example without its batch axis
                    f"{type(self).__name__}.forward: x must have {self.dim + 2} dimensions {layout}, got "
                    f"shape {tuple(x.shape)}; add the channel axis with x.unsqueeze(1)"
                ) from None
            raise

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and stages: (N, C_in, H, W) -> (N, C_last, H / s, W / s)."""
        self._require_input(x)
        x = self.conv1(x)  # (N, C_0, H / 2, W / 2) for the ImageNet stem
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)  # (N, C_0, H / 4, W / 4) for the ImageNet stem
        for stage in self.stages():
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._require_input(x)
        x = self.avgpool(self.forward_features(x))  # (N, C, 1, 1)
        return self.fc(torch.flatten(x, 1))  # (N, num_classes)

    def extra_repr(self) -> str:
        return f"stem_type={self.stem_type!r}, stages={self.num_stages}, plain={self.plain}, dim={self.dim}"


# name -> (block, blocks per stage): He et al. (2016a) Table 1, and (2016b) for ResNet-200.
# The factories below read this table; it is the one place the architectures are written. Read-only
# (a MappingProxyType): a notebook that assigns to it would change what resnet50() builds everywhere.
ARCHITECTURES: Mapping[str, tuple[type[nn.Module], tuple[int, ...]]] = MappingProxyType(
    {
        "ResNet-18": (BasicBlock, (2, 2, 2, 2)),
        "ResNet-34": (BasicBlock, (3, 4, 6, 3)),
        "ResNet-50": (Bottleneck, (3, 4, 6, 3)),
        "ResNet-101": (Bottleneck, (3, 4, 23, 3)),
        "ResNet-152": (Bottleneck, (3, 8, 36, 3)),
        "ResNet-200": (Bottleneck, (3, 24, 36, 3)),
    }
)


@typechecked
def resnet18(**kwargs: object) -> ResNet:
    """ResNet-18: BasicBlock, [2, 2, 2, 2], 11,689,512 parameters with 1000 classes."""
    return ResNet(*ARCHITECTURES["ResNet-18"], **kwargs)


@typechecked
def resnet34(**kwargs: object) -> ResNet:
    """ResNet-34: BasicBlock, [3, 4, 6, 3], 21,797,672 parameters."""
    return ResNet(*ARCHITECTURES["ResNet-34"], **kwargs)


@typechecked
def resnet50(**kwargs: object) -> ResNet:
    """ResNet-50: Bottleneck, [3, 4, 6, 3], 25,557,032 parameters."""
    return ResNet(*ARCHITECTURES["ResNet-50"], **kwargs)


@typechecked
def resnet101(**kwargs: object) -> ResNet:
    """ResNet-101: Bottleneck, [3, 4, 23, 3], 44,549,160 parameters."""
    return ResNet(*ARCHITECTURES["ResNet-101"], **kwargs)


@typechecked
def resnet152(**kwargs: object) -> ResNet:
    """ResNet-152: Bottleneck, [3, 8, 36, 3], 60,192,808 parameters."""
    return ResNet(*ARCHITECTURES["ResNet-152"], **kwargs)


@typechecked
def resnet200(**kwargs: object) -> ResNet:
    """ResNet-200 (He et al., ECCV 2016): Bottleneck, [3, 24, 36, 3], 64,673,832 parameters.

    Note:
        The paper's ResNet-200 uses pre-activation blocks; pass `block` via `ResNet` directly
        (`ResNet(PreActBottleneck, [3, 24, 36, 3])`) for that variant.
    """
    return ResNet(*ARCHITECTURES["ResNet-200"], **kwargs)


@typechecked
def cifar_resnet(
    depth: int,
    shortcut_type: str = "A",
    plain: bool = False,
    num_classes: int = 10,
    width: int = 16,
    in_channels: int = 3,
    dim: int = 2,
    block: type[nn.Module] = BasicBlock,
    **kwargs: object,
) -> ResNet:
    r"""The CIFAR-10 networks of He et al. (2016a), section 4.2: depth $= 6n + 2$.

    A 3x3 conv, three stages of $n$ basic blocks with `width`, `2 width`, `4 width` channels
    (16/32/64 on 32/16/8 maps for CIFAR), global average pooling and `fc`: $6n$ stacked
    3x3 convs plus the first conv and `fc`.

    Args:
        depth: 20, 32, 44, 56, 110, ... (any $6n + 2$ with $n \ge 1$).
        shortcut_type: `"A"` (zero padding, parameter-free, the paper's choice) or `"B"` (1x1 projection).
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
    require_int("depth", depth, minimum=None)
    if depth < 8 or (depth - 2) % 6:
        near = max(8, 6 * round((depth - 2) / 6) + 2)
        raise ValueError(
            f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got "
            f"{depth!r}; the nearest valid depth is {near}"
        )
    # 3 stages of (depth - 2) / 6 blocks: at most MAX_BLOCKS in all (depth 1202 has 600)
    require_int(
        "depth", depth, maximum=6 * (MAX_BLOCKS // 3) + 2, fix="a network this deep has 3 stages of n blocks"
    )
    require_int("width", width)
    require_memory(
        "sizes", dict(depth=depth, width=width), 4 * 9 * (4 * width) ** 2 * depth
    )  # 3x3 convs, <= 4w wide
    n = (depth - 2) // 6
    return ResNet(
        block,
        [n, n, n],
        num_classes=num_classes,
        widths=(width, 2 * width, 4 * width),
        stem_type="cifar",
        in_channels=in_channels,
        shortcut_type=shortcut_type,
        plain=plain,
        dim=dim,
        **kwargs,
    )


@typechecked
def layer_responses(model: ResNet, x: torch.Tensor) -> list[float]:
    r"""He et al.'s layer responses: the std of each stage conv's output after BN, before ReLU or addition.

    Forward hooks on every norm layer inside `layer1`, `layer2`, ... (not the stem's, not a
    projection shortcut's) record the standard deviation of its output over the whole batch, in
    the order the layers run; the model is evaluated in eval mode (running statistics), without
    gradients, and left in the mode it was in.

    Args:
        model: a `ResNet` (or its plain twin) with BatchNorm in its blocks.
        x: one batch of inputs, (N, C, *S).

    Returns:
        One std per normalised layer: for a basic block `bn1` then `bn2`, so 2 per block.

    References:
        He et al. (2016a), section 4.2 and Fig. 7: the responses of residual nets are smaller
        than those of their plain twins, as if each residual function were close to zero.
    """
    x = require_tensor(
        "x", x, ndim=(3, 4, 5), dtype="float", fix="pass one batch of inputs, (N, C, *S)", finite=True
    )
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
    stds: list[float] = []
    hooks = [
        module.register_forward_hook(lambda _module, _inputs, out: stds.append(out.std().item()))
        for name, module in model.named_modules()
        if name.startswith("layer") and "downsample" not in name and isinstance(module, norms)
    ]
    if not hooks:
        raise ValueError(
            "layer_responses: the model has no BatchNorm inside its stages (layer1, layer2, ...)"
        )
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return stds
