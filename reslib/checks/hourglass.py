"""Exercise check for the stacked hourglass: reading keypoints off heat maps."""

from __future__ import annotations

from collections.abc import Callable

import torch

from reslib.checks.core import CheckResult, compare
from reslib.scenes import heatmap_argmax
from reslib.validate import typechecked

__all__ = [
    "check_heatmap_argmax",
]


@typechecked
def check_heatmap_argmax(fn: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise (09): `fn(heatmaps)` returns the (row, col) of each heat map's maximum, (N, K, 2)."""
    gen = torch.Generator().manual_seed(9)
    cases = [
        (torch.rand(2, 3, 8, 8, generator=gen),),
        (torch.rand(1, 1, 5, 7, generator=gen),),
        (torch.rand(3, 2, 6, 4, generator=gen),),
    ]
    return compare(
        "heatmap_argmax",
        fn,
        heatmap_argmax,
        cases,
        (
            "argmax works on one dimension: make each heat map one long vector first, then turn "
            "the flat index back into a row and a column.",
            "flatten the last two dimensions, take argmax, then row = index // W and "
            "col = index % W (W is the width, the last dimension).",
        ),
        atol=0.0,
        rtol=0.0,
    )
