"""Exercise checks for loss landscapes and width against depth: filter normalisation, a width budget."""

from __future__ import annotations

from collections.abc import Callable

import torch

from reslib.checks.core import CheckResult, compare
from reslib.runtime import local_seed
from reslib.validate import require_tensor, typechecked
from reslib.widthdepth import width_for_budget

__all__ = [
    "check_filter_normalization",
    "check_width_for_budget",
    "filter_normalization_reference",
]


@typechecked
def filter_normalization_reference(weight: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """Each row (filter) of `direction` rescaled to the norm of the same row of `weight`; 0 for 1-D."""
    require_tensor("weight", weight, dtype="float")
    require_tensor("direction", direction, dtype="float")
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
    with local_seed(10):
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
            "one scale per row: weight[i] and direction[i] are the i-th output neuron (or conv filter), "
            "whatever the other dimensions. What must a bias (a 1-D weight) get?",
            "flatten both to (rows, -1), multiply direction's row i by ||weight[i]|| / ||direction[i]||, "
            "reshape back; return torch.zeros_like(direction) when weight.dim() < 2.",
        ),
        atol=1e-5,
        rtol=1e-5,
    )


@typechecked
def check_width_for_budget(fn: Callable[[int, int, int, int], object]) -> CheckResult:
    """Exercise: `fn(depth, budget, in_features, out_features)`: the widest residual MLP within budget."""
    cases = [
        (1, 20_000, 40, 10),
        (4, 20_000, 40, 10),
        (16, 20_000, 40, 10),
        (3, 1_000, 8, 2),
        (50, 10**6, 784, 10),
    ]
    return compare(
        "width_for_budget",
        fn,
        width_for_budget,
        cases,
        (
            "count the parameters of rl.mlp.mlp(depth, w, in_features, out_features, residual=True) as a "
            "function of w (stem, depth blocks, head: weights and biases), then find the largest w to fit.",
            "P(w) = (in_features + 1) w + depth (w^2 + w) + (w + 1) out_features; increase w while "
            "P(w + 1) <= budget (or solve the quadratic and round down).",
        ),
        atol=0.0,
        rtol=0.0,
    )
