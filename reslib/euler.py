r"""The Euler view of a residual network: $h_k = h_{k-1} + \frac1L f(h_{k-1}, t_{k-1})$ as a step of an ODE.

A residual network whose $L$ blocks each add $\frac1L$ of a smooth branch takes Euler steps of size
$\frac1L$ along $\frac{dh}{dt} = f(h, t)$, $t \in [0, 1]$: as $L$ grows, its hidden trajectory converges
to the ODE's solution (the error of Euler's method is $O(1/L)$). A plain network,
$h_k = f(h_{k-1}, t_{k-1})$, has no such limit: each extra layer is one more application of the map.

Here $f(h, t) = W(t)\tanh(h)$ with $W(t) = \cos(\frac{\pi t}2) W_0 + \sin(\frac{\pi t}2) W_1$, and
$W_0, W_1$ Gaussian with variance $g^2/\text{width}$ ($g = 2.5$: a chaotic plain network).

References:
    Chen, Rubanova, Bettencourt and Duvenaud, "Neural ordinary differential equations",
    NeurIPS 2018. https://arxiv.org/abs/1806.07366
    Haber and Ruthotto, "Stable architectures for deep neural networks", 2017.
    https://arxiv.org/abs/1705.03341
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from reslib.guard import require_work
from reslib.validate import (
    require_array,
    require_bool,
    require_float,
    require_int,
    require_memory,
    require_seed,
    typechecked,
)

__all__ = ["Trajectory", "euler_trajectory"]


@dataclass(frozen=True)
class Trajectory:
    """Hidden states after each layer: `states[k]` at time `times[k] = k / depth`."""

    times: np.ndarray  # (depth + 1,)
    states: np.ndarray  # (depth + 1, n_inputs, width), float64

    def __post_init__(self) -> None:
        require_array("times", self.times, 1)
        require_array("states", self.states, 3)
        if len(self.states) != len(self.times):
            raise ValueError(
                f"states needs one (n_inputs, width) slice per time: {len(self.times)} times, "
                f"states {self.states.shape}"
            )


@typechecked
def euler_trajectory(
    depth: int,
    residual: bool = True,
    n_inputs: int = 4,
    width: int = 16,
    gain: float = 2.5,
    seed: int = 0,
) -> Trajectory:
    r"""Run `n_inputs` inputs through `depth` layers of one smooth family of weights $W(t)$.

    Residual: $h_k = h_{k-1} + \frac1L W(t_{k-1})\tanh(h_{k-1})$; plain: $h_k = W(t_{k-1})\tanh(h_{k-1})$.
    The weights and inputs depend on `seed` only, so networks of different depth share them.

    Args:
        depth: layers $L$, in [1, 100000].
        residual: Euler steps (True) or a plain network (False).
        n_inputs: inputs, each a standard normal vector.
        width: units per layer.
        gain: $g$, the weights' standard deviation times $\sqrt{\text{width}}$, > 0.
        seed: seed of the weights and inputs (a local generator).

    Returns:
        `Trajectory` with (depth + 1,) times and (depth + 1, n_inputs, width) states.
    """
    require_int("depth", depth, maximum=100_000)
    require_bool("residual", residual)
    require_int("n_inputs", n_inputs, maximum=10_000)
    require_int("width", width, maximum=4096)
    gain = require_float("gain", gain, minimum=0.0, maximum=100.0, strict_minimum=True)
    require_seed("seed", seed)
    sizes = dict(depth=depth, n_inputs=n_inputs, width=width)
    require_memory("sizes", sizes, 8 * (depth + 1) * n_inputs * width + 16 * width * width)
    # Per layer: W(t) from w0 and w1 (~30 FLOPs' worth of time per weight: 3 float64 passes over
    # memory), the product tanh(h) W^T (2 N w^2) and about 5 PyTorch operations. Measured (2 cores):
    # depth 100,000, width 16, 4 inputs: 3.9 s (estimated 5.1 s).
    require_work(
        sizes,
        flops=depth * (2 * n_inputs + 30) * width * width,
        operations=5 * depth,
    )
    gen = torch.Generator().manual_seed(seed)
    w0, w1 = torch.randn(2, width, width, generator=gen, dtype=torch.float64) * (gain / math.sqrt(width))
    h = torch.randn(n_inputs, width, generator=gen, dtype=torch.float64)  # (N, width)
    states = [h]
    for k in range(depth):
        t = k / depth
        w = math.cos(math.pi * t / 2) * w0 + math.sin(math.pi * t / 2) * w1  # W(t), (width, width)
        f = torch.tanh(h) @ w.T  # f(h, t)
        h = h + f / depth if residual else f
        states.append(h)
    return Trajectory(np.arange(depth + 1) / depth, torch.stack(states).numpy())
