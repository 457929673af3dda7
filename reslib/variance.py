r"""Forward variance and backward gradients of residual networks at initialisation.

Each residual block computes $h_k = s\,\big(h_{k-1} + W_k\,\mathrm{ReLU}(\mathrm{norm}(h_{k-1}))\big)$
(the pre-activation block of `reslib.mlp.ResidualBlock`, biases zero as at initialisation).
With He initialisation the branch adds as much as it receives, so the second moment
doubles, $\mathbb{E}[h_k^2] = 2\,\mathbb{E}[h_{k-1}^2]$; $s = 1/\sqrt2$ keeps it flat, and
batch norm in the branch makes it grow by one per block: $\mathbb{E}[h_k^2] = \mathbb{E}[h_{k-1}^2] + 1$.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from reslib.guard import require_input, require_work
from reslib.inits import INITS
from reslib.language import tr
from reslib.runtime import byte_cache
from reslib.validate import (
    require_array,
    require_bool,
    require_choice,
    require_float,
    require_int,
    require_memory,
    require_seed,
    require_tensor,
    typechecked,
)

__all__ = [
    "FLOAT32_MAX",
    "ForwardBackwardProfile",
    "ResidualStream",
    "branch_share",
    "forward_backward_profile",
    "residual_stream",
    "variance_profile",
]

FLOAT32_MAX = float(torch.finfo(torch.float32).max)  # 3.4e38


def _gain(init: str | float) -> float:
    """sigma_w^2 * fan_in: a name from `reslib.inits.INITS` (any case) or a positive number."""
    fix = "or pass a positive number c for sigma_w^2 = c / fan_in"
    if isinstance(init, str):
        return INITS[require_choice("init", init.lower(), INITS, fix=fix)]
    return require_float("init", init, minimum=0.0, strict_minimum=True, fix="pass 'he', 'glorot' " + fix)


def _checked_gain(depth, residual_scale, batch_norm, width, n_samples, init, seed, backward=True) -> float:
    """Check the arguments shared by `forward_backward_profile` and `branch_share`; return the gain."""
    require_int("depth", depth)
    require_float(
        "residual_scale", residual_scale, minimum=0.0, strict_minimum=True, fix="use 1 or 1/sqrt(2)"
    )
    require_bool("batch_norm", batch_norm)
    require_int("width", width)
    require_int("n_samples", n_samples, minimum=2, fix="batch statistics need two samples")
    require_seed("seed", seed)
    # bytes, before allocating: weights and scaled copies; a dozen (depth + 1, N, width) stacks
    weights, states = 12 * depth * width**2, 48 * (depth + 1) * n_samples * width
    name = "depth" if depth > _BLOCKS else "width" if weights >= states else "n_samples"
    require_memory(name, {"depth": depth, "width": width, "n_samples": n_samples}[name], weights + states)
    # Per block about 7 PyTorch operations forward and back (2 forward only, `branch_share`), and the
    # matmuls' 4 N w^2 FLOPs, counted at a third (they run ~3x faster than FLOPS_PER_SECOND here;
    # `branch_share`'s forward is in float64, as slow). Measured (2 cores, one thread), against the
    # estimate: `forward_backward_profile` depth 10,000, width 4: 0.67 s (0.70 s); depth 200, width
    # 256, 256 samples: 1.3 s (0.9 s); `branch_share` the same: 0.14 s (0.2 s) and 1.0 s (0.9 s).
    require_work(
        dict(depth=depth, width=width, n_samples=n_samples),
        flops=depth * 4 / 3 * n_samples * width * width,
        operations=(7 if backward else 2) * depth,
    )
    return _gain(init)


_BLOCKS = 200  # the explorer's deepest network: one draw serves every depth of its slider
_CACHE_BYTES = 64 * 2**20  # the explorer's 200 blocks are 3.3 MB at width 64, 52 MB at width 256


def _unit_weights(seed: int, width: int, depth: int) -> torch.Tensor:
    """(depth, width, width) standard normal weights, the first blocks of one draw of max(depth, 200).

    Cached up to `_CACHE_BYTES`; past it only the blocks used are drawn: the same numbers, since torch's
    CPU sampler fills 16 values at a time from one stream (`test_variance` checks it).
    """
    total, n = max(depth, _BLOCKS) * width * width, depth * width * width
    padded = -(-n // 16) * 16  # a whole number of 16-value chunks: no partial tail
    draw = _draw if total * 4 <= _CACHE_BYTES or padded > total - 16 else _draw.__wrapped__
    return draw(seed, total if draw is _draw else padded)[:n].view(depth, width, width)


@byte_cache(_CACHE_BYTES)  # a few (seed, width) pairs; an explorer pays for them once
def _draw(seed: int, count: int) -> torch.Tensor:
    return torch.randn(count, generator=torch.Generator().manual_seed(10_000 + seed))


@torch.no_grad()
def _moments(stacked: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per slice k of (K, N, W): E[h^2] and the units' mean batch variance, in float64 (no overflow)."""
    scale = stacked.abs().amax(dim=(1, 2)).clamp_min(torch.finfo(stacked.dtype).tiny)  # (K,)
    hn = stacked / scale[:, None, None]  # each slice over its largest |value|: float32 sums stay finite
    second = hn.pow(2).mean(dim=(1, 2))  # (K,)
    variance = second - hn.mean(dim=1).pow(2).mean(dim=1)
    s2 = scale.double().pow(2)
    return (second.double() * s2).numpy(), (variance.double().clamp_min(0) * s2).numpy()


