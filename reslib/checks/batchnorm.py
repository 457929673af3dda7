"""Exercise checks for batch normalization: forward, backward, folding into a conv."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from reslib.batchnorm import batch_norm_backward_simplified, batch_norm_forward, fold_into_conv
from reslib.checks.core import CheckResult, WrongAnswer, compare
from reslib.checks.grading import case_generator, case_seed
from reslib.language import tr
from reslib.mlp import ResidualBlock
from reslib.runtime import local_seed
from reslib.validate import typechecked

__all__ = [
    "check_batch_norm_backward",
    "check_batch_norm_forward",
    "check_bn_residual_block",
    "check_fold_into_conv",
]


def _first(value):
    return value[0] if isinstance(value, tuple) and len(value) == 2 else value


def _bn_cases() -> list[tuple]:
    gen = case_generator(5)
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


@typechecked
def check_batch_norm_forward(fn: Callable) -> CheckResult:
    """Exercise: `fn(x, gamma, beta, eps)` returns BN's training-mode output (or `(y, cache)`)."""
    return compare(
        "batch_norm_forward",
        lambda *a: _first(fn(*a)),
        lambda *a: batch_norm_forward(*a)[0],
        _bn_cases(),
        (
            tr(
                "one mean and one variance per channel (dim 1), taken over every other dim; "
                "check which variance Algorithm 1 uses, and how gamma (shape (C,)) lines up with x."
            ),
            tr(
                "per channel: mean and *biased* variance (divide by m, not m - 1) over every dim "
                "but dim 1 (N, or N, H, W); x_hat = (x - mean) / sqrt(var + eps); "
                "y = gamma * x_hat + beta, with gamma and beta reshaped to (1, C, 1, 1)."
            ),
        ),
        atol=1e-9,
        rtol=1e-7,
        solved_by=(batch_norm_forward,),
    )


def _backward_reference(dy, x, gamma, eps):
    return batch_norm_backward_simplified(dy, batch_norm_forward(x, gamma, torch.zeros_like(gamma), eps)[1])


@typechecked
def check_batch_norm_backward(fn: Callable) -> CheckResult:
    """Exercise: `fn(dy, x, gamma, eps)` returns `(dx, dgamma, dbeta)` of training-mode BN."""
    gen = case_generator(6)
    cases = [
        (torch.randn(x.shape, generator=gen, dtype=torch.float64), x, g, eps) for x, g, _, eps in _bn_cases()
    ]
    return compare(
        "batch_norm_backward",
        fn,
        _backward_reference,
        cases,
        (
            tr(
                "dbeta and dgamma are sums over every dim but 1. For dx, every x_i reaches the loss "
                "three ways: through its own x_hat_i, and through the mean and the variance, which "
                "depend on all of the batch; section 2's closed form collects the three."
            ),
            tr(
                "dbeta = sum of dy, dgamma = sum of dy * x_hat (over every dim but 1); closed form: "
                "dx = gamma / (m * std) * (m * dy - sum(dy) - x_hat * sum(dy * x_hat)), with "
                "std = sqrt(biased var + eps) and m the values per channel."
            ),
        ),
        atol=1e-9,
        rtol=1e-7,
        solved_by=(batch_norm_backward_simplified,),
    )


def _fold_cases() -> list[tuple]:
    cases = []
    for bias, (cin, cout) in [(False, (3, 4)), (True, (2, 5)), (False, (1, 1))]:
        with local_seed(case_seed(cin * 10 + cout)):  # the notebook's RNG is not touched
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


@typechecked
def check_fold_into_conv(fn: Callable[[nn.Conv2d, nn.BatchNorm2d], nn.Conv2d]) -> CheckResult:
    """Exercise: `fn(conv, bn)` returns one conv equal to `bn(conv(x))` in eval mode."""

    def run(make, conv, bn, x):
        fused = make(conv, bn)
        if not isinstance(fused, nn.Module):
            raise WrongAnswer(tr("returned a {kind}; return an nn.Conv2d", kind=type(fused).__name__))
        with torch.no_grad():
            return fused(x)

    return compare(
        "fold_into_conv",
        lambda *c: run(fn, *c),
        lambda *c: run(fold_into_conv, *c),
        _fold_cases(),
        (
            tr(
                "in eval mode BN is one affine map per output channel, y = a * x + b (Algorithm 2); "
                "scale each output channel's kernel by a and work out the new bias."
            ),
            tr(
                "a = gamma / sqrt(running_var + eps) per output channel; W' = a * W "
                "(a reshaped to (C_out, 1, 1, 1)); b' = a * (b - running_mean) + beta, with "
                "b = 0 when the conv has no bias."
            ),
        ),
        atol=1e-5,
        rtol=1e-5,
        solved_by=(fold_into_conv,),
    )


def _run_block(make: Callable[[int], nn.Module], width: int, x: torch.Tensor) -> torch.Tensor:
    """Train-mode output, the running statistics it leaves, and the eval-mode output, for one block."""
    with local_seed(case_seed(width)):  # the same weights for the learner's block and reslib's
        weights = ResidualBlock(width, "relu", "batch", 1.0).state_dict()
        block = make(width)
    if not isinstance(block, nn.Module):
        raise WrongAnswer(
            tr("BNResidualBlock(width) should build an nn.Module, got a {kind}", kind=type(block).__name__)
        )
    block.load_state_dict(weights)  # names: norm.*, linear.*
    with torch.no_grad():
        train_out = block.train()(x)  # (N, width), batch statistics
        eval_out = block.eval()(x)  # (N, width), running statistics
    return torch.cat(
        [train_out.flatten(), block.norm.running_mean, block.norm.running_var, eval_out.flatten()]
    )


@typechecked
def check_bn_residual_block(cls: Callable[[int], nn.Module]) -> CheckResult:
    """Exercise: `cls(width)` builds a residual block with BN in its branch, x + W ReLU(BN(x)) + b.

    Its layers are `self.norm` (an `nn.BatchNorm1d`) and `self.linear` (an `nn.Linear`), as in
    `reslib.mlp.ResidualBlock`, whose weights are loaded into it: outputs in train and eval mode
    and the running statistics must match.
    """
    gen = case_generator(7)
    cases = [(w, torch.randn(n, w, generator=gen) * 2 + 1) for w, n in [(4, 8), (16, 32), (3, 2)]]
    return compare(
        "bn_residual_block",
        lambda w, x: _run_block(cls, w, x),
        lambda w, x: _run_block(lambda width: ResidualBlock(width, "relu", "batch", 1.0), w, x),
        cases,
        (
            tr(
                "the block is skip + branch: the skip is x itself; the branch normalises first, then "
                "applies the ReLU, then the linear layer. Name the layers self.norm and self.linear."
            ),
            tr(
                "__init__: super().__init__(); self.norm = nn.BatchNorm1d(width); "
                "self.linear = nn.Linear(width, width). "
                "forward: return x + self.linear(torch.relu(self.norm(x)))."
            ),
        ),
        atol=1e-5,
        rtol=1e-5,
    )
