r"""The unraveled view of a residual network: paths, their lengths, and lesions.

A residual network $h_{k} = h_{k-1} + f_k(h_{k-1})$ of $n$ blocks unrolls into $2^n$ paths: each
block is either taken (through $f_k$) or skipped (through the identity). A path's length is the
number of branches it takes, so lengths follow Binomial$(n, 1/2)$ (Veit et al., 2016).

References:
    Veit, Wilber and Belongie, "Residual networks behave like ensembles of relatively shallow
    networks", NeurIPS 2016. https://arxiv.org/abs/1605.06431
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from reslib.guard import require_input, require_work
from reslib.validate import (
    require_batch,
    require_float,
    require_int,
    require_memory,
    require_seed,
    require_tensor,
    typechecked,
)

__all__ = [
    "EffectivePaths",
    "RandomSkip",
    "ShortPathTraining",
    "effective_paths",
    "lesion",
    "path_gradient",
    "path_gradient_magnitude",
    "path_length_distribution",
    "reorder",
    "stochastic_depth",
    "unravel",
]


@typechecked
def path_length_distribution(n_blocks: int) -> np.ndarray:
    r"""Fraction of the $2^n$ paths that take exactly $k$ residual branches, $k = 0..n$.

    $P(k) = \binom{n}{k} / 2^n$, i.e. Binomial$(n, 1/2)$: mean $n/2$, sd $\sqrt{n}/2$.

    Returns:
        float64 array (n_blocks + 1,), summing to 1.
    """
    n = require_int("n_blocks", n_blocks, 0, 1000, fix="2^n overflows a float past n = 1023")
    return np.array([math.comb(n, k) for k in range(n + 1)], dtype=np.float64) / 2.0**n


@dataclass(frozen=True)
class EffectivePaths:
    """Which path lengths carry the gradient: each length's share, and the shortest range holding most."""

    contribution: np.ndarray  # (n + 1,) share of the total gradient carried by paths of length k
    lo: int  # the shortest range of lengths lo..hi that holds `share` of the gradient
    hi: int
    paths_fraction: float  # the fraction of all 2^n paths whose length lies in lo..hi
    peak: int  # the length that carries the most

    def __post_init__(self) -> None:
        c = self.contribution
        if not isinstance(c, np.ndarray) or c.ndim != 1 or not c.size:
            raise TypeError(f"contribution must be a non-empty 1-D numpy array, got {type(c).__name__}")
        n = len(c) - 1
        require_int("lo", self.lo, 0, n, fix=f"a path length 0..{n}")
        require_int("hi", self.hi, self.lo, n, fix=f"a path length lo..{n}")
        require_int("peak", self.peak, 0, n, fix=f"a path length 0..{n}")
        require_float("paths_fraction", self.paths_fraction, 0.0, 1.0)


@typechecked
def effective_paths(
    n_blocks: int, magnitude: Sequence[float] | np.ndarray, share: float = 0.9
) -> EffectivePaths:
    r"""Where the gradient comes from: path-length distribution times gradient per path.

    The gradient carried by paths of length $k$ is $\binom{n}{k}\,g(k)$, with $g(k)$ the gradient
    magnitude of one path of length $k$. The effective paths are the shortest range of lengths
    that carries `share` of it.

    Args:
        n_blocks: residual blocks $n$.
        magnitude: $g(k)$ for $k = 0..n$ (n + 1 values, >= 0, not all 0).
        share: the fraction of the total gradient the range must hold, in (0, 1].

    Returns:
        `EffectivePaths`: `contribution` (n + 1,) normalised to sum 1, the range `lo`..`hi`,
        `paths_fraction` (of all $2^n$ paths in that range) and `peak` (the most contributing length).
    """
    require_float("share", share, 0.0, 1.0, strict_minimum=True)
    pmf = path_length_distribution(n_blocks)
    g = np.asarray(magnitude, dtype=np.float64)
    if g.shape != pmf.shape or not np.all(np.isfinite(g)) or np.any(g < 0) or not g.any():
        raise ValueError(
            f"magnitude must be {len(pmf)} finite values >= 0 (one per path length "
            f"0..n_blocks={n_blocks}), not all zero; got shape {g.shape}"
        )
    contribution = pmf * g / (pmf * g).sum()
    best = (0, len(g) - 1)
    for lo in range(len(g)):  # the shortest window [lo, hi] holding `share` of the gradient
        cum = np.cumsum(contribution[lo:])
        reach = np.flatnonzero(cum >= share - 1e-12)
        if reach.size and reach[0] < best[1] - best[0]:
            best = (lo, lo + int(reach[0]))
    lo, hi = best
    return EffectivePaths(contribution, lo, hi, float(pmf[lo : hi + 1].sum()), int(contribution.argmax()))


