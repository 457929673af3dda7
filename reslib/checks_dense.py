"""Exercise checks for notebooks 08 and 09 (DenseNet; U-Net and the stacked hourglass).

Re-exported by `reslib.checks`, so the notebooks call `rl.checks.check_*`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from reslib.checks import CheckResult, compare
from reslib.counting import count_parameters
from reslib.densenet import DenseBlock, Transition
from reslib.shapes import heatmap_argmax, iou
from reslib.unet import unet_output_size

__all__ = [
    "check_binary_iou",
    "check_dense_block_channels",
    "check_heatmap_argmax",
    "check_transition_parameters",
    "check_unet_output_size",
]


def check_dense_block_channels(fn: Callable[[int, int, int], list[int]]) -> CheckResult:
    """Exercise (08): `fn(k0, k, num_layers)` lists the input channels of every layer, then the output."""
    cases = [(24, 12, 16), (64, 32, 6), (5, 1, 3), (8, 4, 1)]

    def reference(k0: int, k: int, n: int) -> list[int]:
        block = DenseBlock(n, k0, k)
        return [layer.in_channels for layer in block.values()] + [block.out_channels]

    return compare("dense_block_channels", fn, reference, cases,
                   "layer l (counting from 0) reads k0 + l*k channels; the block outputs all of them "
                   "concatenated, k0 + num_layers*k (one more entry than there are layers).",
                   atol=0.0, rtol=0.0)


def check_transition_parameters(fn: Callable[[int, float], int]) -> CheckResult:
    """Exercise (08): `fn(m, theta)`, parameters of a transition from m channels, compression theta."""
    cases = [(256, 0.5), (512, 0.5), (330, 0.5), (100, 1.0), (99, 0.3)]

    def reference(m: int, theta: float) -> int:
        return count_parameters(Transition(m, max(1, int(theta * m))))

    return compare("transition_parameters", fn, reference, cases,
                   "BN has 2 parameters per input channel (scale and shift); the 1x1 conv maps m to "
                   "floor(theta*m) channels with no bias; pooling has none.", atol=0.0, rtol=0.0)


def check_unet_output_size(fn: Callable[[int, int], int]) -> CheckResult:
    """Exercise (09): `fn(size, depth)`, the output size of a valid U-Net (572 -> 388 for depth 4)."""
    cases = [(572, 4), (188, 4), (700, 4), (572, 3), (92, 2), (30, 1)]
    return compare("unet_output_size", fn, lambda s, d: unet_output_size(s, d, "valid"), cases,
                   "each level's two valid 3x3 convs take 4 pixels off; pooling halves; an up-conv "
                   "doubles; the decoder's two convs take 4 off again. Go down depth times, through "
                   "the bottleneck, and up depth times.", atol=0.0, rtol=0.0)


def check_heatmap_argmax(fn: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise (09): `fn(heatmaps)` returns the (row, col) of each heat map's maximum, (N, K, 2)."""
    gen = torch.Generator().manual_seed(9)
    cases = [(torch.rand(2, 3, 8, 8, generator=gen),), (torch.rand(1, 1, 5, 7, generator=gen),),
             (torch.rand(3, 2, 6, 4, generator=gen),)]
    return compare("heatmap_argmax", fn, heatmap_argmax, cases,
                   "flatten the last two dimensions, take argmax, then row = index // W and "
                   "col = index % W (W is the width, the last dimension).", atol=0.0, rtol=0.0)


def check_binary_iou(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> CheckResult:
    """Exercise (09): `fn(pred, target)`, IoU of two boolean masks, |P and T| / |P or T|."""
    gen = torch.Generator().manual_seed(10)
    cases = [(torch.rand(4, 8, 8, generator=gen) > p, torch.rand(4, 8, 8, generator=gen) > q)
             for p, q in ((0.5, 0.5), (0.2, 0.7), (0.9, 0.1))]
    reference = lambda p, t: iou(p.long(), t.long(), 2)[1]  # noqa: E731
    return compare("binary_iou", fn, reference, cases,
                   "intersection = (pred & target).sum(), union = (pred | target).sum(); divide "
                   "(as floats) the intersection by the union, not by the target's size.")
