r"""Forward variance and backward gradients of residual networks at initialisation.

Each residual block computes $h_k = s\,\big(h_{k-1} + W_k\,\mathrm{ReLU}(\mathrm{norm}(h_{k-1}))\big)$
(the pre-activation block of `reslib.mlp.ResidualBlock`, biases zero as at initialisation).
With He initialisation the branch adds as much as it receives, so the second moment
doubles, $\mathbb{E}[h_k^2] = 2\,\mathbb{E}[h_{k-1}^2]$; $s = 1/\sqrt2$ keeps it flat, and
batch norm in the branch makes it grow by one per block: $\mathbb{E}[h_k^2] = \mathbb{E}[h_{k-1}^2] + 1$.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["FLOAT32_MAX", "INITS", "forward_backward_profile", "variance_profile"]

FLOAT32_MAX = float(torch.finfo(torch.float32).max)  # 3.4e38
INITS = {"he": 2.0, "glorot": 1.0}  # sigma_w^2 * fan_in for a square width x width layer


def _gain(init: str | float) -> float:
    if isinstance(init, str):
        if init.lower() not in INITS:
            raise ValueError(f"init must be one of {sorted(INITS)} or a positive number "
                             f"(sigma_w^2 * fan_in), got {init!r}")
        return INITS[init.lower()]
    if isinstance(init, bool) or not isinstance(init, (int, float)) or not math.isfinite(init) \
            or init <= 0:
        raise ValueError(f"init must be 'he', 'glorot' or a positive finite number "
                         f"(sigma_w^2 * fan_in), got {init!r}")
    return float(init)


def _check(depth: int, width: int, n_samples: int, residual_scale: float) -> None:
    for name, value, low in (("depth", depth, 1), ("width", width, 1), ("n_samples", n_samples, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if isinstance(residual_scale, bool) or not isinstance(residual_scale, (int, float)) \
            or not math.isfinite(residual_scale) or residual_scale <= 0:
        raise ValueError(f"residual_scale must be a positive finite number (1 or 1/sqrt(2)), "
                         f"got {residual_scale!r}")


_WEIGHTS: dict[tuple[int, int], torch.Tensor] = {}


def _unit_weights(seed: int, width: int, depth: int) -> torch.Tensor:
    """Standard normal (depth, width, width) weights; block k's are the same for every depth.

    Cached per (seed, width) and grown on demand, so an explorer pays for them once.
    """
    have = _WEIGHTS.get((seed, width))
    if have is None or len(have) < depth:
        gen = torch.Generator().manual_seed(10_000 + seed)
        have = torch.randn(max(depth, 200), width, width, generator=gen)
        _WEIGHTS[(seed, width)] = have
    return have[:depth]


@torch.no_grad()
def _moments(stacked: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per slice k of (K, N, W): E[h^2] and the mean over units of the batch variance, in float64.

    Each slice is divided by its largest |value| first, so sums cannot overflow float32.
    """
    scale = stacked.abs().amax(dim=(1, 2)).clamp_min(torch.finfo(stacked.dtype).tiny)  # (K,)
    hn = stacked / scale[:, None, None]
    second = hn.pow(2).mean(dim=(1, 2))  # (K,)
    variance = second - hn.mean(dim=1).pow(2).mean(dim=1)
    s2 = scale.double().pow(2)
    return (second.double() * s2).numpy(), (variance.double().clamp_min(0) * s2).numpy()


_EPS = 1e-5  # batch norm's epsilon, as in torch


@torch.no_grad()
def _forward(h: torch.Tensor, weights: torch.Tensor, scale: float, batch_norm: bool
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
def _backward(grad: torch.Tensor, weights: torch.Tensor, saved: list[tuple], scale: float
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


def forward_backward_profile(depth: int, residual_scale: float = 1.0, batch_norm: bool = False,
                             width: int = 64, n_samples: int = 256, init: str | float = "he",
                             seed: int = 0) -> dict:
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
        dict of numpy float64 arrays of length depth + 1 (index 0 is the input $h_0$):
        `second_moment` $\mathbb{E}[h_k^2]$ (mean over batch and units), `batch_variance`
        (each unit's variance over the batch, averaged over units), `grad_norm`
        $\lVert\partial L/\partial h_k\rVert / \lVert\partial L/\partial h_{\text{last}}\rVert$;
        NaN past an overflow. Also `overflow_at` (first block whose float32 activations are
        inf/NaN, or None), `variance_overflow_at` (first block whose $\mathbb{E}[h^2]$ exceeds
        float32's max, so `h.var()` in float32 is inf), `grad_overflow_at` (first block, counting
        back, whose gradient is not finite) and `status`, one sentence.
    """
    _check(depth, width, n_samples, residual_scale)
    gain = _gain(init)
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
    result = {"second_moment": second, "batch_variance": variance, "grad_norm": grad_norm,
              "overflow_at": overflow_at, "variance_overflow_at": variance_overflow_at,
              "grad_overflow_at": grad_overflow_at}
    result["status"] = _status(result, depth)
    return result


def _status(r: dict, depth: int) -> str:
    last = len(r["second_moment"]) - 1 if r["overflow_at"] is None else r["overflow_at"] - 1
    parts = [f"E[h^2] after block {last}: {r['second_moment'][last]:.3g}"]
    if r["overflow_at"] is not None:
        parts.append(f"activations overflowed float32 (|h| > 3.4e38) at block {r['overflow_at']}: "
                     f"the curves stop there and the backward pass starts from block {last}")
    if r["variance_overflow_at"] is not None:
        parts.append(f"E[h^2] passes float32's max at block {r['variance_overflow_at']}, so "
                     "h.var() in float32 is inf from there (measured here in float64)")
    if r["grad_overflow_at"] is not None:
        parts.append(f"the backward pass overflowed float32 at block {r['grad_overflow_at']}")
    if len(parts) == 1:
        parts.append("no overflow in float32")
    return "; ".join(parts)


def variance_profile(depth: int, residual_scale: float = 1.0, batch_norm: bool = False,
                     width: int = 64, n_samples: int = 256, init: str | float = "he", seed: int = 0,
                     quantity: str = "second_moment") -> np.ndarray:
    r"""The second moment $\mathbb{E}[h_k^2]$ after each residual block at initialisation.

    This is the "variance" of the book's argument: the mean of $h^2$ over the batch and the
    units, which doubles per block with He init. Pass `quantity="batch_variance"` for each
    unit's variance over the batch (averaged over units), which grows only by about 1.7 per
    block because ReLU outputs have a non-zero mean ($\mathrm{Var}[\mathrm{ReLU}(z)] \approx
    0.34\,\sigma^2$ while $\mathbb{E}[\mathrm{ReLU}(z)^2] = 0.5\,\sigma^2$).

    Args:
        depth, residual_scale, batch_norm, width, n_samples, init, seed: as in
            `forward_backward_profile`.
        quantity: `"second_moment"` (default) or `"batch_variance"`.

    Returns:
        float64 array (depth + 1,): index 0 is the input, index k the output of block k;
        NaN from the block where float32 activations overflow.
    """
    if quantity not in ("second_moment", "batch_variance"):
        raise ValueError(f"quantity must be 'second_moment' or 'batch_variance', got {quantity!r}")
    r = forward_backward_profile(depth, residual_scale, batch_norm, width, n_samples, init, seed)
    return r[quantity]