@typechecked
def unravel(
    blocks: Sequence[Callable[[torch.Tensor], torch.Tensor]], x: torch.Tensor
) -> dict[tuple[int, ...], torch.Tensor]:
    r"""The $2^n$ path terms of $y = (1 + f_n) \circ \cdots \circ (1 + f_1)(x)$ for *linear* $f_k$.

    Path $(i_1 < \dots < i_m)$ applies $f_{i_1}$, then ..., then $f_{i_m}$ and skips the rest;
    for linear blocks the terms sum to $y$ exactly. Block indices start at 1.

    Returns:
        dict: tuple of taken blocks (1-based, in order) -> that path's term, shaped like `x`.
    """
    require_tensor("x", x, dtype="float")
    n = len(blocks)
    if n and isinstance(blocks[0], nn.Module):  # a module's dtype, device and features (a lambda's: its own)
        _require_model_input(blocks[0], x, blocks[0])
    if n > 16:
        raise ValueError(f"{n} blocks make {2**n} paths; unravel at most 16 blocks")
    require_memory(
        "sizes", dict(blocks=n, x=tuple(x.shape)), 2**n * x.numel() * x.element_size()
    )  # the terms
    # 2^n paths of n/2 block calls on average; a block costs like a square linear map on x,
    # 2 x.numel() x.shape[-1] FLOPs counted at a third (small products run ~3x faster than
    # FLOPS_PER_SECOND here), and 2 PyTorch operations. Measured (2 cores, one thread), 64-wide
    # linear blocks: 14 blocks, x (4, 64): 1.9 s (estimated 2.7 s); x (32, 64): 2.5 s (4.9 s);
    # 16 blocks, x (4, 64): 7.2 s (12 s).
    calls = 2**n * (n / 2 + 1)
    require_work(
        dict(blocks=n, x=tuple(x.shape)),
        flops=calls * 2 * x.numel() * (x.shape[-1] if x.ndim else 1) / 3,
        operations=calls * 2,
    )
    terms = {}
    with torch.set_grad_enabled(x.requires_grad):  # values only, unless x asks for a graph
        for taken in itertools.product((0, 1), repeat=n):
            path = tuple(i + 1 for i, t in enumerate(taken) if t)
            h = x
            for i in path:
                h = blocks[i - 1](h)
            terms[path] = h
    return terms


def _first_linear(module: object) -> torch.Tensor | None:
    """The weight (out, in) of the linear map a block applies first, or None.

    An `nn.Linear`, or the `linear` of `reslib.mlp`'s `PlainLayer` and `ResidualBlock` (a norm
    before it keeps the size).
    """
    inner = getattr(module, "linear", module)
    return inner.weight if isinstance(inner, nn.Linear) else None


def _require_model_input(model: nn.Module, x: torch.Tensor, first: object) -> None:
    """`x` as `model`'s own forward checks it (`reslib.guard.require_input`), before torch's "mat1 and mat2".

    The dtype and device of its weights, and the features of `first`'s linear map. Attributes only.
    """
    w = _first_linear(first)
    like = w if w is not None else next(model.parameters(), None)
    size = (-1, w.shape[-1]) if w is not None and x.ndim else None
    require_input(model, x, x.ndim, size=size, like=like)


def _require_labels_beside(where: str, y: torch.Tensor, x: torch.Tensor) -> None:
    if y.device != x.device:  # attributes only
        raise ValueError(
            f"{where}: y is on {y.device}, but x is on {x.device}; "
            "put both on one device, e.g. y.to(x.device)"
        )


def _blocks(model: nn.Module) -> nn.Sequential:
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.Sequential):
        raise TypeError(
            f"model must have an nn.Sequential `blocks` (e.g. reslib.mlp.mlp), got {type(model).__name__}"
        )
    return blocks


@typechecked
def lesion(model: nn.Module, drop: int | Sequence[int]) -> nn.Module:
    r"""A copy of `model` with the blocks at indices `drop` (0-based) replaced by the identity.

    For a residual block $h + f(h)$ this deletes the branch and keeps the skip: $h \mapsto h$.
    For a plain layer it deletes the only path through that layer. `model` is not changed.
    """
    blocks = _blocks(model)
    drop = list(drop) if isinstance(drop, Iterable) else [drop]  # several indices or one
    drop = [int(i) if isinstance(i, np.integer) else i for i in drop]
    for i in drop:
        fix = f"the model has {len(blocks)} blocks, indices 0..{len(blocks) - 1}"
        require_int("drop: block index", i, 0, len(blocks) - 1, fix=fix)
    lesioned = copy.deepcopy(model)
    for i in set(drop):
        lesioned.blocks[i] = nn.Identity()
    return lesioned


