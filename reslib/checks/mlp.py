"""Exercise checks for MLPs: an identity-at-init block, parameter counts, chain rule, residual forward."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
from torch import nn

from reslib.checks.core import CheckResult, WrongAnswer, compare
from reslib.checks.grading import case_generator, case_seed
from reslib.costs import count_parameters
from reslib.language import tr
from reslib.mlp import mlp, width_for_budget
from reslib.runtime import local_seed
from reslib.validate import require_float, typechecked

__all__ = [
    "chain_gradient_reference",
    "check_chain_gradient",
    "check_identity_init_block",
    "check_mlp_parameter_count",
    "check_residual_forward",
    "check_width_for_budget",
]


def _probe_identity_block(
    cls: Callable[[int], nn.Module], width: int, x: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Build `cls(width)`, run it on `x` at initialisation, then check it learns from one SGD step.

    Returns the output at initialisation (the check compares it with `x`); raises `WrongAnswer`
    for what a value cannot show: not a module, nothing to train, a changed input, a branch that
    cannot learn.
    """
    name = getattr(cls, "__name__", "cls")
    with local_seed(case_seed(0)):  # the learner's layers draw their initial weights from a fixed seed
        block = cls(width)
    if not isinstance(block, nn.Module):
        raise WrongAnswer(
            tr(
                "{name}({width}) gave a {kind}, not an nn.Module",
                name=name,
                width=width,
                kind=type(block).__name__,
            )
        )
    params = [p for p in block.parameters() if p.requires_grad]
    if not params:
        raise WrongAnswer(
            tr(
                "{name}({width}) has no trainable parameters, so it could never learn (is the branch "
                "missing, or are its layers kept in a plain Python list, which nn.Module does not register?)",
                name=name,
                width=width,
            )
        )
    block.train()
    with torch.enable_grad():  # the step below needs gradients even if the check runs under no_grad
        out = _run_once(block, x)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise WrongAnswer(
                tr(
                    "for an input of shape {given} it returned {shape}: a residual block keeps the shape",
                    given=tuple(x.shape),
                    shape=shape,
                )
            )
        at_init = out.detach().clone()
        if not torch.allclose(at_init, x, atol=1e-6, rtol=0.0):
            return at_init  # not the identity: the comparison reports how far off
        if not out.requires_grad:
            raise WrongAnswer(
                tr("the output does not depend on any parameter: the branch f is never used in forward")
            )
        optimiser = torch.optim.SGD(params, lr=0.1)
        optimiser.zero_grad()
        ((out - target) ** 2).mean().backward()
        optimiser.step()
    with torch.no_grad():
        added = _run_once(block, x) - x  # what the block adds after one step: it must depend on the input
    if (added - added.mean(0)).abs().max().item() < 1e-6:
        raise WrongAnswer(
            tr(
                "after one SGD step the block still adds the same vector to every input (or nothing), so its "
                "branch cannot learn a function of x: is every layer of the branch zero, so that no gradient "
                "reaches the first one"
            )
        )
    return at_init


def _run_once(block: nn.Module, x: torch.Tensor) -> object:
    """`block(copy of x)`, refusing a block that writes into its input (`x += f(x)`)."""
    given = x.clone()
    version = given._version  # bumped by every in-place operation on the tensor
    out = block(given)
    if given._version != version or not torch.equal(given, x):
        raise WrongAnswer(
            tr("the block changed its input x in place (x += ...): return x + f(x), a new tensor")
        )
    return out


