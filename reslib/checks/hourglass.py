"""Exercise check for the stacked hourglass: how many residual modules the paper's network holds."""

from __future__ import annotations

from typing import Any

from reslib.checks.core import CheckResult, compare_value
from reslib.hourglass import StackedHourglass
from reslib.language import tr
from reslib.preact import PreActBottleneck
from reslib.validate import typechecked

__all__ = [
    "check_hourglass_modules",
]

STACKS, ORDER = 8, 4  # Newell et al.'s network: eight hourglasses of order 4


def _count_residual_modules() -> int:
    model = StackedHourglass(3, 16, num_stacks=STACKS, channels=8, order=ORDER).to("meta")
    return sum(isinstance(m, PreActBottleneck) for m in model.modules())


@typechecked
def check_hourglass_modules(answer: Any) -> CheckResult:
    """Exercise (09): predict the residual modules R in a stacked hourglass of 8 stacks of order 4.

    Measured: a `StackedHourglass(num_stacks=8, order=4)` is built (on the meta device) and its
    `PreActBottleneck` modules are counted.
    """
    return compare_value(
        "hourglass_modules",
        answer,
        _count_residual_modules,
        (
            tr(
                "count on the hourglass drawing above: how many R's does one resolution of an hourglass "
                "add, what sits at the very bottom, and which R's are outside the hourglasses?"
            ),
            tr(
                "an hourglass of order n has 3 R's per resolution (the skip, the one after pooling, the "
                "one before upsampling) and one innermost R: 3n + 1. Each stack adds one more R in its "
                "features, and the stem holds one: 1 + stacks * (3n + 1 + 1)."
            ),
        ),
        what=tr(
            "the count of residual modules in a {stacks}-stack hourglass network of order {order}",
            stacks=STACKS,
            order=ORDER,
        ),
    )