@typechecked
def reorder(model: nn.Module, order: Sequence[int]) -> nn.Module:
    """A copy of `model` whose blocks run in `order` (a permutation of 0..n-1)."""
    blocks = _blocks(model)
    if sorted(order) != list(range(len(blocks))):
        raise ValueError(f"order must be a permutation of 0..{len(blocks) - 1}, got {list(order)}")
    reordered = copy.deepcopy(model)
    reordered.blocks = nn.Sequential(*[copy.deepcopy(blocks[i]) for i in order])
    return reordered


def _route(block: nn.Module, h: torch.Tensor, skip: bool = True, branch: bool = True) -> torch.Tensor:
    """`block(h)` = s (lambda h + f(h)) unchanged; the gradient through the skip and/or the branch only."""
    out = block(h)
    if skip and branch:
        return out
    shortcut = getattr(block, "residual_scale", 1.0) * getattr(block, "shortcut_scale", 1.0) * h
    fx = out - shortcut  # s f(h)
    return (shortcut if skip else shortcut.detach()) + (fx if branch else fx.detach())


@typechecked
def path_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, active: Iterable[int]) -> torch.Tensor:
    r"""$\partial L / \partial h_0$ through the branches of the blocks in `active` and the others' skips.

    The forward values are the model's own; in the backward pass block $i$ passes the gradient
    through its branch only if $i \in$ `active`, else through its skip only. Blocks must be residual,
    $h \mapsto s(\lambda h + f(h))$. Put a batch-norm model in eval mode first.

    Shape:
        x: (N, in_features), y: (N,) -> (N, width), the gradient at the first block's input $h_0$.
    """
    require_batch(x, y)
    blocks = _blocks(model)
    _require_model_input(model, x, getattr(model, "stem", None))
    _require_labels_beside("path_gradient", y, x)
    n = len(blocks)
    active = {
        require_int("active: block index", i, 0, n - 1, fix=f"the model has {n} blocks") for i in active
    }
    with torch.no_grad():
        h0 = model.stem(x)  # (N, width)
    h_in = h0.clone().requires_grad_(True)
    h = h_in
    for i, block in enumerate(blocks):
        h = _route(block, h, skip=i not in active, branch=i in active)
    (g,) = torch.autograd.grad(F.cross_entropy(model.head(h), y), h_in)
    return g


@typechecked
def path_gradient_magnitude(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    lengths: Sequence[int] | None = None,
    samples: int = 20,
    seed: int = 0,
) -> np.ndarray:
    r"""Mean gradient norm at the first block's input through paths of length $k$ only (Veit et al.).

    For each $k$: `samples` random sets of $k$ blocks, each measured with `path_gradient`
    (in eval mode): $\lVert \partial L / \partial h_0 \rVert$ along paths that take exactly those branches.

    Returns:
        float64 array (len(lengths),): the mean norm over `samples` draws (and the batch).
    """
    require_batch(x, y)
    n = len(_blocks(model))
    _require_model_input(model, x, getattr(model, "stem", None))
    _require_labels_beside("path_gradient_magnitude", y, x)
    asked = lengths  # as passed, for the message
    lengths = list(range(n + 1)) if lengths is None else list(lengths)
    for i, k in enumerate(lengths):
        require_int(f"lengths[{i}]", k, 0, n, fix=f"a path takes 0 to {n} branches: the model has {n} blocks")
    require_int("samples", samples, maximum=1_000, fix="a few dozen draws give a stable mean")
    require_seed("seed", seed)
    # Each draw is one `path_gradient`: about 12 PyTorch operations a block (its forward, the
    # routing, the backward) and the matmuls' 4 N P FLOPs for P block weights, counted at a third
    # (they run ~3x faster than FLOPS_PER_SECOND here). Measured (2 cores, one thread): 20 blocks of
    # width 64, 64 examples, 10 samples: 0.53 s (estimated 0.84 s); 50 blocks, 20 samples: 7.0 s
    # (9.9 s); 10 blocks of width 256, 512 examples, 20 samples: 5.8 s (9.8 s).
    blocks = _blocks(model)
    block_weights = sum(p.numel() for p in blocks.parameters())
    draws = len(lengths) * samples
    require_work(
        dict(
            samples=samples,
            lengths=asked if asked is None or len(lengths) <= 8 else f"{len(lengths)} lengths",
            model=f"{n} blocks",
            x=f"{len(x)} examples",
        ),
        flops=draws * 4 / 3 * len(x) * block_weights,
        operations=draws * (12 * n + 20),
    )
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    out = []
    try:
        for k in lengths:
            norms = []
            for _ in range(samples):
                g = path_gradient(model, x, y, torch.randperm(n, generator=gen)[:k].tolist())
                norms.append(g.detach().cpu().double().norm(dim=1).mean().item())  # MPS has no float64
            out.append(float(np.mean(norms)))
    finally:
        model.train(was_training)
    return np.array(out)


