r"""Loss landscapes: the training loss along random directions around a trained network.

Li et al. (2018) draw the loss on a plane through the trained weights $\theta^*$,
$L(\alpha, \beta) = L(\theta^* + \alpha\,\delta + \beta\,\eta)$, with Gaussian directions $\delta, \eta$
that are *filter-normalised*: each filter's (each output neuron's) direction is rescaled to the
norm of that filter's weights, so a step of $\alpha = 1$ moves every neuron as far as it is large
and networks of different scales can be compared. Biases and batch-norm parameters get no
direction (zero), as in the paper.

The grid is evaluated in one batched call (`torch.func.functional_call` under `torch.vmap`),
in chunks that fit a memory budget.

References:
    Li, Xu, Taylor, Studer and Goldstein, "Visualizing the loss landscape of neural nets",
    NeurIPS 2018. https://arxiv.org/abs/1712.09913
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from reslib.data import TensorData
from reslib.guard import require_work
from reslib.validate import (
    MAX_SEED,
    require_array,
    require_choice,
    require_float,
    require_int,
    require_memory,
    require_seed,
    typechecked,
)

__all__ = [
    "NORMALIZATIONS",
    "Slice1D",
    "Slice2D",
    "loss_slice_1d",
    "loss_slice_2d",
    "nonconvexity",
    "random_directions",
]

NORMALIZATIONS = ("filter", "layer", "none")
_CHUNK_BYTES = 64 * 2**20  # batched weights and activations of one chunk of grid points


def _require_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module, got {type(model).__name__}; pass the trained network"
        )
    if not any(p.is_floating_point() for p in model.parameters()):
        raise ValueError(f"model must have floating-point parameters, {type(model).__name__} has none")
    return model


@typechecked
def random_directions(
    model: nn.Module, normalization: str = "filter", seed: int = 0, generator: torch.Generator | None = None
) -> dict[str, torch.Tensor]:
    r"""One Gaussian direction in weight space, per parameter of `model`, scaled filter by filter.

    For `"filter"`, row $i$ of a weight (output neuron or conv filter $i$) is rescaled to
    $\delta_i \leftarrow \frac{\delta_i}{\lVert\delta_i\rVert}\,\lVert\theta_i\rVert$; `"layer"` does the
    same for each weight tensor as a whole; `"none"` keeps the raw Gaussian. With `"filter"` and `"layer"`,
    parameters with fewer than two dimensions (biases, batch-norm $\gamma$, $\beta$, scalars) get 0.

    Args:
        model: the network whose weights the directions perturb.
        normalization: `"filter"` (Li et al.), `"layer"` or `"none"`.
        seed: seed of the local generator (the global RNG is not touched).
        generator: a CPU `torch.Generator` to draw from instead (then `seed` is not used); it advances.

    Returns:
        dict parameter name -> direction tensor shaped like that parameter (on its device).
    """
    _require_model(model)
    require_choice("normalization", normalization, NORMALIZATIONS, fix="use 'filter' as in Li et al. (2018)")
    require_seed("seed", seed)
    if generator is not None and generator.device.type != "cpu":
        raise ValueError(
            f"generator must be a CPU torch.Generator, got one on {generator.device}; use torch.Generator()"
        )
    gen = torch.Generator().manual_seed(seed) if generator is None else generator
    directions = {}
    for name, p in model.named_parameters():
        w = p.detach()
        d = torch.randn(w.shape, generator=gen, dtype=torch.float64).to(w)  # on the CPU: same everywhere
        if normalization != "none" and w.dim() < 2:
            d = torch.zeros_like(w)  # biases and BN parameters stay put (Li et al., "ignore biasbn")
        elif normalization == "filter":
            rows, drows = w.flatten(1), d.flatten(1)  # (filters, fan_in)
            scale = rows.norm(dim=1) / drows.norm(dim=1).clamp_min(1e-12)  # (filters,)
            d = (drows * scale[:, None]).view_as(w)
        elif normalization == "layer":
            d = d * (w.norm() / d.norm().clamp_min(1e-12))
        directions[name] = d
    return directions


def _require_directions(model: nn.Module, directions: object, name: str) -> dict[str, torch.Tensor]:
    if directions is None:
        return None
    params = dict(model.named_parameters())
    if not isinstance(directions, dict) or set(directions) != set(params):
        raise ValueError(
            f"{name} must be a dict with one tensor per parameter of model, as random_directions returns"
        )
    for key, d in directions.items():
        if not isinstance(d, torch.Tensor) or d.shape != params[key].shape:
            raise ValueError(f"{name}[{key!r}] must be a tensor of shape {tuple(params[key].shape)}")
    return directions


def _require_data(data: object) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(data, TensorData):
        return data.x_train, data.y_train
    if isinstance(data, tuple) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        if len(data[0]) != len(data[1]) or len(data[0]) == 0:
            raise ValueError(
                f"data needs inputs and targets of one non-zero length, got {len(data[0])}, {len(data[1])}"
            )
        return data
    raise TypeError(
        f"data must be a reslib.data.TensorData or a pair (x, target) of tensors, got {type(data).__name__}"
    )


def _grid_loss(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    directions: list[dict[str, torch.Tensor]],
    coords: torch.Tensor,
    loss_fn: Callable | None,
) -> torch.Tensor:
    """Loss at theta* + sum_j coords[:, j] directions[j], for every row of coords (P, J); in eval mode."""
    from torch.func import functional_call

    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(
            f"loss_fn must be a function (output, target) -> loss or None, got {type(loss_fn).__name__}"
        )
    loss_fn = F.cross_entropy if loss_fn is None else loss_fn
    params = {n: p.detach() for n, p in model.named_parameters()}
    buffers = {n: b.detach() for n, b in model.named_buffers()}
    n_params = sum(p.numel() for p in params.values())
    numel, macs = [], []

    def count(m: nn.Module, i: object, o: object) -> None:
        n = o.numel() if isinstance(o, torch.Tensor) else 0
        numel.append(n)
        w = getattr(m, "weight", None)  # a linear or conv map: fan_in multiply-adds per output value
        if isinstance(w, torch.Tensor) and w.dim() >= 2:
            macs.append(n * w[0].numel())

    hooks = [m.register_forward_hook(count) for m in model.modules()]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    per_point = 4 * (n_params + sum(numel))  # bytes: one point's weights and activations
    require_memory("data", f"{len(x)} examples", per_point)
    chunk = max(1, _CHUNK_BYTES // per_point)
    # Per grid point one forward pass: 2 FLOPs per multiply-add of its linear and conv maps, plus
    # ~10 per value of every module's output (elementwise work), counted at a third (the batched
    # products run ~3x faster than FLOPS_PER_SECOND); per chunk, ~10 PyTorch operations per module.
    # Measured (2 cores, one thread), against the estimate: a residual mlp(20, 64) with batch norm,
    # 256 examples, 21 x 21 points: 2.8 s (2.0 s), 61 x 61: 13.6 s (17 s); 2,048 examples, 51
    # points: 1.4 s (2.0 s).
    require_work(
        dict(grid=f"{len(coords)} points", x=f"{len(x)} examples"),
        flops=len(coords) * (2 * sum(macs) + 10 * sum(numel)) / 3,
        operations=-(-len(coords) // chunk) * 10 * len(numel),
    )

    def loss_at(weights: dict[str, torch.Tensor]) -> torch.Tensor:
        return loss_fn(functional_call(model, (weights, buffers), (x,)), y)

    batched = torch.vmap(loss_at)
    out = []
    try:
        with torch.no_grad():
            for start in range(0, len(coords), chunk):
                c = coords[start : start + chunk].to(x.device, x.dtype)  # (P, J)
                weights = {
                    n: p + sum(c[:, j].view(-1, *[1] * p.dim()) * d[n] for j, d in enumerate(directions))
                    for n, p in params.items()
                }  # each (P, *shape)
                out.append(batched(weights).detach().cpu().double())
    finally:
        model.train(was_training)
    return torch.cat(out)  # (P,)


@dataclass(frozen=True)
class Slice1D:
    """The loss along one direction: `loss[i]` at `theta* + alphas[i] * direction`."""

    alphas: np.ndarray  # (steps,)
    loss: np.ndarray  # (steps,)

    def __post_init__(self) -> None:
        require_array("alphas", self.alphas, 1)
        require_array("loss", self.loss, 1)
        if self.loss.shape != self.alphas.shape:
            raise ValueError(
                f"loss {self.loss.shape} needs one value per entry of alphas {self.alphas.shape}: "
                "pass alphas and loss of one length"
            )


@dataclass(frozen=True)
class Slice2D:
    """The loss on a plane: `loss[i, j]` at `theta* + alphas[i] * delta + betas[j] * eta`."""

    alphas: np.ndarray  # (steps,)
    betas: np.ndarray  # (steps,)
    loss: np.ndarray  # (steps, steps)
    curvature_ratio: (
        np.ndarray
    )  # (steps - 2, steps - 2) lambda_min / |lambda_max| of the slice's 2 x 2 Hessian
    nonconvexity: float  # share of interior points with lambda_min < -threshold * |lambda_max|

    def __post_init__(self) -> None:
        require_array("alphas", self.alphas, 1)
        require_array("betas", self.betas, 1)
        require_array("loss", self.loss, 2)
        if self.loss.shape != (len(self.alphas), len(self.betas)):
            raise ValueError(
                f"loss {self.loss.shape} needs one value per pair of alphas and betas: "
                f"(len(alphas), len(betas)) = ({len(self.alphas)}, {len(self.betas)})"
            )
        if not isinstance(self.curvature_ratio, np.ndarray) or self.curvature_ratio.ndim != 2:
            raise TypeError(
                f"curvature_ratio must be a 2-D numpy array (empty if steps < 3), got "
                f"{type(self.curvature_ratio).__name__}"
            )
        if isinstance(self.nonconvexity, bool) or not isinstance(self.nonconvexity, (float, int)):
            raise TypeError(
                f"nonconvexity must be a float (NaN if not measured), got {type(self.nonconvexity).__name__}"
            )
        measured = self.curvature_ratio.size > 0  # steps >= 3: a share of interior points, in [0, 1]
        if measured and not 0.0 <= self.nonconvexity <= 1.0:
            raise ValueError(
                f"nonconvexity must be a share in [0, 1] (curvature_ratio has {self.curvature_ratio.size} "
                f"points), got {self.nonconvexity!r}; it is NaN only when not measured (steps < 3)"
            )


def _grid(steps: object, span: object) -> torch.Tensor:
    """(steps,) float64 points from -span to span, symmetric, with an exact 0 for odd steps."""
    steps = require_int("steps", steps, minimum=2, maximum=201, fix="a grid needs at least 2 points per axis")
    span = require_float("span", span, minimum=0.0, strict_minimum=True, fix="use e.g. 1.0 (Li et al.)")
    return (torch.arange(steps, dtype=torch.float64) - (steps - 1) / 2) * (2 * span / (steps - 1))


@typechecked
def loss_slice_1d(
    model: nn.Module,
    data: TensorData | tuple[torch.Tensor, torch.Tensor],
    steps: int = 51,
    span: float = 1.0,
    direction: dict[str, torch.Tensor] | None = None,
    seed: int = 0,
    loss_fn: Callable | None = None,
) -> Slice1D:
    r"""The training loss along a line, $L(\theta^* + \alpha\,\delta)$, $|\alpha| \le \text{span}$.

    Args:
        model: the trained network (evaluated in eval mode; its weights are not changed).
        data: a `TensorData` (its training split) or a pair `(x, target)`.
        steps: grid points, in [2, 201].
        span: the largest $|\alpha|$, > 0.
        direction: from `random_directions`; None draws a filter-normalised one from `seed`.
        seed: seed of the drawn direction.
        loss_fn: `(output, target) -> mean loss`; None is cross-entropy.
    """
    _require_model(model)
    alphas = _grid(steps, span)
    x, y = _require_data(data)
    direction = _require_directions(model, direction, "direction") or random_directions(model, seed=seed)
    loss = _grid_loss(model, x, y, [direction], alphas[:, None], loss_fn)
    return Slice1D(alphas.numpy(), loss.numpy())


@typechecked
def nonconvexity(loss: np.ndarray, spacing: float, threshold: float = 0.1) -> tuple[np.ndarray, float]:
    r"""Curvature of a 2-D loss grid: $\lambda_{\min}/\lambda_{\max}$ of its Hessian at each interior point.

    The 2 x 2 Hessian ($L_{\alpha\alpha}$, $L_{\alpha\beta}$, $L_{\beta\beta}$) is from central differences.
    A point counts as non-convex when $\lambda_{\min} < -\text{threshold}\,|\lambda_{\max}|$.

    Note:
        This is the Hessian of the *slice*, the full Hessian $H$ projected on the plane
        ($\delta^\top H \delta$, $\delta^\top H \eta$, $\eta^\top H \eta$), not Li et al.'s map of
        $|\lambda_{\min}/\lambda_{\max}|$ of the full Hessian. It is one-sided: a negative curvature of the
        slice is one of the full loss, but a convex-looking slice says nothing about the other directions.

    Args:
        loss: (S, S) grid, S >= 3, finite.
        spacing: grid step, > 0.
        threshold: how large a negative curvature must be, relative to the positive one, in [0, 1].

    Returns:
        `(ratio, share)`: ratio (S - 2, S - 2) and the share of interior points that are non-convex.
    """
    require_float("spacing", spacing, minimum=0.0, strict_minimum=True)
    require_float("threshold", threshold, minimum=0.0, maximum=1.0)
    z = np.asarray(loss, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] != z.shape[1] or z.shape[0] < 3:
        raise ValueError(f"loss must be a square grid of at least 3 x 3, got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError("loss must be finite everywhere; shrink span")
    c = z[1:-1, 1:-1]
    h2 = spacing**2
    laa = (z[2:, 1:-1] - 2 * c + z[:-2, 1:-1]) / h2  # (S-2, S-2)
    lbb = (z[1:-1, 2:] - 2 * c + z[1:-1, :-2]) / h2
    lab = (z[2:, 2:] - z[2:, :-2] - z[:-2, 2:] + z[:-2, :-2]) / (4 * h2)
    mean, radius = (laa + lbb) / 2, np.sqrt(((laa - lbb) / 2) ** 2 + lab**2)
    lo, hi = mean - radius, mean + radius  # eigenvalues of the 2 x 2 Hessian
    big = np.maximum(np.abs(lo), np.abs(hi))
    ratio = np.where(big > 0, lo / np.where(hi != 0, np.abs(hi), np.maximum(big, 1e-300)), 0.0)
    share = float(np.mean(lo < -threshold * np.abs(hi)))
    return ratio, share


@typechecked
def loss_slice_2d(
    model: nn.Module,
    data: TensorData | tuple[torch.Tensor, torch.Tensor],
    steps: int = 21,
    span: float = 1.0,
    directions: tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]] | None = None,
    seed: int = 0,
    loss_fn: Callable | None = None,
    threshold: float = 0.1,
) -> Slice2D:
    r"""The training loss on a plane, $L(\theta^* + \alpha\,\delta + \beta\,\eta)$, and how non-convex it is.

    Args:
        model, data, steps, span, seed, loss_fn: as in `loss_slice_1d`; the grid is steps x steps.
        directions: two from `random_directions`; None draws filter-normalised ones from
            `seed` and `seed + 1`.
        threshold: see `nonconvexity`.

    Returns:
        `Slice2D` with the grid, `curvature_ratio` and `nonconvexity` (needs steps >= 3).
    """
    _require_model(model)
    axis = _grid(steps, span)
    x, y = _require_data(data)
    require_seed("seed", seed)
    if seed == MAX_SEED and directions is None:
        raise ValueError(
            f"seed must be at most {MAX_SEED - 1} here, got {seed}: the second direction is drawn "
            f"from seed + 1"
        )
    require_float("threshold", threshold, minimum=0.0, maximum=1.0)
    if directions is None:
        directions = (random_directions(model, seed=seed), random_directions(model, seed=seed + 1))
    elif not isinstance(directions, tuple) or len(directions) != 2:
        raise TypeError(
            f"directions must be a pair of random_directions dicts, got {type(directions).__name__}"
        )
    pair = [_require_directions(model, d, f"directions[{i}]") for i, d in enumerate(directions)]
    coords = torch.cartesian_prod(axis, axis)  # (steps^2, 2), beta fastest
    loss = _grid_loss(model, x, y, pair, coords, loss_fn).view(len(axis), len(axis)).numpy()
    ratio, share = np.zeros((0, 0)), float("nan")
    if len(axis) >= 3 and np.all(np.isfinite(loss)):
        ratio, share = nonconvexity(loss, float(axis[1] - axis[0]), threshold)
    return Slice2D(axis.numpy(), axis.numpy(), loss, ratio, share)
