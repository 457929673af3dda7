"""Exercise checks for U-Nets: the valid-padding output size, IoU."""

from __future__ import annotations

from collections.abc import Callable

import torch

from reslib.checks.core import CheckResult, compare
from reslib.scenes import iou
from reslib.unet import unet_output_size

__all__ = [
    "check_binary_iou",
    "check_unet_output_size",
]


def check_unet_output_size(fn: Callable[[int, int], int]) -> CheckResult:
    """Exercise (09): `fn(size, depth)`, the output size of a valid U-Net (572 -> 388 for depth 4)."""
    cases = [(572, 4), (188, 4), (700, 4), (572, 3), (92, 2), (30, 1)]
    return compare(
        "unet_output_size",
        fn,
        lambda s, d: unet_output_size(s, d, "valid"),
        cases,
        "each level's two valid 3x3 convs take 4 pixels off; pooling halves; an up-conv "
        "doubles; the decoder's two convs take 4 off again. Go down depth times, through "
        "the bottleneck, and up depth times.",
        atol=0.0,
        rtol=0.0,
    )


def check_binary_iou(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> CheckResult:
    """Exercise (09): `fn(pred, target)`, IoU of two boolean masks, |P and T| / |P or T|."""
    gen = torch.Generator().manual_seed(10)
    cases = [
        (torch.rand(4, 8, 8, generator=gen) > p, torch.rand(4, 8, 8, generator=gen) > q)
        for p, q in ((0.5, 0.5), (0.2, 0.7), (0.9, 0.1))
    ]
    reference = lambda p, t: iou(p.long(), t.long(), 2)[1]
    return compare(
        "binary_iou",
        fn,
        reference,
        cases,
        "intersection = (pred & target).sum(), union = (pred | target).sum(); divide "
        "(as floats) the intersection by the union, not by the target's size.",
    )
