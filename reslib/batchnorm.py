r"""Batch normalization from scratch: forward, backward, drop-in modules, and inference.

Algorithm 1 (Ioffe & Szegedy, 2015) normalises each channel with the statistics of
the mini-batch and then scales and shifts it,
$y = \gamma\,\dfrac{x - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}} + \beta$.
At inference (Algorithm 2) $\mu_B, \sigma_B^2$ are replaced by running averages, so
BN becomes one fixed affine map per channel, $y = a\,x + b$ (`inference_affine`), that can
be folded into the preceding convolution (`fold_into_conv`); `running_stats_trace` follows
those running averages through training.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from reslib.guard import require_input, require_work
from reslib.validate import (
    require_bool,
    require_float,
    require_int,
    require_memory,
    require_seed,
    require_tensor,
    sized,
    typechecked,
)

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNormCache",
    "RunningStatsTrace",
    "batch_norm_backward",
    "batch_norm_backward_simplified",
    "batch_norm_forward",
    "fold_into_conv",
    "inference_affine",
    "running_stats_trace",
]


class _BatchNormCacheFields(NamedTuple):
    x_hat: torch.Tensor  # normalised input, same shape as x
    inv_std: torch.Tensor  # (C,) 1 / sqrt(var + eps)
    gamma: torch.Tensor  # (C,)
    mean: torch.Tensor  # (C,) batch mean
    var: torch.Tensor  # (C,) biased batch variance (divides by m)
    m: int  # values per channel: N (for (N, C)) or N*H*W (for (N, C, H, W))


class BatchNormCache(_BatchNormCacheFields):
    r"""What the backward pass needs from the forward pass (and the module's running update).

    Fields: `x_hat` (the normalised input, shape of x), `inv_std` $1/\sqrt{\sigma^2+\epsilon}$,
    `gamma`, `mean`, `var` (biased), each (C,), and `m`, the values per channel. Checked on
    construction, so a hand-made cache fails here, not deep inside `batch_norm_backward`.
    """

    __slots__ = ()

    def __new__(cls, x_hat, inv_std, gamma, mean, var, m):
        require_tensor("x_hat", x_hat, dtype="float", fix="the normalised input, the shape of x (N, C, ...)")
        if x_hat.ndim < 2:
            raise ValueError(f"x_hat must have the shape of x, (N, C, ...), got shape {tuple(x_hat.shape)}")
        c = x_hat.shape[1]
        for name, t in (("inv_std", inv_std), ("gamma", gamma), ("mean", mean), ("var", var)):
            require_tensor(name, t, dtype="float", fix="one value per channel (C,)")
            if tuple(t.shape) != (c,):
                raise ValueError(
                    f"{name} must have shape (C,) = ({c},), one value per channel of x_hat "
                    f"{tuple(x_hat.shape)}, got {tuple(t.shape)}"
                )
        values = x_hat.numel() // c
        require_int("m", m, minimum=2, fix=f"the values per channel of x_hat, {values}")
        if m != values:
            raise ValueError(
                f"m must be the values per channel of x_hat {tuple(x_hat.shape)}, {values}, got {m}"
            )
        return super().__new__(cls, x_hat, inv_std, gamma, mean, var, m)

    @classmethod
    def _make(cls, iterable):  # what `_replace` builds with: checked as the constructor is
        return cls(*iterable)


def _same_device(name: str, t: torch.Tensor, other: str, ref: torch.Tensor) -> None:
    """Attributes only: a tensor on another device (meta, say) than the one it is computed with."""
    if t.device != ref.device:
        meta = (
            " (a meta tensor holds no values: pass real data)"
            if "meta" in (t.device.type, ref.device.type)
            else ""
        )
        raise ValueError(
            f"{name} is on {t.device}, but {other} is on {ref.device}; put both on one device, "
            f"e.g. {name}.to({other}.device){meta}"
        )


def _channel_shape(x: torch.Tensor) -> tuple[int, ...]:
    return (1, x.shape[1]) + (1,) * (x.dim() - 2)  # broadcasts a (C,) vector over x


def _reduce_dims(x: torch.Tensor) -> list[int]:
    return [0] + list(range(2, x.dim()))  # every dim but the channel dim


def _require_input(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float) -> None:
    for name, t in (("x", x), ("gamma", gamma), ("beta", beta)):
        require_tensor(name, t, dtype="float")
    if x.dim() < 2:
        raise ValueError(
            f"batch norm expects x of shape (N, C) or (N, C, H, W) (any (N, C, ...)), got {tuple(x.shape)}"
        )
    c = x.shape[1]
    for name, p in (("gamma", gamma), ("beta", beta)):
        if tuple(p.shape) != (c,):
            raise ValueError(
                f"{name} must have shape (C,) = ({c},), one value per channel of x "
                f"{tuple(x.shape)}, got {tuple(p.shape)}"
            )
    for name, p in (("gamma", gamma), ("beta", beta)):
        _same_device(name, p, "x", x)
    require_float("eps", eps, minimum=0.0, fix="typically 1e-5")


@typechecked
def batch_norm_forward(
    x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5
) -> tuple[torch.Tensor, BatchNormCache]:
    r"""Algorithm 1: normalise each channel with its mini-batch mean and *biased* variance.

    $\mu = \frac1m\sum_i x_i$, $\sigma^2 = \frac1m\sum_i (x_i-\mu)^2$,
    $\hat x_i = (x_i-\mu)/\sqrt{\sigma^2+\epsilon}$, $y_i = \gamma\hat x_i + \beta$.

    Args:
        x: a batch, (N, C) or (N, C, H, W); statistics are per channel over every other dim.
        gamma, beta: (C,) scale and shift.
        eps: added to the variance, >= 0.

    Returns:
        `(y, cache)`: y has the shape of x; `cache` feeds `batch_norm_backward`.

    Raises:
        ValueError: bad shapes, negative eps, or a single value per channel (m = 1: its
            variance is 0 and every output would equal beta).
    """
    _require_input(x, gamma, beta, eps)
    dims, shape = _reduce_dims(x), _channel_shape(x)
    m = x.numel() // x.shape[1]
    if m < 2:
        raise ValueError(
            f"batch norm in training needs more than one value per channel, got x of "
            f"shape {tuple(x.shape)} (m = {m}); use a batch of 2 or more, or eval mode"
        )
    mean = x.mean(dim=dims)  # (C,)
    var = ((x - mean.reshape(shape)) ** 2).mean(dim=dims)  # (C,) biased: divides by m
    inv_std = torch.rsqrt(var + eps)  # (C,)
    x_hat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
    y = gamma.reshape(shape) * x_hat + beta.reshape(shape)
    return y, BatchNormCache(x_hat, inv_std, gamma, mean, var, m)


@typechecked
def batch_norm_backward(
    dy: torch.Tensor, cache: BatchNormCache
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""The backward pass step by step, through $\hat x$, $\sigma^2$ and $\mu$ (the paper's order).

    $\partial L/\partial\sigma^2 = -\tfrac12(\sigma^2+\epsilon)^{-3/2}
    \sum_i \partial L/\partial\hat x_i\,(x_i-\mu)$.

    Returns:
        `(dx, dgamma, dbeta)` with the shapes of x, gamma and beta.
    """
    require_tensor("dy", dy, dtype="float")
    if dy.shape != cache.x_hat.shape:
        raise ValueError(f"dy must have the shape of x, {tuple(cache.x_hat.shape)}, got {tuple(dy.shape)}")
    _same_device("dy", dy, "cache.x_hat", cache.x_hat)
    x_hat, inv_std, gamma, _, _, m = cache
    dims, shape = _reduce_dims(dy), _channel_shape(dy)
    dbeta = dy.sum(dim=dims)
    dgamma = (dy * x_hat).sum(dim=dims)
    dx_hat = dy * gamma.reshape(shape)
    xc = x_hat / inv_std.reshape(shape)  # x - mu
    dvar = (dx_hat * xc).sum(dim=dims) * -0.5 * inv_std**3
    dmean = -(dx_hat * inv_std.reshape(shape)).sum(dim=dims) + dvar * (-2.0 / m) * xc.sum(dim=dims)
    dx = dx_hat * inv_std.reshape(shape) + dvar.reshape(shape) * 2.0 * xc / m + dmean.reshape(shape) / m
    return dx, dgamma, dbeta


@typechecked
def batch_norm_backward_simplified(
    dy: torch.Tensor, cache: BatchNormCache
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""The same gradients as `batch_norm_backward`, in closed form.

    $\partial L/\partial x_i = \frac{\gamma}{m\sqrt{\sigma^2+\epsilon}}
    \big(m\,\delta_i - \sum_j \delta_j - \hat x_i \sum_j \delta_j \hat x_j\big)$,
    $\delta = \partial L/\partial y$.
    """
    require_tensor("dy", dy, dtype="float")
    if dy.shape != cache.x_hat.shape:
        raise ValueError(f"dy must have the shape of x, {tuple(cache.x_hat.shape)}, got {tuple(dy.shape)}")
    _same_device("dy", dy, "cache.x_hat", cache.x_hat)
    x_hat, inv_std, gamma, _, _, m = cache
    dims, shape = _reduce_dims(dy), _channel_shape(dy)
    dbeta = dy.sum(dim=dims)
    dgamma = (dy * x_hat).sum(dim=dims)
    dx = (gamma * inv_std / m).reshape(shape) * (
        m * dy - dbeta.reshape(shape) - x_hat * dgamma.reshape(shape)
    )
    return dx, dgamma, dbeta


class _BatchNormFunction(torch.autograd.Function):
    """Autograd glue: our forward, our backward (no graph of the forward's ops is kept)."""

    @staticmethod
    def forward(ctx, x, gamma, beta, eps):
        y, cache = batch_norm_forward(x, gamma, beta, eps)
        ctx.cache = cache
        return y, cache.mean, cache.var

    @staticmethod
    def backward(ctx, dy, _dmean, _dvar):
        dx, dgamma, dbeta = batch_norm_backward_simplified(dy, ctx.cache)
        return dx, dgamma, dbeta, None


class _BatchNorm(nn.Module):
    """Shared by `BatchNorm1d` and `BatchNorm2d`: torch's arguments, buffers and state_dict keys."""

    _dims: tuple[int, ...] = ()
    _layout = "(N, C, ...)"

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ):
        super().__init__()
        require_int("num_features", num_features, fix="pass the number of channels C of x (N, C, ...)")
        require_float("eps", eps, minimum=0.0, fix="typically 1e-5")
        if momentum is not None:
            require_float("momentum", momentum, 0.0, 1.0, fix="or None for a cumulative average")
        require_bool("affine", affine)
        require_bool("track_running_stats", track_running_stats)
        self.num_features, self.eps, self.momentum = num_features, float(eps), momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))  # gamma
            self.bias = nn.Parameter(torch.zeros(num_features))  # beta
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        like = self.weight if self.affine else self.running_mean  # None: no affine, no running stats
        require_input(self, x, self._dims, size=(1, self.num_features), like=like, layout=self._layout)
        ones = torch.ones(self.num_features, device=x.device, dtype=x.dtype)
        gamma = self.weight if self.affine else ones
        beta = self.bias if self.affine else torch.zeros_like(ones)
        if self.training or not self.track_running_stats:
            y, mean, var = _BatchNormFunction.apply(x, gamma, beta, self.eps)
            if self.training and self.track_running_stats:
                self._update_running_stats(mean, var, x.numel() // x.shape[1])
            return y
        shape = _channel_shape(x)
        inv_std = torch.rsqrt(self.running_var + self.eps)  # Algorithm 2: fixed statistics
        return (x - self.running_mean.reshape(shape)) * (gamma * inv_std).reshape(shape) + beta.reshape(shape)

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, var: torch.Tensor, m: int) -> None:
        # Outside autograd, and the *unbiased* variance (m / (m - 1)): what torch stores.
        self.num_batches_tracked.add_(1)
        momentum = 1.0 / self.num_batches_tracked.item() if self.momentum is None else self.momentum
        self.running_mean.mul_(1 - momentum).add_(momentum * mean)
        self.running_var.mul_(1 - momentum).add_(momentum * var * m / (m - 1))

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


