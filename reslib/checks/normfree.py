"""Exercise check for training without batch norm: the ReZero (SkipInit) block."""

from __future__ import annotations

from collections.abc import Callable

import torch

from reslib.checks.core import CheckResult, compare
from reslib.checks.grading import case_seed
from reslib.language import tr
from reslib.runtime import local_seed
from reslib.validate import require_tensor, typechecked

__all__ = ["check_rezero_block", "rezero_block_reference"]


@typechecked
def rezero_block_reference(
    x: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor, alpha: torch.Tensor
) -> torch.Tensor:
    r"""$h = x + \alpha\,W_2\,\mathrm{ReLU}(W_1 x)$ for a batch x (N, width)."""
    require_tensor("x", x, ndim=2, dtype="float", fix="a batch (N, width)")
    width = x.shape[1]
    for name, w in (("w1", w1), ("w2", w2)):
        require_tensor(name, w, ndim=2, dtype="float")
        if w.shape != (width, width):
            raise ValueError(
                f"{name} must be (width, width) = ({width}, {width}) for x of shape {tuple(x.shape)}, "
                f"got {tuple(w.shape)}"
            )
        if w.dtype != x.dtype or w.device != x.device:
            raise TypeError(
                f"{name} is {w.dtype} on {w.device} but x is {x.dtype} on {x.device}; give x, w1 and w2 "
                f"one dtype and device ({name}.to(x))"
            )
    require_tensor("alpha", alpha, dtype="float")
    return x + alpha * (torch.relu(x @ w1.T) @ w2.T)


@typechecked
def check_rezero_block(fn: Callable[..., object]) -> CheckResult:
    """Exercise: `fn(x, w1, w2, alpha)` computes a ReZero block's output for x (N, width)."""
    with local_seed(case_seed(11)):
        cases = []
        for n, width, alpha in [(8, 4, 0.0), (16, 8, 0.5), (5, 3, -1.25), (32, 16, 0.1)]:
            w1, w2 = torch.randn(width, width) / width**0.5, torch.randn(width, width) / width**0.5
            cases.append((torch.randn(n, width), w1, w2, torch.tensor(alpha)))
    return compare(
        "rezero_block",
        fn,
        rezero_block_reference,
        cases,
        (
            tr(
                "the skip carries x unchanged; the branch is linear, ReLU, linear, and one scalar alpha "
                "multiplies the whole branch. With alpha = 0 what must come out?"
            ),
            tr(
                "return x + alpha * (torch.relu(x @ w1.T) @ w2.T): rows of x are examples, so W x is x @ W.T."
            ),
        ),
        atol=1e-5,
        rtol=1e-5,
    )
