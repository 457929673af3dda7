"""Exercise check for forward variance: the second-moment recursion."""

from __future__ import annotations

from collections.abc import Callable

import torch

from reslib.checks.core import CheckResult, compare
from reslib.language import tr
from reslib.validate import MAX_BLOCKS, require_float, require_int, typechecked

__all__ = [
    "check_second_moment_recursion",
    "second_moment_reference",
]


@typechecked
def second_moment_reference(depth: int, gain: float, residual_scale: float, batch_norm: bool) -> torch.Tensor:
    """E[h_k^2] for k = 0..depth predicted by the recursion, starting from E[h_0^2] = 1."""
    require_int("depth", depth, minimum=0, maximum=MAX_BLOCKS)
    require_float("gain", gain, minimum=0.0)
    require_float("residual_scale", residual_scale, minimum=0.0)
    values = [1.0]
    for _ in range(depth):
        branch = gain / 2 if batch_norm else gain / 2 * values[-1]  # E[f^2] = c E[ReLU(z)^2]
        values.append(residual_scale**2 * (values[-1] + branch))
    return torch.tensor(values, dtype=torch.float64)


@typechecked
def check_second_moment_recursion(fn: Callable[[int, float, float, bool], object]) -> CheckResult:
    """Exercise: `fn(depth, gain, residual_scale, batch_norm)` predicts E[h_k^2], k = 0..depth."""
    cases = [
        (5, 2.0, 1.0, False),
        (10, 2.0, 2**-0.5, False),
        (10, 2.0, 1.0, True),
        (7, 1.0, 1.0, False),
        (6, 3.0, 2**-0.5, True),
        (1, 0.5, 1.0, False),
    ]
    return compare(
        "second_moment_recursion",
        fn,
        second_moment_reference,
        cases,
        (
            tr(
                "start from [1.0] and apply section 1's equation once per block: the skip keeps "
                "E[h_{k-1}^2], the branch adds its own E[f^2], and the scale s multiplies the sum. "
                "What does the branch's ReLU receive with and without BN?"
            ),
            tr(
                "each block adds the branch's E[f^2] = gain * E[ReLU(z)^2] = gain/2 * E[z^2], where "
                "z is h_{k-1} (no BN) or the normalised h (BN: E[z^2] = 1), then multiplies the sum "
                "by residual_scale**2. Return depth + 1 values."
            ),
        ),
        atol=1e-9,
        rtol=1e-9,
    )
