r"""What a network costs: parameters, FLOPs and memory, measured on a model or in closed form.

Measured: `count_parameters`, `parameter_table`, `count_flops` (PyTorch's FLOP counter) and
`saved_tensor_bytes` run on a real model. In closed form, without building it: one formula for
a convolution, $k^2 C_{in} C_{out}$ weights (+ $C_{out}$ biases) and two FLOPs per weight per
output position, then the sums it gives for ResNet blocks and stages and for DenseNets
(`conv_cost`, `block_costs`, `stage_costs`, `densenet_parameter_count`). The tests check that
the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from reslib.blocks import BasicBlock, Bottleneck
from reslib.densenet import channel_plan
from reslib.layers import STEM_TYPES
from reslib.validate import (
    MAX_BLOCKS,
    require_bool,
    require_choice,
    require_int,
    require_memory,
    require_tensor,
    typechecked,
)

__all__ = [
    "BlockCosts",
    "ConvCost",
    "LayerRow",
    "ParameterTable",
    "StageCost",
    "block_costs",
    "conv_cost",
    "count_flops",
    "count_parameters",
    "densenet_parameter_count",
    "parameter_table",
    "saved_tensor_bytes",
    "stage_costs",
]


@typechecked
def conv_cost(
    kernel_size: int,
    in_channels: int,
    out_channels: int,
    out_positions: int = 1,
    bias: bool = False,
    dim: int = 2,
) -> tuple[int, int]:
    r"""Parameters and FLOPs of one convolution, in closed form.

    $$P = k^d\,C_{in}\,C_{out} + [\text{bias}]\,C_{out}, \qquad
    \text{FLOPs} = 2\,k^d\,C_{in}\,C_{out} \cdot \text{positions}$$

    (a multiply-add is 2 FLOPs, bias adds are not counted, as in `torch.utils.flop_counter`).

    Args:
        kernel_size: k, the kernel's side.
        in_channels, out_channels: $C_{in}$, $C_{out}$.
        out_positions: output positions per example ($H_{out} W_{out}$ for images).
        bias: add $C_{out}$ bias parameters.
        dim: 2 for a k x k kernel, 1 for a length-k kernel.

    Returns:
        `(parameters, flops)` for one example.
    """
    for name, value in [
        ("kernel_size", kernel_size),
        ("in_channels", in_channels),
        ("out_channels", out_channels),
        ("out_positions", out_positions),
    ]:
        require_int(name, value)
    require_bool("bias", bias)
    require_int("dim", dim, 1, 3)
    weights = kernel_size**dim * in_channels * out_channels
    return weights + (out_channels if bias else 0), 2 * weights * out_positions


@typechecked
@dataclass(frozen=True)
class ConvCost:
    """One conv of a block: its name, shape (`"k x k, C_in->C_out"`), weights and FLOPs per image."""

    name: str
    shape: str
    params: int
    flops: int


@typechecked
@dataclass(frozen=True)
class BlockCosts:
    """The convs of a basic and of a bottleneck block with the same input and output width."""

    basic: tuple[ConvCost, ...]
    bottleneck: tuple[ConvCost, ...]


@typechecked
def block_costs(channels: int, planes: int, size: int, kernel_size: int = 3) -> BlockCosts:
    r"""Conv weights and FLOPs of a basic and a bottleneck block with the same input and output width.

    Basic: two $k \times k$ convs $C \to C$. Bottleneck: $1 \times 1$ $C \to$ `planes`,
    $k \times k$ `planes` $\to$ `planes`, $1 \times 1$ `planes` $\to C$. Both keep a
    `size` x `size` map (stride 1), so the identity shortcut is free; BN is left out.

    Returns:
        A `BlockCosts`: `basic` and `bottleneck`, each a tuple of `ConvCost`s with `name`,
        `shape` (`"kxk, C_in->C_out"`), `params`, `flops`.
    """
    for name, value in [
        ("channels", channels),
        ("planes", planes),
        ("size", size),
        ("kernel_size", kernel_size),
    ]:
        require_int(name, value)
    positions = size * size

    def row(name: str, k: int, c_in: int, c_out: int) -> ConvCost:
        return ConvCost(name, f"{k}x{k}, {c_in}->{c_out}", *conv_cost(k, c_in, c_out, positions))

    k = kernel_size
    return BlockCosts(
        basic=(row("conv1", k, channels, channels), row("conv2", k, channels, channels)),
        bottleneck=(
            row("conv1", 1, channels, planes),
            row("conv2", k, planes, planes),
            row("conv3", 1, planes, channels),
        ),
    )


@typechecked
@dataclass(frozen=True)
class StageCost:
    """One row of `stage_costs`: a stage's output shape (C, H, W), blocks, parameters and FLOPs per image."""

    name: str
    shape: tuple[int, ...]
    blocks: int
    params: int
    flops: int


