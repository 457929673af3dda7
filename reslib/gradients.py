"""Gradients, layer by layer: how much learning signal reaches each layer.

The backward pass multiplies one Jacobian per layer,
$\\partial L/\\partial h_1 = J_2^\\top \\cdots J_K^\\top\\, \\partial L/\\partial h_K$,
so a factor below one per layer shrinks the signal geometrically (vanishing
gradients) and a factor above one grows it (exploding gradients).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD
from torch import nn
from torch.nn import functional as F

from reslib.mlp import mlp

__all__ = [
    "autocorrelation",
    "depth_gradients",
    "freeze_batch_stats",
    "gradient_flow",
    "input_gradients",
    "lag1_by_depth",
    "layer_gradient_norms",
    "linear_layers",
    "shattering",
    "shattering_net",
    "weight_gradients",
]


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The `nn.Linear` layers of `model` in registration order (input side first for `mlp`)."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layers")
    return layers


def weight_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    r"""$\partial L / \partial W_k$ for every linear layer $k$ (L: mean cross-entropy), input side first.

    Pure: uses `torch.autograd.grad`, so it leaves the parameters' `.grad` untouched.
    """
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    weights = [layer.weight for layer in linear_layers(model)]
    loss = F.cross_entropy(model(x), y)
    return [g.detach() for g in torch.autograd.grad(loss, weights)]


def layer_gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""$\lVert \partial L / \partial W_k \rVert_F$ for every linear layer $k$ (L: mean cross-entropy).

    Note:
        The norm is taken in float64. In float32 the squares of entries below ~1e-19
        underflow, so a tiny but non-zero gradient would report a norm of exactly 0.

    Args:
        model: a classifier with `nn.Linear` layers.
        x: a batch of inputs (N, in_features).
        y: their labels (N,).

    Returns:
        A float64 tensor (num_linear_layers,) on the CPU, input side first.
    """
    return _float64_norms(weight_gradients(model, x, y))


def _float64_norms(grads: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack([g.double().norm() for g in grads]).cpu()


def gradient_flow(
    depth: int,
    activation: str,
    x: torch.Tensor,
    y: torch.Tensor,
    width: int = 64,
    seed: int = 0,
    bins: int = 40,
    lr: float = 0.1,
) -> dict:
    """Per-layer gradient norms and activation histograms of a fresh plain `mlp` at initialisation.

    The compute behind notebook 01's explorer: one model, one forward and one
    backward pass on the batch `(x, y)`.

    Args:
        depth: hidden layers, >= 1.
        activation: `"relu"`, `"sigmoid"` or `"tanh"` (init is `"auto"`: He or Xavier).
        x, y: a batch of inputs (N, D) and labels (N,).
        width: units per hidden layer.
        seed: seed of the initial weights.
        bins: histogram bins.
        lr: the learning rate of the SGD step used to find frozen layers.

    Returns:
        dict with `norms` (depth + 1,) numpy array of $\\lVert\\partial L/\\partial W_k\\rVert$,
        `layers` (the 1-based hidden layers histogrammed: first, middle, last),
        `edges` (bins + 1,), `hist` (3, bins) fractions of units per bin, and
        `frozen` (depth + 1,) bool array: layers where one SGD step $W - \\eta\\,\\partial L/\\partial W$
        rounds back to exactly $W$ in the weights' dtype, and `status`, one sentence on what happened.
    """
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins!r}")
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = mlp(depth, width, x.shape[1], int(y.max()) + 1, activation=activation).to(x.device)
    finally:
        torch.random.set_rng_state(gen_state)
    with torch.no_grad():
        states = model.hidden_states(x)
    grads = weight_gradients(model, x, y)
    norms = _float64_norms(grads).numpy()
    with torch.no_grad():
        frozen = np.array([bool(torch.equal(layer.weight - lr * g, layer.weight))
                           for layer, g in zip(linear_layers(model), grads, strict=True)])
    layers = sorted({1, (depth + 1) // 2, depth})
    layers = (layers + [layers[-1]] * 3)[:3]
    values = [states[k - 1].detach().flatten().cpu() for k in layers]
    lo, hi = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}.get(activation, (0.0, None))
    if hi is None:
        finite = torch.cat(values)
        finite = finite[torch.isfinite(finite)]
        hi = max(float(finite.quantile(0.99)) if finite.numel() else 1.0, 1e-12)
    edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)
    hist = torch.stack([torch.histc(v.double().clamp(lo, hi), bins, lo, hi) / v.numel()
                        for v in values])
    return {"norms": norms, "layers": layers, "edges": edges.numpy(), "hist": hist.numpy(),
            "frozen": frozen,
            "status": _gradient_status(norms, frozen, lr, str(x.dtype).removeprefix("torch."))}


