r"""Gradients, layer by layer: how much learning signal reaches each layer.

The backward pass multiplies one Jacobian per layer,
$\partial L/\partial h_1 = J_2^\top \cdots J_K^\top\, \partial L/\partial h_K$,
so a factor below one per layer shrinks the signal geometrically (vanishing
gradients) and a factor above one grows it (exploding gradients).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from reslib.language import tr
from reslib.mlp import ACTIVATIONS, mlp
from reslib.runtime import local_seed
from reslib.validate import (
    MAX_BLOCKS,
    require_array,
    require_batch,
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
    "GradientFlow",
    "gradient_flow",
    "linear_layers",
    "weight_gradients",
]


@typechecked
def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The `nn.Linear` layers of `model` in registration order (input side first for `mlp`)."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layers")
    return layers


def _require_labels_beside(where: str, y: torch.Tensor, x: torch.Tensor) -> None:
    if y.device != x.device:  # attributes only
        raise ValueError(
            f"{where}: y is on {y.device}, but x is on {x.device}; "
            "put both on one device, e.g. y.to(x.device)"
        )


@typechecked
def weight_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    r"""$\partial L / \partial W_k$ for every linear layer $k$ (L: mean cross-entropy), input side first.

    Pure: uses `torch.autograd.grad`, so it leaves the parameters' `.grad` untouched.
    """
    require_batch(x, y)
    _require_labels_beside("weight_gradients", y, x)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    weights = [layer.weight for layer in linear_layers(model)]
    loss = F.cross_entropy(model(x), y)
    return [g.detach() for g in torch.autograd.grad(loss, weights)]


def _float64_norms(grads: list[torch.Tensor]) -> torch.Tensor:
    # In float32 the squares of entries below ~1e-19 underflow: a tiny gradient would have norm 0.
    return torch.stack([g.double().norm() for g in grads]).cpu()


@dataclass(frozen=True)
class GradientFlow:
    """Per-layer gradient norms and activation histograms of one network at initialisation."""

    norms: np.ndarray  # (layers,) float64 ||dL/dW_k||, input side first (the last is the head)
    frozen: np.ndarray  # (layers,) bool: one SGD step rounds back to exactly W
    layers: list[int]  # the 1-based hidden layers histogrammed: first, middle, last
    edges: np.ndarray  # (bins + 1,) histogram bin edges
    hist: np.ndarray  # (3, bins) fraction of units per bin, one row per entry of `layers`
    status: str  # one sentence on what happened

    def __post_init__(self) -> None:
        for name in ("norms", "frozen", "edges"):
            require_array(name, getattr(self, name), 1)
        require_array("hist", self.hist, 2)
        if not isinstance(self.layers, (list, tuple)) or not all(
            isinstance(k, int) and not isinstance(k, bool) for k in self.layers
        ):
            raise TypeError(
                "layers must be a list of ints (the 1-based hidden layers histogrammed), "
                f"got {self.layers!r:.60}"
            )
        if self.frozen.shape != self.norms.shape:
            raise ValueError(
                f"frozen {self.frozen.shape} needs one flag per layer of norms {self.norms.shape}"
            )
        if self.hist.shape != (len(self.layers), len(self.edges) - 1):
            raise ValueError(
                f"hist must be (len(layers), len(edges) - 1) = ({len(self.layers)}, {len(self.edges) - 1}), "
                f"got {self.hist.shape}"
            )
        if not isinstance(self.status, str):
            raise TypeError(f"status must be a str, got {type(self.status).__name__}")


@typechecked
def gradient_flow(
    depth: int,
    activation: str,
    x: torch.Tensor,
    y: torch.Tensor,
    width: int = 64,
    seed: int = 0,
    bins: int = 40,
    lr: float = 0.1,
    residual: bool = False,
) -> GradientFlow:
    r"""Per-layer gradient norms and activation histograms of a fresh `mlp` at initialisation.

    The compute behind notebook 01's explorer: one model, one forward and one
    backward pass on the batch `(x, y)`.

    Args:
        depth: hidden layers, >= 1.
        activation: `"relu"`, `"sigmoid"` or `"tanh"` (init is `"auto"`: He or Xavier).
        x, y: a batch of inputs (N, D) and labels (N,).
        width: units per hidden layer.
        seed: seed of the initial weights (torch's global generator is left as it was).
        bins: histogram bins.
        lr: the learning rate of the SGD step used to find frozen layers.
        residual: skip connections, $h_k = h_{k-1} + W_k\,a(h_{k-1}) + b_k$ (no norm), so the
            backward factor per block is $I + W_k^\top \mathrm{diag}(a')$ instead of
            $W_k^\top \mathrm{diag}(a')$: the identity keeps the gradient from vanishing.

    Returns:
        `GradientFlow`: `norms` $\lVert\partial L/\partial W_k\rVert$ (depth + 1,) for a plain
        net (its hidden layers, then the head) or (depth + 2,) for a residual one (the linear
        stem, the `depth` blocks, the head), `frozen` (same length): layers where one SGD step
        $W - \eta\,\partial L/\partial W$ rounds back to exactly $W$ in the weights' dtype,
        histograms `layers`, `edges`, `hist`, and `status`.
    """
    require_batch(x, y)
    if x.ndim != 2:
        raise ValueError(
            f"x must be a batch of vectors (N, D), got shape {tuple(x.shape)}; flatten it with x.flatten(1)"
        )
    # NaN or inf in x would come out as norms of NaN, reported as a gradient that overflowed
    require_tensor("x", x, finite=True, fix="a batch of inputs without NaN or inf")
    require_int("depth", depth, maximum=MAX_BLOCKS)
    require_choice("activation", activation, ACTIVATIONS)
    require_int("width", width)
    _require_labels_beside("gradient_flow", y, x)
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= 10_000:
        raise ValueError(
            f"y must hold class indices in [0, 9999] (the network gets max(y) + 1 outputs), got values in "
            f"[{lo}, {hi}]"
        )
    sizes = dict(depth=depth, width=width, x=f"{len(x)} examples of {x.shape[1]} features")
    # weights, gradients and states; the stem and head: (D + classes) x width
    require_memory(
        "sizes", sizes, 16 * ((depth + 2) * width * (width + len(x)) + (x.shape[1] + hi + 1) * width)
    )
    require_seed("seed", seed)
    require_int("bins", bins, maximum=10_000)
    require_float("lr", lr, minimum=0.0, strict_minimum=True)
    require_bool("residual", residual)
    with local_seed(seed):  # the CPU generator builds the weights; restored after
        model = mlp(depth, width, x.shape[1], hi + 1, residual=residual, activation=activation)
        model = model.to(x.device, x.dtype)  # float64 x: a float64 network (the status names the dtype)
    with torch.no_grad():
        states = model.hidden_states(x)
    grads = weight_gradients(model, x, y)
    norms = _float64_norms(grads).numpy()
    with torch.no_grad():
        frozen = np.array(
            [
                bool(torch.equal(layer.weight - lr * g, layer.weight))
                for layer, g in zip(linear_layers(model), grads, strict=True)
            ]
        )
    layers = sorted({1, (depth + 1) // 2, depth})
    layers = (layers + [layers[-1]] * 3)[:3]
    values = [states[k - 1].detach().flatten().cpu() for k in layers]
    lo, hi = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}.get(activation, (0.0, None))
    if residual or hi is None:  # a residual stream h + f(h) leaves the activation's range
        lo, hi = _value_range(torch.cat(values), lower=residual)
    edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)
    hist = torch.stack([torch.histc(v.double().clamp(lo, hi), bins, lo, hi) / v.numel() for v in values])
    status = _gradient_status(norms, frozen, lr, str(x.dtype).removeprefix("torch."))
    return GradientFlow(norms, frozen, layers, edges.numpy(), hist.numpy(), status)


def _value_range(values: torch.Tensor, lower: bool) -> tuple[float, float]:
    """The 1 % (or 0) to 99 % quantiles of the finite `values`: a range that outliers cannot stretch."""
    finite = values[torch.isfinite(values)].double()
    if not finite.numel():
        return 0.0, 1.0
    lo = float(finite.quantile(0.01)) if lower else 0.0
    hi = float(finite.quantile(0.99))
    return lo, max(hi, lo + 1e-12)


def _gradient_status(
    norms: np.ndarray, frozen: np.ndarray | None = None, lr: float = 0.1, dtype: str = "float32"
) -> str:
    bad = ~np.isfinite(norms)
    if bad.any():
        return tr("the gradient overflowed (inf/NaN) at layer {layer}", layer=int(np.argmax(bad)) + 1)
    zero = np.flatnonzero(norms == 0.0)
    if zero.size:
        return tr(
            "the gradient underflowed to exactly 0 at {count} of {layers} layers "
            "(layers {first}-{last}): they cannot learn at all",
            count=zero.size,
            layers=len(norms),
            first=zero[0] + 1,
            last=zero[-1] + 1,
        )
    ratio = tr("largest / smallest layer gradient: {ratio:.1e}", ratio=norms.max() / norms.min())
    stuck = np.flatnonzero(frozen) if frozen is not None else np.array([], dtype=int)
    if stuck.size:
        return ratio + tr(
            "; an SGD step (lr {lr:g}) leaves the weights of {count} layer(s) "
            "(first: layer {first}) exactly unchanged in {dtype}",
            lr=lr,
            count=stuck.size,
            first=stuck[0] + 1,
            dtype=dtype,
        )
    return ratio
