r"""Batch normalization at inference: running statistics, the affine map they define, folding.

At inference (Algorithm 2 of Ioffe & Szegedy, 2015) the batch statistics $\mu_B, \sigma_B^2$
are replaced by running averages, so BN becomes one fixed affine map per channel,
$y = a\,x + b$, that can be folded into the preceding convolution.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from reslib.validate import require_float, require_int, require_memory, typechecked

__all__ = ["RunningStatsTrace", "fold_into_conv", "inference_affine", "running_stats_trace"]


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
    require_int("seed", seed, minimum=0)
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
