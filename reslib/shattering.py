r"""Shattered gradients (Balduzzi et al., 2017): how $\partial y/\partial x$ varies along the input.

A deep feed-forward ReLU network's gradient with respect to its input decorrelates between
neighbouring inputs, $r(1) \to 0$ (white noise); a residual network's stays correlated.

References:
    Balduzzi et al., "The shattered gradients problem: if resnets are the answer, then what is
    the question?", ICML 2017. https://arxiv.org/abs/1702.08591
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD
from torch import nn

from reslib.guard import require_work
from reslib.inits import INITS
from reslib.mlp import mlp
from reslib.runtime import device as best_device
from reslib.runtime import local_seed
from reslib.validate import (
    MAX_BLOCKS,
    require_bool,
    require_choice,
    require_device,
    require_int,
    require_memory,
    require_seed,
    require_tensor,
    typechecked,
)

__all__ = [
    "ShatteringResult",
    "autocorrelation",
    "depth_gradients",
    "freeze_batch_stats",
    "input_gradients",
    "lag1_by_depth",
    "shattering",
    "shattering_net",
]

_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


@typechecked
def freeze_batch_stats(model: nn.Module, x: torch.Tensor) -> nn.Module:
    r"""Store in every batch norm the mean and variance of what it sees on the batch `x`, then `eval()`.

    In train mode the outputs of a batch interact through the batch mean and variance, so
    $\partial y_i / \partial x_i$ would also carry $1/N$ cross terms. One pass over `x` in train
    mode, with each batch norm keeping its input's per-channel mean and *biased* variance (the ones
    train mode divides by; PyTorch's own running variance is the unbiased one, $N/(N-1)$ larger),
    makes eval mode compute the same function on `x` as train mode, and each output depend on its
    own input only, as Balduzzi et al. (2017) measure it. Returns `model` (changed in place).
    """
    require_tensor("x", x, ndim=(2, 3, 4), fix="a batch (N, ...) of at least two examples")
    # NaN or inf in x would become every batch norm's statistics, and every later output NaN
    require_tensor("x", x, dtype="float", finite=True, fix="the batch whose statistics BN keeps")
    norms = [m for m in model.modules() if isinstance(m, _BATCH_NORMS)]
    for m in norms:
        if m.running_mean is None:
            raise ValueError(f"{m} has track_running_stats=False: it has no statistics to freeze")

    def keep_batch_stats(bn: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        z = inputs[0].detach().transpose(0, 1).flatten(1)  # (C, N * ...): each channel's values
        bn.running_mean.copy_(z.mean(1))
        bn.running_var.copy_(z.var(1, unbiased=False))  # what train mode divided by

    hooks = [m.register_forward_hook(keep_batch_stats) for m in norms]  # run after each BN's own update
    model.train()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return model.eval()


# `depth_gradients`' chunk: activations a layer (2 MiB of float32), so a chunk's layers stay in cache.
_CHUNK = 2**19


def _as_column(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 1:
        x = x.unsqueeze(1)
    if x.dim() != 2 or x.shape[1] != 1:
        raise ValueError(f"x must hold scalar inputs, shape (N,) or (N, 1), got {tuple(x.shape)}")
    return x


@typechecked
def input_gradients(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    r"""$\partial y/\partial x$ at every scalar input $x_i$ in one backward pass.

    Because each output depends on its own input only (norms must be in eval mode),
    $\partial \sum_j y_j / \partial x_i = \partial y_i / \partial x_i$: one `autograd.grad` call.

    Args:
        model: maps (N, 1) -> (N, 1); batch norms in eval mode (see `freeze_batch_stats`).
        x: inputs, shape (N,) or (N, 1).

    Returns:
        (N,) tensor of derivatives, on `x`'s device.
    """
    # NaN or inf in x: a ReLU net's derivative there is still a finite slope, reported as real
    require_tensor("x", x, dtype="float", finite=True, fix="a grid of finite inputs")
    x = _as_column(x)
    if any(m.training for m in model.modules() if isinstance(m, _BATCH_NORMS)):
        raise ValueError(
            "batch norm is in train mode, so every output depends on the whole batch; "
            "call freeze_batch_stats(model, x) (or model.eval()) first"
        )
    x = x.detach().requires_grad_(True)
    y = model(x)
    if y.shape != (len(x), 1):
        raise ValueError(f"model must return one scalar per input, (N, 1), got {tuple(y.shape)}")
    (grad,) = torch.autograd.grad(y.sum(), x)
    return grad.squeeze(1).detach()


@typechecked
def depth_gradients(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    r"""$\partial y_d/\partial x$ for the network cut after each depth $d$: $y_d = \mathrm{head}(h_d)$.

    One forward-mode pass carries $\partial h_d/\partial x$ through all layers of a `reslib.mlp.MLP`
    (scalar input, so a single tangent), so the networks of depth 1..D cost one pass together.
    With batch norm in eval mode each point's derivative depends on that point only, so the pass
    runs over chunks of points, each about `_CHUNK` activations a layer: a chunk's layers stay in
    the CPU's cache (4 million points at width 8, one thread: 11.6 s in one pass, 2.5 s in chunks).

    Returns:
        (depth, N) tensor; row $d-1$ is the derivative for the first $d$ layers plus the head.
    """
    require_tensor("x", x, dtype="float")
    x = _as_column(x).detach()
    if not hasattr(model, "hidden_states") or not hasattr(model, "head"):
        raise TypeError(f"model must be a reslib.mlp.MLP, got {type(model).__name__}")
    if any(m.training for m in model.modules() if isinstance(m, _BATCH_NORMS)):
        raise ValueError("batch norm is in train mode; call freeze_batch_stats(model, x) first")
    head = model.head.weight.detach()
    rows = []
    for chunk in x.split(max(1, _CHUNK // head.shape[1])):
        with torch.no_grad(), fwAD.dual_level():
            states = model.hidden_states(fwAD.make_dual(chunk, torch.ones_like(chunk)))
            tangents = torch.stack([fwAD.unpack_dual(h).tangent for h in states])  # (depth, n, width)
        rows.append((tangents @ head.T).squeeze(-1))  # the head is linear: d head(h)/dx = W dh/dx
    return torch.cat(rows, 1)


@typechecked
def autocorrelation(g: torch.Tensor | np.ndarray, max_lag: int | None = None) -> np.ndarray:
    r"""Autocorrelation of a sequence, mean removed and normalised to 1 at lag 0.

    $r(k) = \sum_{i} (g_i - \bar g)(g_{i+k} - \bar g) \,/\, \sum_i (g_i - \bar g)^2$.

    Args:
        g: (N,) values on an evenly spaced grid (or (S, N): one row each).
        max_lag: the largest lag returned, 0 <= max_lag < N; all lags by default.

    Returns:
        float64 array (max_lag + 1,) (or (S, max_lag + 1)).
    """
    if isinstance(g, torch.Tensor) and g.device.type == "meta":
        raise ValueError("g is on the meta device and holds no values; pass real data")
    if isinstance(g, torch.Tensor) and g.is_complex() or isinstance(g, np.ndarray) and np.iscomplexobj(g):
        raise TypeError(f"g must hold real numbers, got dtype {g.dtype}; pass g.real or g.abs()")
    a = g.detach().cpu().double().numpy() if isinstance(g, torch.Tensor) else np.asarray(g, float)
    if a.ndim not in (1, 2) or a.shape[-1] < 2:
        raise ValueError(f"g must be a sequence (N,) or rows (S, N) with N >= 2, got {a.shape}")
    n = a.shape[-1]
    max_lag = n - 1 if max_lag is None else max_lag
    max_lag = int(max_lag) if isinstance(max_lag, np.integer) else max_lag
    require_int("max_lag", max_lag, 0, n - 1, fix=f"the sequence has {n} values")
    rows = a.shape[0] if a.ndim == 2 else 1
    require_work(
        dict(g=f"shape {a.shape}", max_lag=max_lag),
        flops=_autocorrelation_flops(rows, n, max_lag),
        operations=max_lag + 1,
    )
    c = a - a.mean(-1, keepdims=True)
    power = (c * c).sum(-1)
    if np.any(power == 0):
        raise ValueError("g is constant: a constant has no autocorrelation")
    r = np.stack([(c[..., : n - k] * c[..., k:]).sum(-1) for k in range(max_lag + 1)], -1)
    return r / power[..., None]


@typechecked
def shattering_net(
    depth: int, residual: bool, batch_norm: bool = True, width: int = 200, seed: int = 0, init: str = "he"
) -> nn.Module:
    r"""The network of the shattered-gradients experiment: a seeded `mlp(depth, width, 1, 1)`.

    Feed-forward: the first layer is $\mathrm{ReLU}(w x + b)$ without norm, each unit switching on
    at a point drawn uniformly from $[-2, 2]$; residual: `mlp`'s linear stem. See `shattering`
    for `init`. Torch's global generator is left as it was.
    """
    require_int("depth", depth, maximum=MAX_BLOCKS)
    require_bool("residual", residual)
    require_bool("batch_norm", batch_norm)
    require_int("width", width)
    # the weights, counted as `mlp` counts them (so its check, naming in_features, never fires first)
    require_memory("sizes", dict(depth=depth, width=width), 8 * (depth * width * width + 2 * width))
    require_seed("seed", seed)
    require_choice("init", init, INITS, fix="'he' is Balduzzi et al.'s set-up, 'glorot' UDL 11.1's")
    with local_seed(seed):  # the CPU generator draws the weights; restored after
        model = mlp(depth, width, 1, 1, residual=residual, norm="batch" if batch_norm else None, init="he")
        if not residual:  # the residual stem stays as mlp builds it: linear, so no kinks
            first = nn.Linear(1, width)
            nn.init.kaiming_normal_(first.weight, nonlinearity="relu")  # N(0, 2)
            kinks = torch.empty(width).uniform_(-2.0, 2.0)  # where each unit switches on
            with torch.no_grad():
                first.bias.copy_(-first.weight[:, 0] * kinks)
            model.stem = nn.Sequential(first, nn.ReLU())
        if init == "glorot":
            _redraw_weights_and_biases(model, std=math.sqrt(INITS["glorot"]) * width**-0.5)
    return model


def _redraw_weights_and_biases(model: nn.Module, std: float) -> None:
    """UDL 11.1's set-up: every linear weight *and bias* ~ N(0, std^2), the first layer's too."""
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, std=std)
            if layer.bias is not None:
                nn.init.normal_(layer.bias, std=std)


def _work(
    depth: int, width: int, n_inputs: int, passes: float, nets: int = 1, lags: int = 1
) -> dict[str, float]:
    """`require_work`'s counts for `nets` networks of `depth` (width x width) layers on `n_inputs` points.

    Each network is built (about 60 PyTorch operations a layer: the init draws) and run three times
    (the statistics pass, forward, backward: about 10 operations a layer each); the matmuls do
    $2 N w^2$ FLOPs a layer and pass, and run about 3x faster than `FLOPS_PER_SECOND` here, so
    one pass's count stands for three (`passes=1`; `lag1_by_depth`'s forward-mode pass is slower:
    1.5). Then the autocorrelation of the derivative: all `lags` of one row (`shattering`), or lag 1
    of every depth's row (`lag1_by_depth`). Measured (2 cores, one thread) against the estimate:
    `shattering` depth 200, 1,024 inputs, width 200: 1.1-2.6 s (3.4 s); depth 20, 8,192 inputs,
    width 400: 5.8 s (10.8 s); depth 50, 256 inputs: 0.1-0.45 s (0.25 s); `lag1_by_depth` 200,
    width 100: 1.0 s (1.5 s); 50: 1.5-2.3 s (1.1 s).
    """
    return dict(
        flops=nets * passes * 2 * n_inputs * width * width * depth
        + _autocorrelation_flops(1 if lags > 1 else nets * depth, n_inputs, lags),
        operations=nets * depth * 90 + lags,
    )


def _autocorrelation_flops(rows: int, n: int, max_lag: int) -> float:
    """`autocorrelation`'s cost for lags 0..max_lag of `rows` rows of `n` values.

    ~10 FLOPs' worth of time per product (numpy makes and sums a temporary for each lag).
    Measured: 30,000 values, all lags: 0.79 s (estimated 0.93 s); 10,000: 0.13 s (0.2 s);
    64 rows of 4,096, 200 lags: 0.08 s (0.1 s).
    """
    pairs = (max_lag + 1) * n - max_lag * (max_lag + 1) / 2  # sum over k of (n - k)
    return 10 * rows * pairs


@dataclass(frozen=True)
class ShatteringResult:
    """The derivative of one random network along the input grid, and its autocorrelation."""

    x: np.ndarray  # (n_inputs,) the grid on [-2, 2]
    grad: np.ndarray  # (n_inputs,) dy/dx at each grid point
    autocorr: np.ndarray  # (n_inputs,) autocorrelation of `grad` at lags 0..n_inputs - 1
    lag1: float  # the autocorrelation at one grid step (4 / (n_inputs - 1))

    def __post_init__(self) -> None:
        n = None
        for name in ("x", "grad", "autocorr"):
            a = getattr(self, name)
            if not isinstance(a, np.ndarray) or a.ndim != 1 or len(a) < 2:
                raise TypeError(
                    f"{name} must be a 1-D numpy array of at least 2 values (one per grid point), got "
                    f"{type(a).__name__} {getattr(a, 'shape', '')}"
                )
            if n is not None and len(a) != n:
                raise ValueError(
                    f"x, grad and autocorr need one value per grid point: x has {n}, {name} {len(a)}"
                )
            n = len(a)
        if not isinstance(self.lag1, (float, int)) or isinstance(self.lag1, bool):
            raise TypeError(f"lag1 must be a float, got {type(self.lag1).__name__}")
        # a measured autocorrelation is 1 at lag 0; the explorer's placeholder is zeros with lag1 NaN
        r1 = float(self.autocorr[1])
        same = math.isclose(self.lag1, r1, rel_tol=1e-9, abs_tol=1e-12) or (
            math.isnan(r1) and math.isnan(self.lag1)
        )
        if self.autocorr[0] != 0 and not same:
            raise ValueError(
                f"lag1 must be autocorr[1] = {r1:.6g}, the autocorrelation at one grid step, "
                f"got {self.lag1!r}"
            )


@typechecked
def shattering(
    depth: int,
    residual: bool,
    batch_norm: bool = True,
    width: int = 200,
    n_inputs: int = 256,
    seed: int = 0,
    init: str = "he",
    device: torch.device | str | None = None,
) -> ShatteringResult:
    r"""The shattered-gradients experiment: $\partial y/\partial x$ of a random ReLU net on $[-2, 2]$.

    A fresh `mlp(depth, width, 1, 1)` (feed-forward: `depth` layers; residual: `depth` blocks
    $h + W\,\mathrm{ReLU}(\mathrm{BN}(h))$), batch-norm statistics taken over the `n_inputs` grid
    points (one batch), then the derivative at each point and its autocorrelation.

    Args:
        depth: layers or residual blocks, >= 1.
        residual: skip connections or not.
        batch_norm: batch norm before each ReLU (the paper's set-up).
        width, n_inputs, seed: hidden units, grid points and the seed of the weights.
        init: a name from `reslib.inits.INITS`, each a whole published set-up:
            `"he"` (the paper): `mlp`'s He init, $\sigma_w^2 = 2/\text{fan\_in}$, zero biases
            (but the first layer's, see the note); `"glorot"` (UDL notebook 11.1): every weight
            **and every bias**, the first layer's too, $\sim \mathcal N(0, 1/\text{width})$;
            use it with `batch_norm=False`.

    Note:
        Elsewhere in reslib `"glorot"` sets only the weight variance; here it also draws the
        biases, because that is the set-up of the UDL notebook this experiment replicates.
        The feed-forward net's first layer is $\mathrm{ReLU}(w x + b)$ without batch norm:
        normalising $w x + b$ over the grid gives every unit $\pm(x - \bar x)/s_x$, so all
        units would switch at the same point. With `init="he"` each unit's switch point $-b/w$
        is drawn uniformly from $[-2, 2]$. The residual net keeps `mlp`'s linear stem.

    Returns:
        `ShatteringResult` with numpy arrays `x`, `grad`, `autocorr` (n_inputs,) and `lag1`.

    References:
        Balduzzi et al., "The shattered gradients problem", ICML 2017. https://arxiv.org/abs/1702.08591
    """
    require_int("depth", depth, maximum=MAX_BLOCKS)
    require_int("width", width)
    require_int("n_inputs", n_inputs, minimum=2)
    sizes = dict(depth=depth, width=width, n_inputs=n_inputs)
    require_memory("sizes", sizes, 8 * (depth + 1) * n_inputs * width)  # activations, forward and back
    require_work(sizes, **_work(depth, width, n_inputs, passes=1, lags=n_inputs - 1))
    device = require_device("device", device) or best_device()
    model = shattering_net(depth, residual, batch_norm, width, seed, init)
    x = torch.linspace(-2.0, 2.0, n_inputs, device=device).unsqueeze(1)
    model = freeze_batch_stats(model.to(x.device), x)
    grad = input_gradients(model, x).cpu().numpy()
    r = autocorrelation(grad)
    return ShatteringResult(x.squeeze(1).cpu().numpy(), grad, r, float(r[1]))


@typechecked
def lag1_by_depth(
    max_depth: int,
    residual: bool,
    batch_norm: bool = True,
    width: int = 200,
    n_inputs: int = 256,
    seeds: tuple[int, ...] = (0, 1, 2),
    init: str = "he",
) -> np.ndarray:
    r"""Lag-1 autocorrelation of $\partial y/\partial x$ for depths 1..`max_depth`, mean over seeds.

    Each seed builds one network of `max_depth` layers; `depth_gradients` reads off all its
    truncations in one pass. Returns a float64 array (max_depth,).
    """
    require_int("max_depth", max_depth, maximum=MAX_BLOCKS)
    require_int("width", width)
    require_int("n_inputs", n_inputs, minimum=2)
    sizes = dict(max_depth=max_depth, width=width, n_inputs=n_inputs)
    # the activations, and one network's weights as `mlp` counts them
    weights = max_depth * width * width + 2 * width
    require_memory("sizes", sizes, 8 * ((max_depth + 1) * n_inputs * width + weights))
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got an empty sequence")
    for i, seed in enumerate(seeds):
        require_seed(f"seeds[{i}]", seed)
    require_work(sizes | dict(seeds=seeds), **_work(max_depth, width, n_inputs, passes=1.5, nets=len(seeds)))
    rows = []
    x = torch.linspace(-2.0, 2.0, n_inputs).unsqueeze(1)
    for seed in seeds:
        model = freeze_batch_stats(shattering_net(max_depth, residual, batch_norm, width, seed, init), x)
        rows.append(autocorrelation(depth_gradients(model, x), max_lag=1)[:, 1])
    return np.mean(rows, axis=0)