def _block_convs(
    block: type[nn.Module], c_in: int, planes: int, stride: int, size: int, stride_in_1x1: bool = False
) -> tuple[list[tuple[int, int, int, int]], int, int]:
    """The convs `(k, C_in, C_out, positions)` of one block, its BN parameters and its output size."""
    out_size = (size + 1) // 2 if stride == 2 else size
    pos = out_size * out_size
    out = planes * block.expansion
    if block is BasicBlock:
        convs = [(3, c_in, planes, pos), (3, planes, planes, pos)]
        bn = 2 * planes + 2 * out
    else:
        first = pos if stride_in_1x1 else size * size  # the 1x1 reduce runs on the halved map, or not
        convs = [(1, c_in, planes, first), (3, planes, planes, pos), (1, planes, out, pos)]
        bn = 2 * planes + 2 * planes + 2 * out
    return convs, bn, out_size


def _block_cost(
    block: type[nn.Module],
    c_in: int,
    planes: int,
    stride: int,
    size: int,
    shortcut_type: str,
    stride_in_1x1: bool,
) -> tuple[int, int, int, int]:
    """Parameters and FLOPs of one block, with its shortcut; its output channels and size."""
    convs, bn, out_size = _block_convs(block, c_in, planes, stride, size, stride_in_1x1)
    out = planes * block.expansion
    if shortcut_type == "B" and (stride != 1 or c_in != out):
        convs.append((1, c_in, out, out_size * out_size))
        bn += 2 * out
    costs = [conv_cost(*c) for c in convs]
    return sum(c[0] for c in costs) + bn, sum(c[1] for c in costs), out, out_size


@typechecked
def stage_costs(
    block: type[nn.Module],
    layers: Sequence[int],
    widths: Sequence[int] = (64, 128, 256, 512),
    stem_type: str = "imagenet",
    image_size: int = 224,
    in_channels: int = 3,
    num_classes: int = 1000,
    shortcut_type: str = "B",
    stride_in_1x1: bool = False,
) -> list[StageCost]:
    r"""Shapes, parameters and FLOPs per stage of `ResNet(block, layers, ...)`, in closed form.

    No network is built: each conv costs `conv_cost` ($k^2 C_{in} C_{out}$ weights and twice
    that many FLOPs per output position); each BN $2C$ parameters. The tests check every
    number against `reslib.costs.parameter_table` on the real model. `stride_in_1x1`
    (bottlenecks only) is He et al.'s stride placement, as in `ResNet`.

    Returns:
        One `StageCost` per row (`stem`, `layer1`.., `head`); `shape` is the row's output.
    """
    if block not in (BasicBlock, Bottleneck):
        raise TypeError(
            f"block must be BasicBlock or Bottleneck (the closed form knows these two), got {block!r}"
        )
    require_choice("stem_type", stem_type, STEM_TYPES)
    require_choice("shortcut_type", shortcut_type, ("A", "B"))
    require_int("image_size", image_size)
    require_int("in_channels", in_channels)
    require_int("num_classes", num_classes)
    for name, values in (("layers", layers), ("widths", widths)):
        for i, v in enumerate(values):
            require_int(f"{name}[{i}]", v)
    if len(layers) != len(widths):
        raise ValueError(f"give one width per stage: got layers={list(layers)} and widths={list(widths)}")
    if len(layers) > MAX_BLOCKS:  # a row per stage
        raise ValueError(
            f"layers must name at most reslib.validate.MAX_BLOCKS = {MAX_BLOCKS:,} stages, got "
            f"{len(layers):,}; ResNets have 3 or 4"
        )
    if require_bool("stride_in_1x1", stride_in_1x1) and block is not Bottleneck:
        raise ValueError("stride_in_1x1 applies to Bottleneck blocks only; use stride_in_1x1=False")
    if stem_type == "imagenet":
        size = (image_size + 1) // 2  # 7x7/2 conv, padding 3
        p, f = conv_cost(7, in_channels, widths[0], size * size)
        size = (size + 1) // 2  # 3x3/2 max-pool, padding 1
    else:
        size = image_size
        p, f = conv_cost(3, in_channels, widths[0], size * size)
    rows = [StageCost("stem", (widths[0], size, size), 0, p + 2 * widths[0], f)]
    channels, options = widths[0], dict(shortcut_type=shortcut_type, stride_in_1x1=stride_in_1x1)
    for i, (n, planes) in enumerate(zip(layers, widths, strict=True)):
        # closed form: the first block (stride, shortcut) and n - 1 equal blocks after it
        params, flops, channels, size = _block_cost(
            block, channels, planes, 2 if i > 0 else 1, size, **options
        )
        if n > 1:
            p, f, _, _ = _block_cost(block, channels, planes, 1, size, **options)
            params, flops = params + (n - 1) * p, flops + (n - 1) * f
        rows.append(StageCost(f"layer{i + 1}", (channels, size, size), n, params, flops))
    rows.append(
        StageCost("head", (num_classes,), 0, channels * num_classes + num_classes, 2 * channels * num_classes)
    )
    return rows


