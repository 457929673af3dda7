"""Exercise checks for residual paths: counting paths, lesions."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from reslib.checks.core import CheckResult, compare, local_seed
from reslib.mlp import mlp
from reslib.paths import lesion

__all__ = [
    "check_count_paths",
    "check_lesion",
]


def check_count_paths(fn: Callable[[int, int], int]) -> CheckResult:
    """Exercise (03): how many of the $2^n$ paths of an n-block residual net take exactly k branches."""
    cases = [(1, 0), (1, 1), (4, 2), (10, 3), (54, 27), (54, 0), (110, 5)]
    return compare(
        "count_paths",
        fn,
        lambda n, k: math.comb(n, k),
        cases,
        "a path chooses, for each block, branch or skip: choose which k of the n blocks it takes.",
        atol=0.0,
        rtol=1e-12,
    )


def check_lesion(fn: Callable[[nn.Module, Sequence[int]], nn.Module]) -> CheckResult:
    """Exercise (03): `fn(model, drop)` returns a copy of `model` with blocks `drop` skipped."""
    with local_seed(5):  # the notebook's RNG is not touched
        model = mlp(6, 16, 8, 3, residual=True).double().eval()
        x = torch.randn(10, 8, dtype=torch.float64)
    before = model(x).detach()

    def run(f: Callable, drop: Sequence[int]) -> torch.Tensor:
        out = f(model, list(drop))
        out.eval()
        with torch.no_grad():
            return out(x)

    cases = [((),), ((0,),), ((2, 4),), ((5,),), ((0, 1, 2, 3, 4, 5),)]
    result = compare(
        "lesion",
        lambda d: run(fn, d),
        lambda d: run(lesion, d),
        cases,
        "copy the model (copy.deepcopy) and replace model.blocks[i] by nn.Identity() "
        "for each i in drop; skip the branch, keep the skip connection.",
    )
    if result.passed and not torch.equal(model(x).detach(), before):
        return CheckResult(
            "lesion",
            False,
            "the original model changed: lesion a deep copy. Hint: copy.deepcopy(model) first.",
        )
    return result
