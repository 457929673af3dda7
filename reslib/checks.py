"""Instant feedback for the notebooks' exercises.

Each `check_*` runs the learner's function on a few cases, compares it with a
reference, and returns a `CheckResult` that a notebook cell displays:
"not implemented yet" for an untouched stub (so Run All never crashes), a
hint and the largest difference for a wrong answer, a green tick otherwise.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from reslib.counting import count_parameters
from reslib.mlp import mlp

__all__ = [
    "CheckResult",
    "check_chain_gradient",
    "check_compose",
    "check_mlp_parameter_count",
    "compare",
]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: `passed` is None when the exercise is not implemented yet."""

    name: str
    passed: bool | None
    message: str
    max_diff: float | None = None

    def __bool__(self) -> bool:
        return bool(self.passed)

    def __repr__(self) -> str:
        mark = {True: "✅", False: "❌", None: "⏳"}[self.passed]
        return f"{mark} {self.name}: {self.message}"

    def _repr_html_(self) -> str:
        colour = {True: "#1a7f37", False: "#cf222e", None: "#9a6700"}[self.passed]
        return f'<p style="color:{colour}; font-weight:600">{self!r}</p>'


def _as_tensor(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64)
    if isinstance(value, (tuple, list)):
        return torch.cat([_as_tensor(v).reshape(-1) for v in value])
    return torch.tensor(float(value), dtype=torch.float64)


def compare(
    name: str,
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Sequence[tuple],
    hint: str,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> CheckResult:
    """Run `fn(*case)` and `reference(*case)` for every case and compare the results.

    Results may be numbers, tensors, or tuples/lists of them; they are compared
    element-wise as float64 with `|a - b| <= atol + rtol * |b|`.
    """
    worst = 0.0
    for i, case in enumerate(cases):
        try:
            got = fn(*case)
        except NotImplementedError:
            return CheckResult(name, None, "not implemented yet: replace the "
                               "`raise NotImplementedError` with your code, then run this cell again.")
        except Exception as exc:  # a learner's bug is feedback, not a crash
            return CheckResult(name, False, f"raised {type(exc).__name__}: {exc}. Hint: {hint}")
        want = _as_tensor(reference(*case))
        try:
            got_t = _as_tensor(got)
        except (TypeError, ValueError, RuntimeError):
            return CheckResult(name, False, f"returned a {type(got).__name__}, expected numbers "
                               f"or tensors. Hint: {hint}")
        if got_t.shape != want.shape:
            return CheckResult(name, False, f"case {i + 1}: shape {tuple(got_t.shape)}, expected "
                               f"{tuple(want.shape)}. Hint: {hint}")
        diff = (got_t - want).abs()
        max_diff = diff.max().item() if diff.numel() else 0.0
        if not math.isfinite(max_diff) or bool((diff > atol + rtol * want.abs()).any()):
            return CheckResult(name, False, f"case {i + 1} of {len(cases)} is off by up to "
                               f"{max_diff:.3g}. Hint: {hint}", max_diff)
        worst = max(worst, max_diff)
    return CheckResult(name, True, f"correct on all {len(cases)} cases "
                       f"(max difference {worst:.1e})", worst)


# --- 01 · sequential networks -------------------------------------------------------------


def check_compose(fn: Callable[[Sequence[Callable], torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: `fn(layers, x)` applies `layers` in order, $f_K(\\cdots f_2(f_1(x)))$."""
    gen = torch.Generator().manual_seed(1)
    cases = []
    for depth in (1, 2, 5):
        torch.manual_seed(depth)
        layers = [nn.Linear(4, 4), nn.Tanh()] * depth + [lambda h: 2 * h + 1]
        cases.append((layers, torch.randn(3, 4, generator=gen)))
    cases.append(([], torch.randn(2, 4, generator=gen)))  # no layers: the identity
    reference = lambda layers, x: functools.reduce(lambda h, f: f(h), layers, x)  # noqa: E731
    return compare("compose", fn, reference, cases,
                   "start from h = x and replace h by f(h) for each f, first to last; "
                   "an empty list returns x unchanged.")


def check_mlp_parameter_count(fn: Callable[[int, int, int, int], int]) -> CheckResult:
    """Exercise: the parameter count of a plain `mlp(depth, width, in_features, out_features)`."""
    configs = [(1, 8, 40, 10), (3, 16, 40, 10), (10, 100, 40, 10), (24, 200, 1, 1)]
    reference = lambda d, w, i, o: count_parameters(mlp(d, w, i, o))  # noqa: E731
    return compare("mlp_parameter_count", fn, reference, configs,
                   "each linear layer from a to b units has a*b weights and b biases; a plain "
                   "mlp has one layer in->width, depth-1 layers width->width, one width->out.",
                   atol=0.0, rtol=0.0)


def _chain_loss(x: float, w1: float, w2: float, w3: float, wr: float, target: float):
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (w1, w2, w3, wr)]
    w1_, w2_, w3_, wr_ = params
    h1 = torch.sigmoid(w1_ * x)
    h2 = torch.sigmoid(w2_ * h1)
    y = torch.sigmoid(w3_ * h2 + wr_ * h1)
    return 0.5 * (y - target) ** 2, params


def chain_gradient_reference(x: float, w1: float, w2: float, w3: float, wr: float,
                             target: float) -> float:
    """dL/dw1 of the 3-layer sigmoid chain with a skip weight `wr`, by autograd (float64)."""
    loss, params = _chain_loss(x, w1, w2, w3, wr, target)
    (g,) = torch.autograd.grad(loss, params[:1])
    return g.item()


def check_chain_gradient(fn: Callable[..., float]) -> CheckResult:
    """Exercise: $\\partial L/\\partial w_1$ by hand for $y = \\sigma(w_3 h_2 + w_r h_1)$, $L = (y-t)^2/2$."""
    gen = torch.Generator().manual_seed(3)
    cases = [(0.5, 0.8, 0.6, 0.9, 0.0, 1.0), (0.5, 0.8, 0.6, 0.9, 0.7, 1.0)]
    for _ in range(4):
        w = (torch.rand(4, generator=gen) * 4 - 2).tolist()
        cases.append((0.5, *w, 0.0))
    return compare("chain_gradient", fn, chain_gradient_reference, cases,
                   "sigma'(z) = sigma(z)(1 - sigma(z)); h1 reaches y along two paths, through "
                   "h2 (factors w3, sigma'(.), w2) and straight through wr: add the two.",
                   atol=1e-9)


# --- 02-09 · each topic's checks live in a module of their own, re-exported here -----------
# (imported last: they import `compare` and `CheckResult` from this module)
from reslib import checks_dense, checks_norm, checks_paths, checks_resnet  # noqa: E402
from reslib.checks_dense import *  # noqa: E402,F403
from reslib.checks_norm import *  # noqa: E402,F403
from reslib.checks_paths import *  # noqa: E402,F403
from reslib.checks_resnet import *  # noqa: E402,F403

__all__ += checks_paths.__all__ + checks_norm.__all__ + checks_resnet.__all__ + checks_dense.__all__