@typechecked
def densenet_parameter_count(
    growth_rate: int,
    block_config: Sequence[int],
    num_init_features: int,
    bn_size: int = 4,
    compression: float = 0.5,
    num_classes: int = 1000,
    in_channels: int = 3,
    stem_type: str = "imagenet",
) -> int:
    r"""The parameters of `DenseNet(...)` without building it (used live by the explorer).

    A dense layer reading $c$ channels costs $2c + 4kc + 2\cdot 4k + 9\cdot 4k\cdot k$ (BN, 1x1, BN, 3x3).
    """
    plan = channel_plan(growth_rate, block_config, num_init_features, compression)
    require_int("bn_size", bn_size, fix="the bottleneck has bn_size * k channels")
    require_int("num_classes", num_classes)
    require_int("in_channels", in_channels)
    require_choice("stem_type", stem_type, STEM_TYPES)
    b = bn_size * growth_rate
    total = (
        in_channels * num_init_features * 49 + 2 * num_init_features
        if stem_type == "imagenet"
        else in_channels * num_init_features * 9
    )
    for row in plan:
        total += sum(2 * c + c * b + 2 * b + 9 * b * growth_rate for c in row.layer_inputs)
        if row.after_transition is not None:
            total += 2 * row.out + row.out * row.after_transition
    c = plan[-1].out
    return total + 2 * c + c * num_classes + num_classes


