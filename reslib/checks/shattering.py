"""Exercise check for shattered gradients: the autocorrelation of a gradient signal."""

from __future__ import annotations

from collections.abc import Callable

import torch

from reslib.checks.core import CheckResult, compare
from reslib.checks.grading import case_generator
from reslib.language import tr
from reslib.shattering import autocorrelation
from reslib.validate import typechecked

__all__ = [
    "check_autocorrelation",
]


@typechecked
def check_autocorrelation(fn: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    r"""Exercise (02): $r(k)$ of a 1-D tensor for every lag, mean removed, $r(0) = 1$."""
    gen = case_generator(2)
    cases = [
        (torch.randn(64, generator=gen, dtype=torch.float64),),
        (torch.randn(50, generator=gen, dtype=torch.float64).cumsum(0),),  # brown noise
        (torch.linspace(-1, 1, 20, dtype=torch.float64) + 3.0,),  # far from zero mean
        (torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0], dtype=torch.float64),),
    ]
    return compare(
        "autocorrelation",
        fn,
        lambda g: torch.from_numpy(autocorrelation(g)),
        cases,
        (
            tr(
                "two steps: centre the sequence, then compare it with a copy of itself shifted by k "
                "places, for every k from 0 to N - 1. Normalise so that r(0) = 1."
            ),
            tr(
                "c = g - g.mean(); r(k) = sum_i c_i c_{i+k} / sum_i c_i^2 for k = 0 .. N-1 "
                "(the sum runs over the N - k overlapping pairs), so there are N values."
            ),
        ),
        atol=1e-9,
        solved_by=(autocorrelation,),
    )