@typechecked
class RandomSkip(nn.Module):
    r"""Stochastic depth: $h + b\,f(h)$, $b \sim$ Bernoulli$(p)$ per batch in training; $h + p\,f(h)$ in eval.

    Wraps a residual block $h \mapsto h + f(h)$ (Huang et al., 2016). The coin is torch's global
    RNG, or `generator` (one the blocks of a network share, as `stochastic_depth(..., seed=)` gives).
    """

    def __init__(self, block: nn.Module, survival: float, generator: torch.Generator | None = None):
        super().__init__()
        self.block, self.survival = block, require_float("survival", survival, 0.0, 1.0, strict_minimum=True)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = _first_linear(self.block)  # a linear map first (an mlp block): x is (N, its in_features)
        if w is not None:
            require_input(self, x, w.ndim, size=(-1, w.shape[-1]), like=w, layout="(N, features)")
        else:  # a conv block, or the learner's own: any (N, C, ...)
            require_input(self, x, (2, 3, 4, 5), like=next(self.block.parameters(), None))
        if self.training:
            keep = bool(torch.rand((), generator=self.generator) < self.survival)
            return self.block(x) if keep else x
        return x + self.survival * (self.block(x) - x)

    def extra_repr(self) -> str:
        return f"survival={self.survival:g}"


@typechecked
def stochastic_depth(model: nn.Module, survival: float = 0.5, seed: int | None = None) -> nn.Module:
    """A copy of a residual `model` whose blocks are each kept with probability `survival` per batch.

    Training then only ever sees short paths (about `survival * n` branches); test time uses all.
    The coins are drawn from torch's global RNG, or with `seed` from a generator of the copy's own
    (the global RNG is then not touched: `reslib.runtime.parallel` can train it beside others).
    """
    require_float("survival", survival, 0.0, 1.0, strict_minimum=True, fix="it is a probability")
    generator = None if seed is None else torch.Generator().manual_seed(require_seed("seed", seed))
    if any(getattr(b, "residual_scale", 1.0) != 1.0 for b in _blocks(model)):
        raise ValueError("stochastic_depth needs blocks h + f(h) (residual_scale 1)")
    short = copy.deepcopy(model)
    short.blocks = nn.Sequential(*[RandomSkip(b, survival, generator) for b in short.blocks])
    return short


@typechecked
class ShortPathTraining(nn.Module):
    r"""Veit et al.'s training on short paths: the full forward pass, the gradient through $k$ branches.

    In training mode every forward draws `branches` of the $n$ blocks at random; each other block
    $h \mapsto s(\lambda h + f(h))$ computes the same value but detaches its branch output
    $s f(h)$, so the gradient crosses it along the skip only and no path longer than `branches`
    is trained. Eval mode is the wrapped model unchanged (Veit et al., 2016, Sec. 6).

    Args:
        model: a residual network with `stem`, `blocks` and `head` (e.g. `reslib.mlp.mlp`).
        branches: $k$, the blocks whose branches receive a gradient in a step, 0..n.
        seed: seed of the draws (a local generator: the global RNG is not touched).
    """

    def __init__(self, model: nn.Module, branches: int, seed: int = 0):
        super().__init__()
        n = len(_blocks(model))
        self.model = model
        self.branches = require_int("branches", branches, 0, n, fix=f"the model has {n} blocks")
        self.generator = torch.Generator().manual_seed(require_seed("seed", seed))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = next(self.model.parameters(), None)  # the stem's first weight (out, in): x is (N, in)
        size = (-1, w.shape[1]) if w is not None and w.ndim == 2 else None
        require_input(self, x, 2, size=size, like=w, layout="(N, in_features)")
        if not self.training:
            return self.model(x)
        blocks = self.model.blocks
        active = set(torch.randperm(len(blocks), generator=self.generator)[: self.branches].tolist())
        h = self.model.stem(x)  # (N, width)
        for i, block in enumerate(blocks):
            h = _route(block, h, branch=i in active)  # same value; the others pass gradient by the skip only
        return self.model.head(h)

    def extra_repr(self) -> str:
        return f"branches={self.branches} of {len(self.model.blocks)}"