_EPS = 1e-5  # batch norm's epsilon, as in torch


@torch.no_grad()
def _forward(
    h: torch.Tensor, weights: torch.Tensor, scale: float, batch_norm: bool
) -> tuple[list[torch.Tensor], list[tuple]]:
    """h_k = s (h_{k-1} + ReLU(z) W_k^T), z = BN(h_{k-1}) or h_{k-1}; keeps what backward needs."""
    states, saved = [h], []
    for w in weights:  # (width, width)
        h = states[-1]
        if batch_norm:
            var, mean = torch.var_mean(h, dim=0, unbiased=False)  # (width,) batch statistics
            inv_std = torch.rsqrt(var + _EPS)
            z = (h - mean) * inv_std  # gamma = 1, beta = 0 at initialisation
        else:
            z, inv_std = h, None
        out = h + torch.relu(z) @ w.T  # h_{k-1} + f_k(h_{k-1})
        states.append(out if scale == 1.0 else scale * out)
        saved.append((z, inv_std))
    return states, saved


@torch.no_grad()
def _backward(
    grad: torch.Tensor, weights: torch.Tensor, saved: list[tuple], scale: float
) -> list[torch.Tensor]:
    r"""dL/dh_k for k = 0..len(weights), from dL/dh_last = grad: $g_{k-1} = s\,g_k + J_{f_k}^\top s\,g_k$."""
    grads = [grad]
    for w, (z, inv_std) in zip(weights.flip(0), saved[::-1], strict=True):
        g = grads[-1] if scale == 1.0 else scale * grads[-1]
        dz = (g @ w) * (z > 0)  # through W_k and the ReLU
        if inv_std is not None:  # through BN: the closed form of notebook 05
            m = z.shape[0]
            dz = inv_std * (dz - dz.sum(dim=0) / m - z * (dz * z).sum(dim=0) / m)
        grads.append(g + dz)
    return grads[::-1]


@dataclass(frozen=True)
class ForwardBackwardProfile:
    """Both passes through a fresh residual stack, per block k = 0..depth (0 is the input)."""

    second_moment: np.ndarray  # (depth + 1,) E[h_k^2] over batch and units; NaN past an overflow
    batch_variance: np.ndarray  # (depth + 1,) each unit's variance over the batch, mean over units
    grad_norm: np.ndarray  # (depth + 1,) ||dL/dh_k|| / ||dL/dh_last||; NaN past an overflow
    overflow_at: int | None  # first block whose float32 activations are inf/NaN
    variance_overflow_at: int | None  # first block whose E[h^2] passes float32's max
    grad_overflow_at: int | None  # first block, counting back, whose gradient is not finite

    def __post_init__(self) -> None:
        for name in ("second_moment", "batch_variance", "grad_norm"):
            require_array(name, getattr(self, name), 1)
            if len(getattr(self, name)) != len(self.second_moment):
                raise ValueError(
                    f"{name} needs one value per block 0..depth, {len(self.second_moment)} like "
                    f"second_moment, got {len(getattr(self, name))}"
                )
        depth = len(self.second_moment) - 1
        for name in ("overflow_at", "variance_overflow_at", "grad_overflow_at"):
            if getattr(self, name) is not None:
                require_int(name, getattr(self, name), 0, depth, fix="a block index, or None")

    @property
    def status(self) -> str:
        """One sentence on what happened, overflows first."""
        last = len(self.second_moment) - 1 if self.overflow_at is None else self.overflow_at - 1
        parts = [tr("E[h^2] after block {block}: {value:.3g}", block=last, value=self.second_moment[last])]
        if self.overflow_at is not None:
            parts.append(
                tr(
                    "activations overflowed float32 (|h| > 3.4e38) at block {block}: "
                    "the curves stop there and the backward pass starts from block {last}",
                    block=self.overflow_at,
                    last=last,
                )
            )
        if self.variance_overflow_at is not None:
            parts.append(
                tr(
                    "E[h^2] passes float32's max at block {block}, so "
                    "h.var() in float32 is inf from there (measured here in float64)",
                    block=self.variance_overflow_at,
                )
            )
        if self.grad_overflow_at is not None:
            parts.append(
                tr("the backward pass overflowed float32 at block {block}", block=self.grad_overflow_at)
            )
        if len(parts) == 1:
            parts.append(tr("no overflow in float32"))
        return "; ".join(parts)


