"""Reference solutions for notebook 09 (U-Net and stacked hourglass). Try the exercises first."""

import torch
from torch.nn import functional as F


def unet_output_size(size: int, depth: int) -> int:
    """Output height of a valid U-Net: -4 per level down, halve, -4 at the bottom, then double and -4."""
    for _ in range(depth):
        size = (size - 4) // 2
    size -= 4
    for _ in range(depth):
        size = 2 * size - 4
    return size


def heatmap_argmax(heatmaps: torch.Tensor) -> torch.Tensor:
    """(N, K, H, W) -> (N, K, 2): the (row, col) of each map's maximum."""
    width = heatmaps.shape[-1]
    index = heatmaps.flatten(2).argmax(-1)
    return torch.stack([index // width, index % width], -1)


def binary_iou(pred: torch.Tensor, target: torch.Tensor) -> float:
    """|pred & target| / |pred | target| for boolean masks."""
    return ((pred & target).sum() / (pred | target).sum()).item()


def edge_band(mask: torch.Tensor, width: int) -> torch.Tensor:
    """(N, H, W) labels -> (N, H, W) bool: pixels whose (2w+1)-square holds more than one label."""
    m = mask[:, None].float()
    high = F.max_pool2d(m, 2 * width + 1, stride=1, padding=width)
    low = -F.max_pool2d(-m, 2 * width + 1, stride=1, padding=width)
    return (high != low)[:, 0]
