"""Exercise checks for residual paths: what a lesion leaves, lesions, the gradient along chosen paths."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from reslib.checks.core import CheckResult, WrongAnswer, compare, compare_value, read_answer
from reslib.checks.grading import case_seed
from reslib.language import tr
from reslib.mlp import mlp
from reslib.paths import lesion, path_gradient
from reslib.runtime import local_seed
from reslib.validate import typechecked

__all__ = [
    "check_lesion",
    "check_lesion_paths",
    "check_path_gradient",
]


LESION_NET = dict(depth=12, width=8, in_features=40, out_features=10, residual=True)  # section 5's depth
LESION_DROP = (0, 5)  # the blocks Exercise 1 deletes
LESION_LENGTH = 6  # the most common path length of the intact 12-block network


def _lesion_paths_measured() -> list[int]:
    """Exercise 1 (03), measured: [paths left, paths of length 6 left] after deleting blocks 0 and 5.

    A real 12-block network is lesioned with `rl.paths.lesion`; each block's branch is measured on
    a random input (a deleted block's branch, block(h) - h, is exactly zero), and the paths that
    survive are the sets of blocks whose branches all still act: every one of the 2^12 sets is
    tried, so no formula for the answer is used.
    """
    net = lesion(mlp(**LESION_NET), list(LESION_DROP)).eval()
    h = torch.randn(4, LESION_NET["width"])
    with torch.no_grad():
        acting = {i for i, block in enumerate(net.blocks) if block(h).sub(h).abs().max() > 0}
    n = len(net.blocks)
    left = [p for k in range(n + 1) for p in itertools.combinations(range(n), k) if acting.issuperset(p)]
    return [len(left), sum(len(p) == LESION_LENGTH for p in left)]


@typechecked
def check_lesion_paths(answer: Any) -> CheckResult:
    """Exercise 1 (03): predict [paths left, paths of length 6 left] when blocks 0 and 5 of 12 are deleted.

    `answer` is the learner's pair of numbers (`...` in either place: not answered yet); the check
    compares it with `_lesion_paths_measured()`, which lesions a real network and counts.
    """
    try:
        answer = read_answer(answer)
    except WrongAnswer as exc:
        return CheckResult("lesion_paths", False, str(exc))
    if isinstance(answer, (list, tuple)) and any(a is ... or a is None for a in answer):
        answer = ...
    return compare_value(
        "lesion_paths",
        answer,
        _lesion_paths_measured,
        (
            tr(
                "in the unraveled view a path is the set of blocks whose branch it takes. A deleted block "
                "has no branch left: which paths disappear with it, and which run on unchanged?"
            ),
            tr(
                "the paths that survive are exactly the paths of a network made of the 10 blocks that are "
                "left: 2^10 of them, of which C(10, 6) take 6 branches. Deleting two blocks does not just "
                "quarter the 924 paths of length 6: it removes the long paths more often than the short ones."
            ),
        ),
        what=tr("the count on a lesioned 12-block network ([paths left, of length 6])"),
    )


def _lesioned_output(make: Callable, model: nn.Module, x: torch.Tensor, drop: Sequence[int]) -> torch.Tensor:
    """The output of `make(model, drop)` on x; the model `make` was given must not change."""
    with torch.no_grad():
        before = model(x)
        out = make(model, list(drop))
        if not isinstance(out, nn.Module):
            raise WrongAnswer(
                tr("returned a {kind}; return the lesioned copy, an nn.Module", kind=type(out).__name__)
            )
        if not torch.equal(model(x), before):
            raise WrongAnswer(
                tr("the original model changed: lesion a deep copy, copy.deepcopy(model) first")
            )
        return out.eval()(x)


@typechecked
def check_lesion(fn: Callable[[nn.Module, Sequence[int]], nn.Module]) -> CheckResult:
    """Exercise (03): `fn(model, drop)` returns a copy of `model` with blocks `drop` skipped."""
    with local_seed(case_seed(5)):  # the notebook's RNG is not touched
        model = mlp(6, 16, 8, 3, residual=True).double().eval()
        x = torch.randn(10, 8, dtype=torch.float64)
    drops = [(), (0,), (2, 4), (5,), (0, 1, 2, 3, 4, 5)]
    return compare(
        "lesion",
        lambda m, x, d: _lesioned_output(fn, m, x, d),
        lambda m, x, d: _lesioned_output(lesion, m, x, d),
        [(model, x, drop) for drop in drops],  # compare gives each call its own copy of the model
        (
            tr(
                "work on a copy, never on `model`; a deleted residual block must still pass its input on "
                "unchanged (keep the skip, drop the branch)."
            ),
            tr("copy = copy.deepcopy(model), then copy.blocks[i] = nn.Identity() for each i in drop."),
        ),
        solved_by=(lesion,),
    )


@typechecked
def check_path_gradient(
    fn: Callable[[nn.Module, torch.Tensor, torch.Tensor, Sequence[int]], torch.Tensor],
) -> CheckResult:
    """Exercise (03): `fn(model, x, y, active)` = dL/dh0 through the branches in `active`, skips elsewhere."""
    with local_seed(case_seed(7)):  # the notebook's RNG is not touched
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
            tr(
                "run the blocks one by one from h0 = model.stem(x) (a leaf that requires grad); each block's "
                "value stays block(h), but cut the gradient of the part it should not use with .detach()."
            ),
            tr(
                "with f = block(h) - h: h = h.detach() + f for a block in active (branch only), "
                "h = h + f.detach() otherwise (skip only); at the end "
                "torch.autograd.grad(F.cross_entropy(model.head(h), y), h0)."
            ),
        ),
        atol=1e-10,
        rtol=1e-8,
    )
