"""Exercise checks for loss landscapes: filter-normalised directions."""

from __future__ import annotations

from collections.abc import Callable

import torch

from reslib.checks.core import CheckResult, compare
from reslib.checks.grading import case_seed
from reslib.language import tr
from reslib.runtime import local_seed
from reslib.validate import require_tensor, typechecked

__all__ = [
    "check_filter_normalization",
    "filter_normalization_reference",
]


@typechecked
def filter_normalization_reference(weight: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """Each row (filter) of `direction` rescaled to the norm of the same row of `weight`; 0 for 1-D."""
    require_tensor("weight", weight, dtype="float")
    require_tensor("direction", direction, dtype="float")
    if weight.device != direction.device:
        raise ValueError(
            f"weight is on {weight.device} and direction on {direction.device}; put both on one device"
        )
    if weight.shape != direction.shape:
        raise ValueError(
            f"weight {tuple(weight.shape)} and direction {tuple(direction.shape)} differ in shape"
        )
    if weight.dim() < 2:
        return torch.zeros_like(direction)
    rows, d = weight.flatten(1), direction.flatten(1)  # (filters, fan_in)
    return (d * (rows.norm(dim=1) / d.norm(dim=1))[:, None]).view_as(direction)


@typechecked
def check_filter_normalization(fn: Callable[[torch.Tensor, torch.Tensor], object]) -> CheckResult:
    """Exercise: `fn(weight, direction)` returns the filter-normalised direction (Li et al. 2018)."""
    with local_seed(case_seed(10)):
        shapes = [(4, 6), (10, 3), (8, 3, 3, 3), (5, 2, 7), (16,)]
        cases = [
            (torch.randn(s) * (1 + torch.rand(s[0])).view(-1, *[1] * (len(s) - 1)), torch.randn(s))
            for s in shapes
        ]
    return compare(
        "filter_normalization",
        fn,
        filter_normalization_reference,
        cases,
        (
            tr(
                "one scale per row: weight[i] and direction[i] are the i-th output neuron (or conv filter), "
                "whatever the other dimensions. What must a bias (a 1-D weight) get?"
            ),
            tr(
                "flatten both to (rows, -1), multiply direction's row i by ||weight[i]|| / ||direction[i]||, "
                "reshape back; return torch.zeros_like(direction) when weight.dim() < 2."
            ),
        ),
        atol=1e-5,
        rtol=1e-5,
    )