def _gradient_status(norms: np.ndarray, frozen: np.ndarray | None = None, lr: float = 0.1,
                     dtype: str = "float32") -> str:
    bad = ~np.isfinite(norms)
    if bad.any():
        return f"the gradient overflowed (inf/NaN) at layer {int(np.argmax(bad)) + 1}"
    zero = np.flatnonzero(norms == 0.0)
    if zero.size:
        return (f"the gradient underflowed to exactly 0 at {zero.size} of {len(norms)} layers "
                f"(layers {zero[0] + 1}-{zero[-1] + 1}): they cannot learn at all")
    ratio = f"largest / smallest layer gradient: {norms.max() / norms.min():.1e}"
    stuck = np.flatnonzero(frozen) if frozen is not None else np.array([], dtype=int)
    if stuck.size:
        return (f"{ratio}; an SGD step (lr {lr:g}) leaves the weights of {stuck.size} layer(s) "
                f"(first: layer {stuck[0] + 1}) exactly unchanged in {dtype}")
    return ratio


# --- 02 · shattered gradients (Balduzzi et al., 2017) ----------------------------------------

_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def freeze_batch_stats(model: nn.Module, x: torch.Tensor) -> nn.Module:
    r"""Set every batch norm's running statistics to the statistics of the batch `x`, then `eval()`.

    In train mode the outputs of a batch interact through the batch mean and variance, so
    $\partial y_i / \partial x_i$ would also carry $1/N$ cross terms. Freezing the statistics of
    the whole batch keeps the function the network computes on `x` and makes each output depend on
    its own input only, as Balduzzi et al. (2017) measure it. Returns `model` (changed in place).
    """
    norms = [m for m in model.modules() if isinstance(m, _BATCH_NORMS)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: after one batch, exactly that batch's statistics
    model.train()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for m, momentum in zip(norms, saved, strict=True):
            m.momentum = momentum
    return model.eval()


def _as_column(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 1:
        x = x.unsqueeze(1)
    if x.dim() != 2 or x.shape[1] != 1:
        raise ValueError(f"x must hold scalar inputs, shape (N,) or (N, 1), got {tuple(x.shape)}")
    return x


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
    x = _as_column(x)
    if any(m.training for m in model.modules() if isinstance(m, _BATCH_NORMS)):
        raise ValueError("batch norm is in train mode, so every output depends on the whole batch; "
                         "call freeze_batch_stats(model, x) (or model.eval()) first")
    x = x.detach().requires_grad_(True)
    y = model(x)
    if y.shape != (len(x), 1):
        raise ValueError(f"model must return one scalar per input, (N, 1), got {tuple(y.shape)}")
    (grad,) = torch.autograd.grad(y.sum(), x)
    return grad.squeeze(1).detach()


def depth_gradients(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    r"""$\partial y_d/\partial x$ for the network cut after each depth $d$: $y_d = \mathrm{head}(h_d)$.

    One forward-mode pass carries $\partial h_d/\partial x$ through all layers of a `reslib.mlp.MLP`
    (scalar input, so a single tangent), so the networks of depth 1..D cost one pass together.

    Returns:
        (depth, N) tensor; row $d-1$ is the derivative for the first $d$ layers plus the head.
    """
    x = _as_column(x).detach()
    if not hasattr(model, "hidden_states") or not hasattr(model, "head"):
        raise TypeError(f"model must be a reslib.mlp.MLP, got {type(model).__name__}")
    if any(m.training for m in model.modules() if isinstance(m, _BATCH_NORMS)):
        raise ValueError("batch norm is in train mode; call freeze_batch_stats(model, x) first")
    with torch.no_grad(), fwAD.dual_level():
        states = model.hidden_states(fwAD.make_dual(x, torch.ones_like(x)))
        tangents = torch.stack([fwAD.unpack_dual(h).tangent for h in states])  # (depth, N, width)
    # the head is linear, so d head(h)/dx = W dh/dx
    return (tangents @ model.head.weight.detach().T).squeeze(-1)


def autocorrelation(g: torch.Tensor | np.ndarray, max_lag: int | None = None) -> np.ndarray:
    r"""Autocorrelation of a sequence, mean removed and normalised to 1 at lag 0.

    $r(k) = \sum_{i} (g_i - \bar g)(g_{i+k} - \bar g) \,/\, \sum_i (g_i - \bar g)^2$.

    Args:
        g: (N,) values on an evenly spaced grid (or (S, N): one row each).
        max_lag: the largest lag returned, 0 <= max_lag < N; all lags by default.

    Returns:
        float64 array (max_lag + 1,) (or (S, max_lag + 1)).
    """
    a = g.detach().cpu().double().numpy() if isinstance(g, torch.Tensor) else np.asarray(g, float)
    if a.ndim not in (1, 2) or a.shape[-1] < 2:
        raise ValueError(f"g must be a sequence (N,) or rows (S, N) with N >= 2, got {a.shape}")
    n = a.shape[-1]
    max_lag = n - 1 if max_lag is None else max_lag
    if isinstance(max_lag, bool) or not isinstance(max_lag, (int, np.integer)) \
            or not 0 <= max_lag < n:
        raise ValueError(f"max_lag must be an int in [0, {n - 1}], got {max_lag!r}")
    c = a - a.mean(-1, keepdims=True)
    power = (c * c).sum(-1)
    if np.any(power == 0):
        raise ValueError("g is constant: a constant has no autocorrelation")
    r = np.stack([(c[..., : n - k] * c[..., k:]).sum(-1) for k in range(max_lag + 1)], -1)
    return r / power[..., None]


_SHATTER_INITS = ("he", "glorot")


def shattering_net(depth: int, residual: bool, batch_norm: bool = True, width: int = 200,
                   seed: int = 0, init: str = "he") -> nn.Module:
    r"""The network of the shattered-gradients experiment: a seeded `mlp(depth, width, 1, 1)`.

    Feed-forward: the first layer is $\mathrm{ReLU}(w x + b)$ without norm, each unit switching on
    at a point drawn uniformly from $[-2, 2]$; residual: `mlp`'s linear stem. See `shattering`.
    """
    if init not in _SHATTER_INITS:
        raise ValueError(f"init must be 'he' (Balduzzi et al.) or 'glorot' (UDL 11.1), got {init!r}")
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = mlp(depth, width, 1, 1, residual=residual, norm="batch" if batch_norm else None,
                    init="he")
        if not residual:  # the residual stem stays as mlp builds it: linear, so no kinks
            first = nn.Linear(1, width)
            nn.init.kaiming_normal_(first.weight, nonlinearity="relu")  # N(0, 2)
            kinks = torch.empty(width).uniform_(-2.0, 2.0)  # where each unit switches on
            with torch.no_grad():
                first.bias.copy_(-first.weight[:, 0] * kinks)
            model.stem = nn.Sequential(first, nn.ReLU())
        if init == "glorot":  # UDL 11.1: every weight and bias ~ N(0, 1/width)
            for layer in model.modules():
                if isinstance(layer, nn.Linear):
                    nn.init.normal_(layer.weight, std=width**-0.5)
                    if layer.bias is not None:
                        nn.init.normal_(layer.bias, std=width**-0.5)
        return model
    finally:
        torch.random.set_rng_state(gen_state)


def shattering(depth: int, residual: bool, batch_norm: bool = True, width: int = 200,
               n_inputs: int = 256, seed: int = 0, init: str = "he",
               device: torch.device | str | None = None) -> dict:
    r"""The shattered-gradients experiment: $\partial y/\partial x$ of a random ReLU net on $[-2, 2]$.

    A fresh `mlp(depth, width, 1, 1)` (feed-forward: `depth` layers; residual: `depth` blocks
    $h + W\,\mathrm{ReLU}(\mathrm{BN}(h))$), batch-norm statistics taken over the `n_inputs` grid
    points (one batch), then the derivative at each point and its autocorrelation.

    Args:
        depth: layers or residual blocks, >= 1.
        residual: skip connections or not.
        batch_norm: batch norm before each ReLU (the paper's set-up).
        width, n_inputs, seed: hidden units, grid points and the seed of the weights.
        init: `"he"` (the paper) or `"glorot"` (UDL notebook 11.1: weights and biases
            $\sim \mathcal N(0, 1/\text{width})$; use it with `batch_norm=False`).

    Note:
        The feed-forward net's first layer is $\mathrm{ReLU}(w x + b)$ without batch norm:
        normalising $w x + b$ over the grid gives every unit $\pm(x - \bar x)/s_x$, so all
        units would switch at the same point. With `init="he"` each unit's switch point $-b/w$
        is drawn uniformly from $[-2, 2]$. The residual net keeps `mlp`'s linear stem.

    Returns:
        dict with `x` (n_inputs,), `grad` (n_inputs,) and `autocorr` (n_inputs,) numpy arrays,
        and `lag1`, the autocorrelation at one grid step (4 / n_inputs).

    References:
        Balduzzi et al., "The shattered gradients problem", ICML 2017. https://arxiv.org/abs/1702.08591
    """
    if isinstance(n_inputs, bool) or not isinstance(n_inputs, int) or n_inputs < 2:
        raise ValueError(f"n_inputs must be an int >= 2, got {n_inputs!r}")
    model = shattering_net(depth, residual, batch_norm, width, seed, init)
    x = torch.linspace(-2.0, 2.0, n_inputs, device=device).unsqueeze(1)
    model = freeze_batch_stats(model.to(x.device), x)
    grad = input_gradients(model, x).cpu().numpy()
    r = autocorrelation(grad)
    return {"x": x.squeeze(1).cpu().numpy(), "grad": grad, "autocorr": r, "lag1": float(r[1])}


def lag1_by_depth(max_depth: int, residual: bool, batch_norm: bool = True, width: int = 200,
                  n_inputs: int = 256, seeds: tuple[int, ...] = (0, 1, 2), init: str = "he",
                  ) -> np.ndarray:
    r"""Lag-1 autocorrelation of $\partial y/\partial x$ for depths 1..`max_depth`, mean over seeds.

    Each seed builds one network of `max_depth` layers; `depth_gradients` reads off all its
    truncations in one pass. Returns a float64 array (max_depth,).
    """
    rows = []
    x = torch.linspace(-2.0, 2.0, n_inputs).unsqueeze(1)
    for seed in seeds:
        model = freeze_batch_stats(
            shattering_net(max_depth, residual, batch_norm, width, seed, init), x)
        rows.append(autocorrelation(depth_gradients(model, x), max_lag=1)[:, 1])
    return np.mean(rows, axis=0)
