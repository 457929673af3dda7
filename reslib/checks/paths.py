"""Exercise checks for residual paths: counting paths, lesions, the gradient along chosen paths."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from reslib.checks.core import CheckResult, WrongAnswer, compare
from reslib.mlp import mlp
from reslib.paths import lesion, path_gradient
from reslib.runtime import local_seed
from reslib.validate import typechecked

__all__ = [
    "check_count_paths",
    "check_lesion",
    "check_path_gradient",
]


@typechecked
def check_count_paths(fn: Callable[[int, int], int]) -> CheckResult:
    """Exercise (03): how many of the $2^n$ paths of an n-block residual net take exactly k branches."""
    cases = [(1, 0), (1, 1), (4, 2), (10, 3), (54, 27), (54, 0), (110, 5)]
    return compare(
        "count_paths",
        fn,
        lambda n, k: math.comb(n, k),
        cases,
        (
            "count the ways to choose which blocks a path goes through: a path is fixed by the set of "
            "k blocks whose branch it takes, out of n.",
            "the number of k-element subsets of n blocks is the binomial coefficient "
            "n! / (k! (n - k)!) = math.comb(n, k).",
        ),
        atol=0.0,
        rtol=1e-12,
        slow_hint=(
            "Counting with the recursion C(n, k) = C(n-1, k-1) + C(n-1, k), or listing every path, "
            "takes about C(n, k) steps: over 10^15 for n = 54. Use math.comb(n, k), or fill a table "
            "(Pascal's triangle) row by row so that each value is computed once."
        ),
    )


def _lesioned_output(make: Callable, model: nn.Module, x: torch.Tensor, drop: Sequence[int]) -> torch.Tensor:
    """The output of `make(model, drop)` on x; the model `make` was given must not change."""
    with torch.no_grad():
        before = model(x)
        out = make(model, list(drop))
        if not isinstance(out, nn.Module):
            raise WrongAnswer(f"returned a {type(out).__name__}; return the lesioned copy, an nn.Module")
        if not torch.equal(model(x), before):
            raise WrongAnswer("the original model changed: lesion a deep copy, copy.deepcopy(model) first")
        return out.eval()(x)


@typechecked
def check_lesion(fn: Callable[[nn.Module, Sequence[int]], nn.Module]) -> CheckResult:
    """Exercise (03): `fn(model, drop)` returns a copy of `model` with blocks `drop` skipped."""
    with local_seed(5):  # the notebook's RNG is not touched
        model = mlp(6, 16, 8, 3, residual=True).double().eval()
        x = torch.randn(10, 8, dtype=torch.float64)
    drops = [(), (0,), (2, 4), (5,), (0, 1, 2, 3, 4, 5)]
    return compare(
        "lesion",
        lambda m, x, d: _lesioned_output(fn, m, x, d),
        lambda m, x, d: _lesioned_output(lesion, m, x, d),
        [(model, x, drop) for drop in drops],  # compare gives each call its own copy of the model
        (
            "work on a copy, never on `model`; a deleted residual block must still pass its input on "
            "unchanged (keep the skip, drop the branch).",
            "copy = copy.deepcopy(model), then copy.blocks[i] = nn.Identity() for each i in drop.",
        ),
    )


@typechecked
def check_path_gradient(
    fn: Callable[[nn.Module, torch.Tensor, torch.Tensor, Sequence[int]], torch.Tensor],
) -> CheckResult:
    """Exercise (03): `fn(model, x, y, active)` = dL/dh0 through the branches in `active`, skips elsewhere."""
    with local_seed(7):  # the notebook's RNG is not touched
        model = mlp(5, 12, 8, 3, residual=True, norm="batch").double().eval()
        x = torch.randn(16, 8, dtype=torch.float64)
        y = torch.randint(0, 3, (16,))
    actives = [[], [2], [0, 4], [1, 2, 3], [0, 1, 2, 3, 4]]
    return compare(
        "path_gradient",
        fn,
        path_gradient,
        [(model, x, y, active) for active in actives],  # each call gets its own copy of the model
        (
            "run the blocks one by one from h0 = model.stem(x) (a leaf that requires grad); each block's "
            "value stays block(h), but cut the gradient of the part it should not use with .detach().",
            "with f = block(h) - h: h = h.detach() + f for a block in active (branch only), "
            "h = h + f.detach() otherwise (skip only); at the end "
            "torch.autograd.grad(F.cross_entropy(model.head(h), y), h0).",
        ),
        atol=1e-10,
        rtol=1e-8,
    )
