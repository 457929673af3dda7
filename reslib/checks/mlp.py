"""Exercise checks for MLPs: composition, parameter counts, chain rule, residual forward, width budgets."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
from torch import nn

from reslib.checks.core import CheckResult, compare
from reslib.costs import count_parameters
from reslib.mlp import mlp, width_for_budget
from reslib.runtime import local_seed
from reslib.validate import require_float, typechecked

__all__ = [
    "chain_gradient_reference",
    "check_chain_gradient",
    "check_compose",
    "check_mlp_parameter_count",
    "check_residual_forward",
    "check_width_for_budget",
]


@typechecked
def check_compose(fn: Callable[[Sequence[Callable], torch.Tensor], torch.Tensor]) -> CheckResult:
    r"""Exercise: `fn(layers, x)` applies `layers` in order, $f_K(\cdots f_2(f_1(x)))$."""
    gen = torch.Generator().manual_seed(1)
    cases = []
    for depth in (1, 2, 5):
        with local_seed(depth):  # the notebook's RNG is not touched
            layers = [nn.Linear(4, 4), nn.Tanh()] * depth + [lambda h: 2 * h + 1]
        cases.append((layers, torch.randn(3, 4, generator=gen)))
    cases.append(([], torch.randn(2, 4, generator=gen)))  # no layers: the identity
    reference = lambda layers, x: functools.reduce(lambda h, f: f(h), layers, x)
    return compare(
        "compose",
        fn,
        reference,
        cases,
        (
            "keep a running value: start from x and let each layer, first to last, act on the "
            "result of the one before. What should an empty list give back?",
            "h = x; then for f in layers: h = f(h); return h (an empty list returns x unchanged).",
        ),
    )


@typechecked
def check_mlp_parameter_count(fn: Callable[[int, int, int, int], int]) -> CheckResult:
    """Exercise: the parameter count of a plain `mlp(depth, width, in_features, out_features)`."""
    configs = [(1, 8, 40, 10), (3, 16, 40, 10), (10, 100, 40, 10), (24, 200, 1, 1)]

    def reference(d: int, w: int, i: int, o: int) -> int:
        with local_seed(0):  # building the mlp draws its initial weights
            return count_parameters(mlp(d, w, i, o))

    return compare(
        "mlp_parameter_count",
        fn,
        reference,
        configs,
        (
            "count layer by layer: how many nn.Linear layers does a plain mlp have, and what are "
            "their input and output sizes? Do not forget the biases.",
            "a linear layer from a to b units has a*b weights and b biases; a plain mlp has one "
            "layer in->width, depth-1 layers width->width and one width->out: add them up.",
        ),
        atol=0.0,
        rtol=0.0,
    )


def _chain_loss(x: float, w1: float, w2: float, w3: float, wr: float, target: float):
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (w1, w2, w3, wr)]
    w1_, w2_, w3_, wr_ = params
    h1 = torch.sigmoid(w1_ * x)
    h2 = torch.sigmoid(w2_ * h1)
    y = torch.sigmoid(w3_ * h2 + wr_ * h1)
    return 0.5 * (y - target) ** 2, params


@typechecked
def chain_gradient_reference(x: float, w1: float, w2: float, w3: float, wr: float, target: float) -> float:
    """dL/dw1 of the 3-layer sigmoid chain with a skip weight `wr`, by autograd (float64)."""
    for name, value in dict(x=x, w1=w1, w2=w2, w3=w3, wr=wr, target=target).items():
        require_float(name, value)
    loss, params = _chain_loss(x, w1, w2, w3, wr, target)
    (g,) = torch.autograd.grad(loss, params[:1])
    return g.item()


@typechecked
def check_chain_gradient(fn: Callable[..., float]) -> CheckResult:
    r"""Exercise: $\partial L/\partial w_1$ by hand for $y = \sigma(w_3 h_2 + w_r h_1)$, $L = (y-t)^2/2$."""
    gen = torch.Generator().manual_seed(3)
    cases = [(0.5, 0.8, 0.6, 0.9, 0.0, 1.0), (0.5, 0.8, 0.6, 0.9, 0.7, 1.0)]
    for _ in range(4):
        w = (torch.rand(4, generator=gen) * 4 - 2).tolist()
        cases.append((0.5, *w, 0.0))
    return compare(
        "chain_gradient",
        fn,
        chain_gradient_reference,
        cases,
        (
            "follow h1 to y: along how many paths does it reach the output? Each path contributes "
            "one product of local derivatives, and the contributions add.",
            "sigma'(z) = sigma(z)(1 - sigma(z)); dL/dw1 = (y - t) y (1 - y) (w3 h2 (1 - h2) w2 + wr) "
            "h1 (1 - h1) x: the path through h2 plus the skip wr.",
        ),
        atol=1e-9,
    )


def _residual_reference(branches: Sequence[Callable], h: torch.Tensor) -> torch.Tensor:
    return functools.reduce(lambda h, f: h + f(h), branches, h)


@typechecked
def check_residual_forward(fn: Callable[[Sequence[Callable], torch.Tensor], torch.Tensor]) -> CheckResult:
    r"""Exercise: `fn(branches, h)` runs a residual network, $h \leftarrow h + f_k(h)$ for each branch.

    One case uses the branches of a `reslib.mlp.mlp(..., residual=True)`, whose blocks must give
    the same numbers: the learner's loop *is* the library's residual network.
    """
    gen = torch.Generator().manual_seed(4)
    cases = []
    for depth in (1, 3, 8):
        with local_seed(depth):  # the notebook's RNG is not touched
            branches = [nn.Sequential(nn.Tanh(), nn.Linear(4, 4)) for _ in range(depth)]
        cases.append((branches, torch.randn(3, 4, generator=gen)))
    with local_seed(5):
        net = mlp(4, 6, 3, 2, residual=True, activation="sigmoid")
    branches = [lambda h, b=block: b.linear(b.act(b.norm(h))) for block in net.blocks]
    cases.append((branches, torch.randn(5, 6, generator=gen)))
    cases.append(([], torch.randn(2, 4, generator=gen)))  # no blocks: the identity
    return compare(
        "residual_forward",
        fn,
        _residual_reference,
        cases,
        (
            "like compose, but a block does not replace h: it adds something to it. "
            "What does each block add, and to what?",
            "h = x; then for f in branches: h = h + f(h); return h. No in-place h += f(h): "
            "it would change the caller's tensor.",
        ),
    )


@typechecked
def check_width_for_budget(fn: Callable[[int, int, int, int], object]) -> CheckResult:
    """Exercise: `fn(depth, budget, in_features, out_features)`: the widest residual MLP within budget."""
    cases = [
        (1, 20_000, 40, 10),
        (4, 20_000, 40, 10),
        (16, 20_000, 40, 10),
        (3, 1_000, 8, 2),
        (50, 10**6, 784, 10),
    ]
    return compare(
        "width_for_budget",
        fn,
        width_for_budget,
        cases,
        (
            "count the parameters of rl.mlp.mlp(depth, w, in_features, out_features, residual=True) as a "
            "function of w (stem, depth blocks, head: weights and biases), then find the largest w to fit.",
            "P(w) = (in_features + 1) w + depth (w^2 + w) + (w + 1) out_features; increase w while "
            "P(w + 1) <= budget (or solve the quadratic and round down).",
        ),
        atol=0.0,
        rtol=0.0,
    )