@typechecked
def check_identity_init_block(cls: Callable[[int], nn.Module]) -> CheckResult:
    r"""Exercise (01): `cls(width)`, a block $x + f(x)$ that is the identity at initialisation and learns.

    At widths 1, 3, 16 and 64 the block must keep the shape, return exactly its input on a fresh
    build, and, after one SGD step on a squared error to a target that is a nonlinear function of
    x, add something to x that differs from input to input: a branch that can learn.
    """
    gen = case_generator(11)
    cases = []
    for width, n in [(1, 6), (3, 5), (16, 8), (64, 4)]:
        x = torch.randn(n, width, generator=gen) * 2 + 1
        mix = torch.randn(width, width, generator=gen)
        cases.append((width, x, x + torch.tanh(x @ mix)))  # a target the identity does not fit
    return compare(
        "identity_init_block",
        lambda width, x, target: _probe_identity_block(cls, width, x, target),
        lambda width, x, target: x,
        cases,
        (
            tr(
                "forward returns x + f(x), where the branch f (say Linear, ReLU, Linear, width -> width) "
                "must output exactly 0 for a freshly built block. Which one layer of f has to start at zero "
                "for that, and which must not, so that gradients still reach every layer?"
            ),
            tr(
                "__init__: self.branch = nn.Sequential(nn.Linear(width, width), nn.ReLU(), "
                "nn.Linear(width, width)); then nn.init.zeros_ on the LAST layer's weight and bias only. "
                "forward: return x + self.branch(x)."
            ),
        ),
        atol=1e-6,
        rtol=0.0,
    )


@typechecked
def check_mlp_parameter_count(fn: Callable[[int, int, int, int], int]) -> CheckResult:
    """Exercise: the parameter count of a plain `mlp(depth, width, in_features, out_features)`."""
    configs = [(1, 8, 40, 10), (3, 16, 40, 10), (10, 100, 40, 10), (24, 200, 1, 1)]

    def reference(d: int, w: int, i: int, o: int) -> int:
        with local_seed(case_seed(0)):  # building the mlp draws its initial weights
            return count_parameters(mlp(d, w, i, o))

    return compare(
        "mlp_parameter_count",
        fn,
        reference,
        configs,
        (
            tr(
                "count layer by layer: how many nn.Linear layers does a plain mlp have, and what are "
                "their input and output sizes? Do not forget the biases."
            ),
            tr(
                "a linear layer from a to b units has a*b weights and b biases; a plain mlp has one "
                "layer in->width, depth-1 layers width->width and one width->out: add them up."
            ),
        ),
        atol=0.0,
        rtol=0.0,
        solved_by=(mlp,),  # the exercise asks for the count without building it
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
    gen = case_generator(3)
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
            tr(
                "follow h1 to y: along how many paths does it reach the output? Each path contributes "
                "one product of local derivatives, and the contributions add."
            ),
            tr(
                "sigma'(z) = sigma(z)(1 - sigma(z)); dL/dw1 = (y - t) y (1 - y) (w3 h2 (1 - h2) w2 + wr) "
                "h1 (1 - h1) x: the path through h2 plus the skip wr."
            ),
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
    gen = case_generator(4)
    cases = []
    for depth in (1, 3, 8):
        with local_seed(case_seed(depth)):  # the notebook's RNG is not touched
            branches = [nn.Sequential(nn.Tanh(), nn.Linear(4, 4)) for _ in range(depth)]
        cases.append((branches, torch.randn(3, 4, generator=gen)))
    with local_seed(case_seed(5)):
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
            tr(
                "a residual block does not replace h, as a plain layer does: it adds something to it. "
                "What does each block add, and to what?"
            ),
            tr(
                "h = x; then for f in branches: h = h + f(h); return h. No in-place h += f(h): "
                "it would change the caller's tensor."
            ),
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
            tr(
                "count the parameters of rl.mlp.mlp(depth, w, in_features, out_features, residual=True) "
                "as a function of w (stem, depth blocks, head: weights and biases), then find the largest "
                "w to fit."
            ),
            tr(
                "P(w) = (in_features + 1) w + depth (w^2 + w) + (w + 1) out_features; increase w while "
                "P(w + 1) <= budget (or solve the quadratic and round down)."
            ),
        ),
        atol=0.0,
        rtol=0.0,
    )