# gamma and beta (affine), running mean and variance and the step counter (track_running_stats)
_batch_norm_values = sized(
    lambda num_features, affine, track_running_stats, **_: (
        (2 * num_features if affine else 0) + (2 * num_features + 1 if track_running_stats else 0)
    )
)


@typechecked
@_batch_norm_values
class BatchNorm1d(_BatchNorm):
    """Drop-in for `torch.nn.BatchNorm1d`: input (N, C) or (N, C, L)."""

    _dims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


@typechecked
@_batch_norm_values
class BatchNorm2d(_BatchNorm):
    """Drop-in for `torch.nn.BatchNorm2d`: input (N, C, H, W), statistics per channel over N, H, W."""

    _dims = (4,)
    _layout = "(N, C, H, W)"


@typechecked
def inference_affine(bn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Algorithm 2: eval-mode BN as one affine map $y = a\,x + b$ per channel.

    $a = \gamma/\sqrt{\hat\sigma^2+\epsilon}$, $b = \beta - a\,\hat\mu$ with the running statistics.

    Args:
        bn: a torch or reslib BatchNorm with running statistics.

    Returns:
        `(a, b)`, each (C,).
    """
    if getattr(bn, "running_mean", None) is None or getattr(bn, "running_var", None) is None:
        raise ValueError(
            f"{type(bn).__name__} has no running statistics (track_running_stats=False):"
            " inference BN needs them"
        )
    a = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        a = bn.weight * a
    b = -a * bn.running_mean
    if bn.bias is not None:
        b = b + bn.bias
    return a.detach(), b.detach()


@typechecked
def fold_into_conv(conv: nn.Conv2d, bn: nn.Module) -> nn.Conv2d:
    r"""A new conv equal to `bn(conv(x))` in eval mode: $W' = a\,W$, $b' = a\,b + (\beta - a\hat\mu)$.

    Args:
        conv: an `nn.Conv1d`/`nn.Conv2d` (with or without bias); left unchanged.
        bn: a torch or reslib BatchNorm over `conv.out_channels` channels.

    Returns:
        A copy of `conv` with folded weight and a bias.
    """
    if not isinstance(conv, nn.modules.conv._ConvNd):
        raise TypeError(f"conv must be an nn.Conv1d/2d/3d, got {type(conv).__name__}")
    if getattr(bn, "num_features", None) != conv.out_channels:
        raise ValueError(
            f"bn must normalise the conv's {conv.out_channels} output channels, "
            f"got {getattr(bn, 'num_features', type(bn).__name__)}"
        )
    a, b = inference_affine(bn)
    fused = copy.deepcopy(conv)
    with torch.no_grad():
        fused.weight.copy_(conv.weight * a.reshape(-1, *([1] * (conv.weight.dim() - 1))))
        old_bias = conv.bias if conv.bias is not None else torch.zeros_like(a)
        fused.bias = nn.Parameter(a * old_bias + b)
    return fused


@dataclass(frozen=True)
class RunningStatsTrace:
    """Running statistics of a train-mode BN over a stream of batches, and the outputs they give."""

    running_mean: np.ndarray  # (steps,) after each step
    running_var: np.ndarray  # (steps,) after each step, unbiased as torch stores it
    gap: np.ndarray  # (steps,) mean |train-mode output - eval-mode output| on that step's batch
    mean: float  # the population mean
    var: float  # the population variance
    output: np.ndarray  # (2000,) eval-mode outputs of fresh examples after the last step

    def __post_init__(self) -> None:
        steps = None
        for name in ("running_mean", "running_var", "gap", "output"):
            a = getattr(self, name)
            if not isinstance(a, np.ndarray) or a.ndim != 1 or not len(a):
                raise TypeError(
                    f"{name} must be a non-empty 1-D numpy array, got {type(a).__name__} "
                    f"{getattr(a, 'shape', '')}; pass np.asarray(values)"
                )
            if name != "output":
                if steps is not None and len(a) != steps:
                    raise ValueError(
                        f"running_mean, running_var and gap need one value per step: {name} has {len(a)}, "
                        f"running_mean {steps}"
                    )
                steps = len(a)
        require_float("mean", self.mean)
        require_float("var", self.var, minimum=0.0)


@typechecked
@torch.no_grad()
def running_stats_trace(
    batch_size: int,
    momentum: float,
    steps: int = 100,
    gamma: float = 1.0,
    beta: float = 0.0,
    eps: float = 1e-5,
    seed: int = 0,
) -> RunningStatsTrace:
    r"""Train-mode BN on a stream of batches of one channel, $x = 2 + 3\,\mathrm{ReLU}(z)$, $z \sim N(0, 1)$.

    The running statistics follow $r_t = (1-\text{momentum})\,r_{t-1} + \text{momentum}\cdot s_t$
    (the variance with the $m/(m-1)$ correction), exactly as `BatchNorm1d(1, momentum=...)` does.
    The population mean is $2 + 3/\sqrt{2\pi}$ and variance $9\,(1/2 - 1/(2\pi))$.

    Returns:
        `RunningStatsTrace`; its `output` is $\gamma\,(x - \hat\mu)/\sqrt{\hat\sigma^2+\epsilon} + \beta$.
    """
    require_int("batch_size", batch_size, minimum=2, fix="train-mode BN needs two values per channel")
    require_float("momentum", momentum, 0.0, 1.0, strict_minimum=True)
    require_int("steps", steps)
    require_memory(
        "sizes", dict(batch_size=batch_size, steps=steps), 8 * 4 * steps * batch_size
    )  # 4 float64 (steps, batch)
    require_float("gamma", gamma)
    require_float("beta", beta)
    require_float("eps", eps, minimum=0.0)
    require_seed("seed", seed)
    # ~400 FLOPs' worth of time per value for the ~20 elementwise passes over (steps, batch) float64,
    # and half a microsecond per step of the Python loop. Measured (2 cores), against the estimate:
    # batch 1024, 20,000 steps 1.3 s (1.6 s); batch 16, 10**6 steps 3.2 s (1.8 s); batch 2, 10**6
    # steps 0.5 s (0.7 s). The memory bound above keeps it under ~10 s; this states the cost.
    require_work(
        dict(batch_size=batch_size, steps=steps), flops=400 * steps * batch_size, operations=0.05 * steps
    )
    gen = torch.Generator().manual_seed(seed)
    x = 2 + 3 * torch.relu(torch.randn(steps, batch_size, generator=gen, dtype=torch.float64))
    mean, var = x.mean(dim=1), x.var(dim=1, unbiased=False)  # (steps,) batch statistics
    unbiased = var * batch_size / (batch_size - 1)
    rm, rv, r_mean, r_var = 0.0, 1.0, [], []  # torch's initial buffers
    for batch_mean, batch_var in zip(mean.tolist(), unbiased.tolist(), strict=True):
        rm = (1 - momentum) * rm + momentum * batch_mean
        rv = (1 - momentum) * rv + momentum * batch_var
        r_mean.append(rm)
        r_var.append(rv)
    r_mean_t, r_var_t = torch.tensor(r_mean, dtype=torch.float64), torch.tensor(r_var, dtype=torch.float64)
    train = (x - mean[:, None]) / torch.sqrt(var[:, None] + eps)
    evals = (x - r_mean_t[:, None]) / torch.sqrt(r_var_t[:, None] + eps)
    fresh = 2 + 3 * torch.relu(torch.randn(2000, generator=gen, dtype=torch.float64))
    output = gamma * (fresh - rm) / math.sqrt(rv + eps) + beta
    return RunningStatsTrace(
        r_mean_t.numpy(),
        r_var_t.numpy(),
        (abs(gamma) * (train - evals).abs().mean(dim=1)).numpy(),
        2 + 3 / math.sqrt(2 * math.pi),
        9 * (0.5 - 1 / (2 * math.pi)),
        output.numpy(),
    )
