"""Exercise checks for batch normalization: forward, backward, folding into a conv."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from reslib.batchnorm import batch_norm_backward_simplified, batch_norm_forward
from reslib.batchnorm_eval import fold_into_conv
from reslib.checks.core import CheckResult, compare, local_seed

__all__ = [
    "check_batch_norm_backward",
    "check_batch_norm_forward",
    "check_fold_into_conv",
]


def _first(value):
    return value[0] if isinstance(value, tuple) and len(value) == 2 else value


def _bn_cases() -> list[tuple]:
    gen = torch.Generator().manual_seed(5)
    cases = []
    for shape in [(8, 3), (2, 4), (4, 3, 5, 5), (2, 2, 3, 4)]:
        c = shape[1]
        x = torch.randn(*shape, generator=gen, dtype=torch.float64) * 3 + 1
        cases.append(
            (
                x,
                torch.randn(c, generator=gen, dtype=torch.float64),
                torch.randn(c, generator=gen, dtype=torch.float64),
                1e-5,
            )
        )
    x = torch.randn(6, 2, generator=gen, dtype=torch.float64) * 0.01  # eps matters here
    cases.append((x, torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64), 1e-3))
    return cases


def check_batch_norm_forward(fn: Callable) -> CheckResult:
    """Exercise: `fn(x, gamma, beta, eps)` returns BN's training-mode output (or `(y, cache)`)."""
    return compare(
        "batch_norm_forward",
        lambda *a: _first(fn(*a)),
        lambda *a: batch_norm_forward(*a)[0],
        _bn_cases(),
        "per channel: mean and *biased* variance (divide by m, not m - 1) over every dim "
        "but dim 1 (N, or N, H, W); x_hat = (x - mean) / sqrt(var + eps); "
        "y = gamma * x_hat + beta, with gamma and beta reshaped to (1, C, 1, 1).",
        atol=1e-9,
        rtol=1e-7,
    )


def _backward_reference(dy, x, gamma, eps):
    return batch_norm_backward_simplified(dy, batch_norm_forward(x, gamma, torch.zeros_like(gamma), eps)[1])


def check_batch_norm_backward(fn: Callable) -> CheckResult:
    """Exercise: `fn(dy, x, gamma, eps)` returns `(dx, dgamma, dbeta)` of training-mode BN."""
    gen = torch.Generator().manual_seed(6)
    cases = [
        (torch.randn(x.shape, generator=gen, dtype=torch.float64), x, g, eps) for x, g, _, eps in _bn_cases()
    ]
    return compare(
        "batch_norm_backward",
        fn,
        _backward_reference,
        cases,
        "dbeta = sum of dy, dgamma = sum of dy * x_hat (over every dim but 1); dx has "
        "three terms: the direct one through x_hat, and the ones through the mean and "
        "the variance, which also depend on every x_i. Closed form: dx = gamma / "
        "(m * std) * (m * dy - sum(dy) - x_hat * sum(dy * x_hat)).",
        atol=1e-9,
        rtol=1e-7,
    )


def _fold_cases() -> list[tuple]:
    cases = []
    for bias, (cin, cout) in [(False, (3, 4)), (True, (2, 5)), (False, (1, 1))]:
        with local_seed(cin * 10 + cout):  # the notebook's RNG is not touched
            conv = nn.Conv2d(cin, cout, 3, padding=1, bias=bias)
            bn = nn.BatchNorm2d(cout)
            with torch.no_grad():
                bn.running_mean.copy_(torch.randn(cout))
                bn.running_var.copy_(torch.rand(cout) + 0.5)
                bn.weight.copy_(torch.randn(cout))
                bn.bias.copy_(torch.randn(cout))
            x = torch.randn(2, cin, 6, 6)
        cases.append((conv.eval(), bn.eval(), x))
    return cases


def check_fold_into_conv(fn: Callable[[nn.Conv2d, nn.BatchNorm2d], nn.Conv2d]) -> CheckResult:
    """Exercise: `fn(conv, bn)` returns one conv equal to `bn(conv(x))` in eval mode."""

    def run(make, conv, bn, x):
        fused = make(conv, bn)
        if not isinstance(fused, nn.Module):
            raise TypeError(f"return an nn.Conv2d, got {type(fused).__name__}")
        with torch.no_grad():
            return fused(x)

    return compare(
        "fold_into_conv",
        lambda *c: run(fn, *c),
        lambda *c: run(fold_into_conv, *c),
        _fold_cases(),
        "a = gamma / sqrt(running_var + eps) per output channel; W' = a * W "
        "(a reshaped to (C_out, 1, 1, 1)); b' = a * (b - running_mean) + beta, with "
        "b = 0 when the conv has no bias.",
        atol=1e-5,
        rtol=1e-5,
    )