@typechecked
def forward_backward_profile(
    depth: int,
    residual_scale: float = 1.0,
    batch_norm: bool = False,
    width: int = 64,
    n_samples: int = 256,
    init: str | float = "he",
    seed: int = 0,
) -> ForwardBackwardProfile:
    r"""Push a batch through `depth` fresh residual blocks in float32, then back.

    The input $h_0$ is standard normal, (n_samples, width). The loss is
    $L = \sum h_D \odot G$ for a fixed standard normal $G$, so $\partial L/\partial h_D = G$.

    Args:
        depth: residual blocks, >= 1.
        residual_scale: $s$; 1 (none) or $1/\sqrt2$.
        batch_norm: batch norm (batch statistics, $\gamma = 1$, $\beta = 0$) at the start of each branch.
        width: units per block.
        n_samples: batch size, >= 2.
        init: `"he"` ($\sigma_w^2 = 2/\text{fan\_in}$), `"glorot"` ($2/(\text{fan\_in}+\text{fan\_out})
            = 1/\text{width}$) or a number $c$ for $\sigma_w^2 = c/\text{width}$.
        seed: seed of the input, the weights and $G$.

    Returns:
        `ForwardBackwardProfile`: `second_moment` $\mathbb{E}[h_k^2]$, `batch_variance` and
        `grad_norm` $\lVert\partial L/\partial h_k\rVert / \lVert\partial L/\partial h_{\text{last}}\rVert$
        per block, where the overflows happened, and `status`, one sentence.
    """
    gain = _checked_gain(depth, residual_scale, batch_norm, width, n_samples, init, seed)
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(n_samples, width, generator=gen)  # (N, width)
    grad_out = torch.randn(n_samples, width, generator=gen)
    weights = _unit_weights(seed, width, depth) * math.sqrt(gain / width)  # (depth, width, width)
    states, saved = _forward(h, weights, residual_scale, batch_norm)
    stacked = torch.stack(states)  # (depth + 1, N, width), float32
    finite = torch.isfinite(stacked).flatten(1).all(dim=1).numpy()
    overflow_at = None if finite.all() else int(np.argmin(finite))
    last = depth if overflow_at is None else overflow_at - 1
    second, variance = np.full(depth + 1, np.nan), np.full(depth + 1, np.nan)
    second[: last + 1], variance[: last + 1] = _moments(stacked[: last + 1])
    grads = _backward(grad_out, weights[:last], saved[:last], residual_scale)
    norms = np.sqrt(_moments(torch.stack(grads))[0] * n_samples * width)
    grad_overflow_at = None
    bad = np.flatnonzero(~np.isfinite(norms) | (norms == 0))
    if bad.size:
        grad_overflow_at = int(bad.max())
        norms[: grad_overflow_at + 1] = np.nan
    grad_norm = np.full(depth + 1, np.nan)
    grad_norm[: last + 1] = norms / norms[-1]
    over = np.flatnonzero(second > FLOAT32_MAX)
    variance_overflow_at = int(over[0]) if over.size else None
    return ForwardBackwardProfile(
        second, variance, grad_norm, overflow_at, variance_overflow_at, grad_overflow_at
    )


@typechecked
def variance_profile(
    depth: int,
    residual_scale: float = 1.0,
    batch_norm: bool = False,
    width: int = 64,
    n_samples: int = 256,
    init: str | float = "he",
    seed: int = 0,
    quantity: str = "second_moment",
) -> np.ndarray:
    r"""The second moment $\mathbb{E}[h_k^2]$ after each residual block at initialisation.

    This is the "variance" of the book's argument: the mean of $h^2$ over the batch and the
    units, which doubles per block with He init. Pass `quantity="batch_variance"` for each
    unit's variance over the batch (averaged over units), which grows only 1.6x (first block)
    to 1.8x (later blocks) because ReLU outputs have a non-zero mean.

    Args:
        depth, residual_scale, batch_norm, width, n_samples, init, seed: as in
            `forward_backward_profile`.
        quantity: `"second_moment"` (default) or `"batch_variance"`.

    Returns:
        float64 array (depth + 1,): index 0 is the input, index k the output of block k;
        NaN from the block where float32 activations overflow.
    """
    require_choice("quantity", quantity, ("second_moment", "batch_variance"))
    r = forward_backward_profile(depth, residual_scale, batch_norm, width, n_samples, init, seed)
    return r.second_moment if quantity == "second_moment" else r.batch_variance