@typechecked
def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    r"""The number of scalar parameters, $\sum_p \mathrm{numel}(p)$.

    Buffers, such as batch norm's running statistics, are not parameters and are not counted.

    Args:
        model: any module.
        trainable_only: count only parameters with `requires_grad=True`.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@typechecked
def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    r"""Floating-point operations of one forward pass on a zero input of `input_shape`.

    Counted by `torch.utils.flop_counter.FlopCounterMode`, which counts matrix
    products and convolutions: a multiply-add is 2 FLOPs, so a linear layer
    costs $2 \cdot N \cdot C_{in} \cdot C_{out}$; element-wise ops
    (activations, BN, adds) are not counted. MACs = FLOPs / 2.

    Args:
        model: any module; run in eval mode for the count, then restored.
        input_shape: the input's shape including the batch dimension, e.g. `(1, 40)`.
    """
    shape = _require_shape(input_shape)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(_zeros(shape, device))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def _zeros(input_shape: Sequence[int], device: torch.device) -> torch.Tensor:
    """The zero input of `count_flops` and `parameter_table`, refused past the memory limit (meta is free)."""
    if device.type != "meta":
        require_memory("input_shape", input_shape, 4 * math.prod(input_shape))  # float32
    return torch.zeros(input_shape, device=device)


def _require_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    if not isinstance(input_shape, (tuple, list, torch.Size)):
        raise TypeError(
            f"input_shape must be a tuple of ints (batch first), got "
            f"{type(input_shape).__name__} {input_shape!r}"
        )
    if not input_shape:
        raise ValueError("input_shape must not be empty: give the batch size first, e.g. (1, 40)")
    return tuple(require_int(f"input_shape[{i}]", s) for i, s in enumerate(input_shape))


@typechecked
@dataclass(frozen=True)
class LayerRow:
    """One module call: its name, type, output shape, parameters (its own and its children's) and FLOPs."""

    name: str
    kind: str
    depth: int
    output_shape: tuple[int, ...] | None
    parameters: int
    flops: int


@typechecked
@dataclass(frozen=True)
class ParameterTable:
    """A torchinfo-style table; `repr` prints it, `rows` holds the numbers.

    `total_parameters` counts every parameter once; `total_flops` is the whole forward pass
    (a multiply-add is 2 FLOPs; MACs = FLOPs / 2).
    """

    rows: list[LayerRow] = field(default_factory=list)
    total_parameters: int = 0
    total_flops: int = 0
    input_shape: tuple[int, ...] = ()

    def __repr__(self) -> str:
        head = f"{'layer (type)':<40}{'output shape':>22}{'param #':>14}{'FLOPs':>18}"
        lines = [head, "=" * len(head)]
        for r in self.rows:
            label = "  " * (r.depth - 1) + f"{r.name} ({r.kind})"
            shape = str(list(r.output_shape)) if r.output_shape is not None else "-"
            lines.append(f"{label:<40}{shape:>22}{r.parameters:>14,}{r.flops:>18,}")
        lines += [
            "=" * len(head),
            f"input {list(self.input_shape)}; total params: {self.total_parameters:,}; "
            f"total FLOPs: {self.total_flops:,} ({self.total_flops / 2e9:.3g} GMACs)",
        ]
        return "\n".join(lines)


@typechecked
def parameter_table(model: nn.Module, input_shape: Sequence[int], depth: int | None = None) -> ParameterTable:
    r"""Run one forward pass on zeros and tabulate every module call, in call order.

    Output shapes come from forward hooks; FLOPs from `torch.utils.flop_counter`
    (the counter's running total before and after each call, so a row includes its
    children). A conv costs $2 \cdot k^d C_{in} C_{out} \cdot \text{output positions}$
    FLOPs per example. Build big models under `torch.device("meta")` to count without
    allocating memory: the zeros go to the model's device.

    Args:
        model: any module (put in eval mode for the pass, then restored).
        input_shape: input shape with the batch dimension, e.g. `(1, 3, 224, 224)`.
        depth: `None` lists the leaf modules (as torchsummary does); an int lists every
            module whose qualified name has at most `depth` parts (1 = the model's children).

    Returns:
        A `ParameterTable`; a module called twice (a shared ReLU) appears twice.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    shape = _require_shape(input_shape)
    if depth is not None:
        require_int("depth", depth, fix="or None for the leaf modules")
    named = [(n, m) for n, m in model.named_modules() if n]
    if depth is None:
        chosen = [(n, m) for n, m in named if not list(m.children())]
    else:
        chosen = [(n, m) for n, m in named if n.count(".") < depth]
    rows: list[tuple[int, LayerRow]] = []
    counter = FlopCounterMode(display=False)
    starts: dict[int, list[tuple[int, int]]] = {}
    calls = [0]

    def pre_hook(module: nn.Module, args) -> None:
        starts.setdefault(id(module), []).append((calls[0], counter.get_total_flops()))
        calls[0] += 1

    def make_hook(name: str):
        def hook(module: nn.Module, args, output) -> None:
            call, start = starts[id(module)].pop()
            out = tuple(output.shape) if isinstance(output, torch.Tensor) else None
            rows.append(
                (
                    call,
                    LayerRow(
                        name,
                        type(module).__name__,
                        name.count(".") + 1,
                        out,
                        count_parameters(module),
                        int(counter.get_total_flops() - start),
                    ),
                )
            )

        return hook

    handles = []
    for name, module in chosen:
        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(make_hook(name)))
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            model(_zeros(shape, device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    # post-hooks fire inner-first: list the rows in the order the calls started
    return ParameterTable(
        [row for _, row in sorted(rows, key=lambda r: r[0])],
        count_parameters(model),
        int(counter.get_total_flops()),
        shape,
    )


@typechecked
def saved_tensor_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of `model(x).sum()`.

    Each storage is counted once (a view shares its base's memory); parameters are excluded.
    """
    require_tensor("x", x, dtype="float", finite=True)  # the count does not depend on values: NaN would hide
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
