"""Exercise checks for ResNets: conv and bottleneck parameters, stage shapes, CIFAR counts, option A."""

from __future__ import annotations

from collections.abc import Callable

import torch

from reslib.blocks import BasicBlock, Bottleneck, PadShortcut
from reslib.checks.core import CheckResult, compare
from reslib.costs import conv_cost, count_parameters, stage_costs
from reslib.resnet import cifar_resnet
from reslib.runtime import local_seed
from reslib.validate import typechecked

__all__ = [
    "check_bottleneck_parameters",
    "check_cifar_parameter_count",
    "check_conv_parameters",
    "check_pad_shortcut",
    "check_stage_shapes",
]


@typechecked
def check_conv_parameters(fn: Callable[[int, int, int, bool], int]) -> CheckResult:
    """Exercise (06): `fn(k, c_in, c_out, bias)` returns the parameters of a k x k conv."""
    cases = [
        (3, 64, 64, False),
        (1, 256, 64, False),
        (3, 256, 64, True),
        (7, 3, 64, False),
        (1, 256, 256, True),
        (5, 1, 1, True),
    ]
    return compare(
        "conv parameters",
        fn,
        lambda k, i, o, b: conv_cost(k, i, o, bias=b)[0],
        cases,
        (
            "each output channel has its own kernel, and that kernel sees every input channel; "
            "the bias is optional.",
            "a k x k kernel has k*k*C_in weights per output channel, and there are C_out "
            "output channels; a bias adds one number per output channel: k*k*C_in*C_out (+ C_out).",
        ),
    )


@typechecked
def check_bottleneck_parameters(fn: Callable[[int, int], int]) -> CheckResult:
    """Exercise (06): `fn(in_channels, planes)` = parameters of `Bottleneck(in_channels, planes)` with BN."""
    cases = [(256, 64), (64, 64), (1024, 256), (512, 128), (16, 4)]
    return compare(
        "bottleneck parameters",
        fn,
        lambda c, p: count_parameters(Bottleneck(c, p)),
        cases,
        (
            "list the block's convs and norms with their channels; do not forget the shortcut "
            "when the input does not already have 4 * planes channels.",
            "three convs (1x1 C->p, 3x3 p->p, 1x1 p->4p), a BN with 2 parameters per channel "
            "after each, and a 1x1 projection (C * 4p) + BN (2 * 4p) on the shortcut when C != 4p.",
        ),
    )


@typechecked
def check_stage_shapes(fn: Callable[[int, str], list]) -> CheckResult:
    """Exercise (07): `fn(image_size, block)` = output shapes (C, H, W) of layer1..layer4 of ResNet-18/50."""
    blocks = {"basic": (BasicBlock, [2, 2, 2, 2]), "bottleneck": (Bottleneck, [3, 4, 6, 3])}

    def reference(size: int, block: str) -> list:
        b, layers = blocks[block]
        return [r.shape for r in stage_costs(b, layers, image_size=size)[1:-1]]

    cases = [(224, "basic"), (224, "bottleneck"), (160, "basic"), (64, "bottleneck"), (97, "basic")]
    return compare(
        "stage shapes",
        fn,
        reference,
        cases,
        (
            "count the stride-2 steps before layer1 and between the stages; odd sizes round up.",
            "the stem halves the size twice (7x7/2 conv, 3x3/2 max-pool, padding keeps "
            "ceil(size/2)); layer2..4 halve it again; channels are 64, 128, 256, 512 "
            "times the block's expansion (1 basic, 4 bottleneck).",
        ),
    )


@typechecked
def check_cifar_parameter_count(fn: Callable[[int], int]) -> CheckResult:
    """Exercise (07): `fn(depth)` = parameters of `cifar_resnet(depth)` (option A, 10 classes)."""
    cases = [(8,), (20,), (32,), (56,), (110,)]
    return compare(
        "CIFAR ResNet parameters",
        fn,
        lambda d: count_parameters(cifar_resnet(d)),
        cases,
        (
            "sum stem + three stages of n blocks + fc; which parts have no parameters?",
            "n = (depth - 2) / 6 basic blocks per stage; each block has two 3x3 convs and two "
            "BNs; option A shortcuts have no parameters; add the 3x3 3->16 stem conv + BN "
            "and the 64->10 fc with its bias.",
        ),
    )


@typechecked
def check_pad_shortcut(fn: Callable[[torch.Tensor, int, int], torch.Tensor]) -> CheckResult:
    """Exercise (07): `fn(x, out_channels, stride)` = option A's shortcut of a (N, C, H, W) tensor x.

    The reference is `reslib.blocks.PadShortcut(C, out_channels, stride)`.
    """
    with local_seed(7):  # the cases, drawn without moving the notebook's RNG
        shapes = [((2, 16, 8, 8), 32, 2), ((1, 3, 5, 5), 8, 2), ((2, 4, 6, 6), 4, 1), ((1, 8, 7, 4), 24, 2)]
        cases = [(torch.randn(shape), out, stride) for shape, out, stride in shapes]
    return compare(
        "option-A shortcut",
        fn,
        lambda x, out, stride: PadShortcut(x.shape[1], out, stride)(x),
        cases,
        (
            "two steps: keep every stride-th position along H and W (odd sizes round up), then "
            "append out_channels - C channels of zeros after the existing ones.",
            "x[:, :, ::stride, ::stride], then torch.cat with x.new_zeros(N, out_channels - C, H', W') "
            "along dim=1 (or F.pad(x, (0, 0, 0, 0, 0, out_channels - C))).",
        ),
        atol=0.0,
        rtol=0.0,
    )
