"""Gradients, layer by layer: how much learning signal reaches each layer.

The backward pass multiplies one Jacobian per layer,
$\\partial L/\\partial h_1 = J_2^\\top \\cdots J_K^\\top\\, \\partial L/\\partial h_K$,
so a factor below one per layer shrinks the signal geometrically (vanishing
gradients) and a factor above one grows it (exploding gradients).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from reslib.mlp import mlp

__all__ = ["gradient_flow", "layer_gradient_norms", "linear_layers"]


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The `nn.Linear` layers of `model` in registration order (input side first for `mlp`)."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layers")
    return layers


def layer_gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""$\lVert \partial L / \partial W_k \rVert_F$ for every linear layer $k$ (L: mean cross-entropy).

    Pure: uses `torch.autograd.grad`, so it leaves the parameters' `.grad` untouched.

    Args:
        model: a classifier with `nn.Linear` layers.
        x: a batch of inputs (N, in_features).
        y: their labels (N,).

    Returns:
        A float tensor (num_linear_layers,) on the CPU, input side first.
    """
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    weights = [layer.weight for layer in linear_layers(model)]
    loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, weights)
    return torch.stack([g.detach().norm() for g in grads]).cpu()


def gradient_flow(
    depth: int,
    activation: str,
    x: torch.Tensor,
    y: torch.Tensor,
    width: int = 64,
    seed: int = 0,
    bins: int = 40,
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

    Returns:
        dict with `norms` (depth + 1,) numpy array of $\\lVert\\partial L/\\partial W_k\\rVert$,
        `layers` (the 1-based hidden layers histogrammed: first, middle, last),
        `edges` (bins + 1,), `hist` (3, bins) fractions of units per bin, and
        `status`, a sentence on underflow or overflow ("" when all is finite and non-zero).
    """
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = mlp(depth, width, x.shape[1], int(y.max()) + 1, activation=activation).to(x.device)
    finally:
        torch.random.set_rng_state(gen_state)
    with torch.no_grad():
        states = model.hidden_states(x)
    norms = layer_gradient_norms(model, x, y).double().numpy()
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
            "status": _gradient_status(norms)}


def _gradient_status(norms: np.ndarray) -> str:
    bad = ~np.isfinite(norms)
    if bad.any():
        return f"the gradient overflowed (inf/NaN) at layer {int(np.argmax(bad)) + 1}"
    zero = np.flatnonzero(norms == 0.0)
    if zero.size:
        return (f"the gradient underflowed to exactly 0 in float32 at {zero.size} of "
                f"{len(norms)} layers (layers {zero[0] + 1}-{zero[-1] + 1}): they cannot learn at all")
    ratio = norms.max() / norms.min()
    return f"largest / smallest layer gradient: {ratio:.1e}"
