"""Exercise checks for U-Nets: the valid-padding output size, IoU, the edge band."""

from __future__ import annotations

from collections.abc import Callable

import torch

from reslib.checks.core import CheckResult, compare
from reslib.scenes import edge_band, iou, segmentation
from reslib.unet import unet_output_size
from reslib.validate import typechecked

__all__ = [
    "check_binary_iou",
    "check_edge_band",
    "check_unet_output_size",
]


@typechecked
def check_unet_output_size(fn: Callable[[int, int], int]) -> CheckResult:
    """Exercise (09): `fn(size, depth)`, the output size of a valid U-Net (572 -> 388 for depth 4)."""
    cases = [(572, 4), (188, 4), (700, 4), (572, 3), (92, 2), (30, 1)]
    return compare(
        "unet_output_size",
        fn,
        lambda s, d: unet_output_size(s, d, "valid"),
        cases,
        (
            "follow one side of the image: down `depth` levels, through the bottleneck, and up "
            "`depth` levels; what does each valid conv, each pool, each up-conv do to the size?",
            "each level's two valid 3x3 convs take 4 pixels off; pooling halves; an up-conv "
            "doubles; the decoder's two convs take 4 off again. Go down depth times, through "
            "the bottleneck (4 off), and up depth times.",
        ),
        atol=0.0,
        rtol=0.0,
    )


@typechecked
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
        (
            "count the pixels that both masks mark, and the pixels that either mask marks; "
            "the answer is one count over the other (a float between 0 and 1).",
            "intersection = (pred & target).sum(), union = (pred | target).sum(); divide "
            "(as floats) the intersection by the union, not by the target's size.",
        ),
    )


@typechecked
def check_edge_band(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Exercise (09): `fn(mask, width)`, the boolean band of pixels within `width` of a label change."""
    masks = segmentation(3, size=16, seed=3).mask
    cases = [(masks, 1), (masks, 2), (torch.tensor([[[0, 0, 1, 1, 1], [0, 0, 1, 1, 1]]]), 1)]
    return compare(
        "edge_band",
        fn,
        edge_band,
        cases,
        (
            "a pixel is on an edge when the square of (2*width+1) pixels around it holds two "
            "different labels: compare the largest and the smallest label in that square.",
            "m = mask[:, None].float(); high = F.max_pool2d(m, 2*width+1, stride=1, padding=width); "
            "low = -F.max_pool2d(-m, same arguments); return (high != low)[:, 0].",
        ),
        atol=0.0,
        rtol=0.0,
    )
