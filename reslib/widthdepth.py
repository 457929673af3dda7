r"""Width against depth at an equal parameter count, for the MLPs of `reslib.mlp`.

A residual `mlp(depth, width)` and a plain `mlp(depth + 1, width)` both hold `depth` hidden
width x width layers after a stem, so they have exactly the same number of parameters:
$P = (D_\text{in} + 1)\,w + \text{depth}\,(w^2 + w) + (w + 1)\,D_\text{out}$.
`width_for_budget` inverts it: the widest network of a given depth within a budget.

References:
    Zagoruyko and Komodakis, "Wide residual networks", BMVC 2016. https://arxiv.org/abs/1605.07146
"""

from __future__ import annotations

import math

from reslib.validate import require_int, typechecked

__all__ = ["mlp_parameters", "width_for_budget"]


@typechecked
def mlp_parameters(depth: int, width: int, in_features: int, out_features: int) -> int:
    r"""Parameters of a residual `reslib.mlp.mlp(depth, width, ...)` (and of a plain one of depth + 1).

    $P = (D_\text{in} + 1)\,w + \text{depth}\,(w^2 + w) + (w + 1)\,D_\text{out}$.
    """
    for name, value in [("depth", depth), ("width", width), ("in_features", in_features)]:
        require_int(name, value, maximum=10**6)
    require_int("out_features", out_features, maximum=10**6)
    return (in_features + 1) * width + depth * (width * width + width) + (width + 1) * out_features


@typechecked
def width_for_budget(depth: int, budget: int, in_features: int, out_features: int) -> int:
    """The largest width whose `mlp_parameters(depth, width, ...)` is at most `budget`.

    Raises:
        ValueError: even width 1 is over the budget.
    """
    require_int("depth", depth, maximum=10**6)
    require_int("budget", budget, maximum=10**12)
    require_int("in_features", in_features, maximum=10**6)
    require_int("out_features", out_features, maximum=10**6)
    a, b = depth, in_features + 1 + depth + out_features  # P(w) = a w^2 + b w + out_features
    width = int((-b + math.sqrt(b * b + 4 * a * max(budget - out_features, 0))) / (2 * a))
    while width > 0 and mlp_parameters(depth, width, in_features, out_features) > budget:
        width -= 1  # float rounding
    while mlp_parameters(depth, width + 1, in_features, out_features) <= budget:
        width += 1
    if width < 1:
        minimum = mlp_parameters(depth, 1, in_features, out_features)
        raise ValueError(f"budget={budget} is below the {minimum} parameters of width 1 at depth {depth}")
    return width