@typechecked
def branch_share(
    depth: int,
    residual_scale: float = 1.0,
    batch_norm: bool = False,
    width: int = 64,
    n_samples: int = 256,
    init: str | float = "he",
    seed: int = 0,
) -> np.ndarray:
    r"""The branch's share of block k's output at initialisation, $\mathbb{E}[(s f_k)^2]/\mathbb{E}[h_k^2]$.

    With BN in the branch, block $k$ adds one unit to a stream of about $k$, so the share is
    about $1/(k+1)$ and late blocks start close to the identity (De & Smith, 2020); without
    BN (scaled or not) every block's branch is half of its output.

    Args and network: as in `forward_backward_profile`, block for block.

    Returns:
        float64 array (depth + 1,): block k's share at index k; NaN at 0 (the input).
    """
    gain = _checked_gain(depth, residual_scale, batch_norm, width, n_samples, init, seed, backward=False)
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(n_samples, width, generator=gen, dtype=torch.float64)  # no overflow in float64
    weights = _unit_weights(seed, width, depth).double() * math.sqrt(gain / width)
    states = torch.stack(_forward(h, weights, residual_scale, batch_norm)[0])  # (depth + 1, N, width)
    branch = states[1:] - residual_scale * states[:-1]  # s f_k = h_k - s h_{k-1}
    share = branch.pow(2).mean(dim=(1, 2)) / states[1:].pow(2).mean(dim=(1, 2))
    return np.concatenate([[np.nan], share.numpy()])


@dataclass(frozen=True)
class ResidualStream:
    """What flows along a residual network's skip path, per block k = 0..depth (0: the stem's output)."""

    second_moment: np.ndarray  # (depth + 1,) E[h_k^2] over batch and units
    branch_share: np.ndarray  # (depth + 1,) E[(h_k - skip_k)^2] / E[h_k^2]; NaN at k = 0

    def __post_init__(self) -> None:
        require_array("second_moment", self.second_moment, 1)
        require_array("branch_share", self.branch_share, 1)
        if self.branch_share.shape != self.second_moment.shape:
            raise ValueError(
                f"branch_share {self.branch_share.shape} needs one value per block 0..depth, like "
                f"second_moment {self.second_moment.shape}"
            )


@typechecked
@torch.no_grad()
def residual_stream(model: torch.nn.Module, x: torch.Tensor) -> ResidualStream:
    r"""$\mathbb{E}[h_k^2]$ and the branch's share of $h_k$ for a residual `reslib.mlp.mlp` on input `x`.

    Block $k$ computes $h_k = s\,(\lambda h_{k-1} + f_k(h_{k-1}))$; its skip part is
    $s\lambda h_{k-1}$, its branch part the rest. The model runs in its current mode (a fresh
    model is in training mode: BN uses the batch's statistics, as at the first step).

    Shape:
        x: (N, in_features)
    """
    require_tensor("x", x, ndim=2, dtype="float", fix="a batch (N, in_features)")
    blocks = getattr(model, "blocks", None)
    if not getattr(model, "config", {}).get("residual", False) or blocks is None:
        raise ValueError(
            f"residual_stream needs a residual reslib.mlp.mlp, got {type(model).__name__}; "
            "build it with rl.mlp.mlp(..., residual=True)"
        )
    stem = getattr(model.stem, "linear", model.stem)  # an nn.Linear, or a PlainLayer's
    w = stem.weight if isinstance(stem, torch.nn.Linear) else next(model.parameters(), None)
    size = (1, w.shape[1]) if isinstance(stem, torch.nn.Linear) else None
    require_input(model, x, 2, size=size, like=w, layout="(N, in_features)")  # before torch's "mat1 and mat2"
    h = model.stem(x)  # (N, width)
    second, share = [h.pow(2).mean().item()], [math.nan]
    for block in blocks:
        out = block(h)
        skip = block.residual_scale * block.shortcut_scale * h
        second.append(out.pow(2).mean().item())
        share.append(((out - skip).pow(2).mean() / out.pow(2).mean()).item())
        h = out
    return ResidualStream(np.array(second), np.array(share))
