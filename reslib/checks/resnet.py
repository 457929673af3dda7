"""Exercise checks for ResNets: conv and bottleneck parameters, stage shapes, CIFAR counts."""

from __future__ import annotations

from collections.abc import Callable

from reslib.blocks import BasicBlock, Bottleneck
from reslib.checks.core import CheckResult, compare
from reslib.costs import conv_cost, stage_costs
from reslib.counting import count_parameters
from reslib.resnet import cifar_resnet

__all__ = [
    "check_bottleneck_parameters",
    "check_cifar_parameter_count",
    "check_conv_parameters",
    "check_stage_shapes",
]


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
        "a k x k kernel has k*k*C_in weights per output channel, and there are C_out "
        "output channels; a bias adds one number per output channel.",
    )


def check_bottleneck_parameters(fn: Callable[[int, int], int]) -> CheckResult:
    """Exercise (06): `fn(in_channels, planes)` = parameters of `Bottleneck(in_channels, planes)` with BN."""
    cases = [(256, 64), (64, 64), (1024, 256), (512, 128), (16, 4)]
    return compare(
        "bottleneck parameters",
        fn,
        lambda c, p: count_parameters(Bottleneck(c, p)),
        cases,
        "three convs (1x1 C->p, 3x3 p->p, 1x1 p->4p), a BN with 2 parameters per channel "
        "after each, and a 1x1 projection + BN on the shortcut when C != 4p.",
    )


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
        "the stem halves the size twice (7x7/2 conv, 3x3/2 max-pool, padding keeps "
        "ceil(size/2)); layer2..4 halve it again; channels are 64, 128, 256, 512 "
        "times the block's expansion (1 basic, 4 bottleneck).",
    )


def check_cifar_parameter_count(fn: Callable[[int], int]) -> CheckResult:
    """Exercise (07): `fn(depth)` = parameters of `cifar_resnet(depth)` (option A, 10 classes)."""
    cases = [(8,), (20,), (32,), (56,), (110,)]
    return compare(
        "CIFAR ResNet parameters",
        fn,
        lambda d: count_parameters(cifar_resnet(d)),
        cases,
        "n = (depth - 2) / 6 basic blocks per stage; each block has two 3x3 convs and two "
        "BNs; option A shortcuts have no parameters; add the 3x3 3->16 stem conv + BN "
        "and the 64->10 fc with its bias.",
    )
