r"""Plain and residual multi-layer perceptrons, built by `mlp()`, and their parameter count.

A plain network is a composition of hidden layers,
$h_k = a(W_k h_{k-1} + b_k)$; a residual network adds each block's output to
its input, $h_k = s\,(h_{k-1} + f_k(h_{k-1}))$. Both share one interface
(`stem`, `blocks`, `head`) so the notebooks can compare, lesion and probe them
the same way.

Width against depth at an equal parameter count: a residual `mlp(depth, width)` and a plain
`mlp(depth + 1, width)` both hold `depth` hidden width x width layers after a stem, so they have
exactly the same number of parameters,
$P = (D_\text{in} + 1)\,w + \text{depth}\,(w^2 + w) + (w + 1)\,D_\text{out}$ (`mlp_parameters`);
`width_for_budget` inverts it: the widest network of a given depth within a budget
(Zagoruyko and Komodakis, "Wide residual networks", BMVC 2016, https://arxiv.org/abs/1605.07146).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

import torch
from torch import nn

from reslib.guard import require_input
from reslib.inits import INITS
from reslib.layers import residual_add
from reslib.validate import (
    MAX_BLOCKS,
    require_bool,
    require_choice,
    require_float,
    require_int,
    require_memory,
    sized,
    typechecked,
)

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "PlainLayer",
    "ResidualBlock",
    "mlp",
    "mlp_parameters",
    "width_for_budget",
]

# Read-only, so a notebook cannot swap in another activation behind every later `mlp(...)`.
ACTIVATIONS: Mapping[str, type[nn.Module]] = MappingProxyType(
    {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
)
_NORMS = (None, "batch", "layer", "group")


def _norm(norm: str | None, width: int) -> nn.Module:
    """The norm layer of a block: batch, layer or group norm, or nothing.

    Batch norm takes its statistics over the batch, layer norm over one example's units, group norm
    over gcd(8, width) groups of one example's units.
    """
    require_choice("norm", norm, (None, "batch", "layer", "group"))
    if norm == "batch":
        return nn.BatchNorm1d(width)
    if norm == "layer":
        return nn.LayerNorm(width)
    if norm == "group":
        return nn.GroupNorm(math.gcd(8, width), width)
    return nn.Identity()


def _norm_values(norm: str | None, width: int) -> int:
    """Values held by `_norm(norm, width)`.

    BatchNorm 4 w + 1 (a weight, a bias, a running mean and variance per unit, a step counter),
    LayerNorm and GroupNorm 2 w (a weight and a bias per unit), nothing 0.
    """
    return {"batch": 4 * width + 1, "layer": 2 * width, "group": 2 * width}.get(norm, 0)


def _input_weight(module: nn.Module) -> torch.Tensor | None:
    """The weight of the first linear map `module` applies to its input (None if there is none).

    `nn.Linear` (W: (out, in)) or, in stacked training, `reslib.stacking.GroupedLinear` (W: (M, out, in)):
    the input then has `W.ndim` dimensions and `W.shape[-1]` features. Attributes only.
    """
    while True:
        # by name: reslib.stacking imports this module, so this one cannot import GroupedLinear
        if isinstance(module, nn.Linear) or type(module).__name__ == "GroupedLinear":
            return module.weight
        if isinstance(getattr(module, "weight", None), torch.Tensor):
            return None  # a conv or a norm first: its weight does not give x's features
        inner = getattr(module, "linear", None)
        if isinstance(inner, nn.Module):
            module = inner
        elif isinstance(module, nn.Sequential) and len(module):
            module = module[0]
        else:
            return None


def _require_features(module: nn.Module, x: object, weight: torch.Tensor | None) -> None:
    """`require_input` for a module whose input first meets the linear map of `weight`."""
    if weight is None:  # a stem of the learner's own: its dtype and shape are its business
        require_input(module, x, (2, 3, 4, 5), layout="(N, in_features)")
    else:
        require_input(
            module, x, weight.ndim, size=(-1, weight.shape[-1]), like=weight, layout="(N, in_features)"
        )


_INITS = ("auto", *INITS, "torch")  # reslib.inits.INITS, plus "auto" and PyTorch's own default


@typechecked
@sized(
    lambda in_features, out_features, norm, **_: (
        in_features * out_features  # linear
        + (out_features if norm is None else _norm_values(norm, out_features))  # its bias, or the norm
    )
)
class PlainLayer(nn.Module):
    r"""One hidden layer $h = a(\mathrm{norm}(W x + b))$.

    Shape:
        (N, in_features) -> (N, out_features)
    """

    def __init__(self, in_features: int, out_features: int, activation: str, norm: str | None):
        super().__init__()
        require_int("in_features", in_features)
        require_int("out_features", out_features)
        require_choice("activation", activation, ACTIVATIONS)
        # A bias just before a norm is cancelled by its mean subtraction.
        self.linear = nn.Linear(in_features, out_features, bias=norm is None)
        self.norm = _norm(norm, out_features)
        self.act = ACTIVATIONS[activation]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _require_features(self, x, self.linear.weight)
        h = self.linear(x)  # (N, out_features)
        h = self.norm(h)
        return self.act(h)


@typechecked
@sized(
    lambda width, norm, **_: (
        _norm_values(norm, width) + width * width + width  # linear: w -> w, with a bias
    )
)
class ResidualBlock(nn.Module):
    r"""A pre-activation residual block $h = s\,(\lambda x + W\,a(\mathrm{norm}(x)) + b)$.

    The branch ends in a linear layer, so it can add negative as well as positive
    values to $x$ (a branch ending in ReLU could only ever increase it).

    Shape:
        (N, width) -> (N, width)
    """

    def __init__(
        self,
        width: int,
        activation: str,
        norm: str | None,
        residual_scale: float,
        shortcut_scale: float = 1.0,
    ):
        super().__init__()
        require_int("width", width)
        require_choice("activation", activation, ACTIVATIONS)
        require_float("residual_scale", residual_scale, minimum=0.0, strict_minimum=True)
        require_float("shortcut_scale", shortcut_scale)
        self.norm = _norm(norm, width)
        self.act = ACTIVATIONS[activation]()
        self.linear = nn.Linear(width, width)
        self.residual_scale = residual_scale
        self.shortcut_scale = shortcut_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _require_features(self, x, self.linear.weight)
        h = self.norm(x)
        h = self.act(h)
        fx = self.linear(h)
        skip = x if self.shortcut_scale == 1.0 else self.shortcut_scale * x  # lambda x
        h = residual_add(skip, fx)
        return h if self.residual_scale == 1.0 else self.residual_scale * h

    def extra_repr(self) -> str:
        return f"residual_scale={self.residual_scale:.4g}, shortcut_scale={self.shortcut_scale:.4g}"


@typechecked
class MLP(nn.Module):
    """A network as `head(blocks(stem(x)))`, built by `mlp()`.

    Plain: `stem` is the first hidden layer, `blocks` the other `depth - 1`.
    Residual: `stem` is a linear map to `width` (no activation, so negative inputs
    survive), `blocks` are `depth` residual blocks. `head` is a linear classifier.
    """

    def __init__(self, stem: nn.Module, blocks: nn.Sequential, head: nn.Module, **config: object):
        super().__init__()
        self.stem, self.blocks, self.head = stem, blocks, head
        self.config = config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _require_features(self, x, _input_weight(self.stem))
        h = self.stem(x)  # (N, width)
        h = self.blocks(h)
        return self.head(h)  # (N, out_features)

    def hidden_states(self, x: torch.Tensor) -> list[torch.Tensor]:
        r"""Every hidden representation $h_1, \dots, h_{depth}$, input side first.

        Shape:
            x: (N, in_features) -> `depth` tensors of shape (N, width)
        """
        _require_features(self, x, _input_weight(self.stem))
        h = self.stem(x)
        states = [] if self.config["residual"] else [h]
        for block in self.blocks:
            h = block(h)
            states.append(h)
        return states

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config.items())


def _init_linear(layer: nn.Linear, init: str, activation: str) -> None:
    if init == "torch":
        return  # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), variance 1/(3 fan_in)
    if init == "he":
        # Var(w) = 2/fan_in keeps E[h^2] constant through ReLU layers (He et al., 2015).
        nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
    else:
        # "glorot": Var(w) = 2/(fan_in + fan_out) (Glorot & Bengio, 2010).
        nn.init.xavier_normal_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


@typechecked
def mlp(
    depth: int,
    width: int,
    in_features: int,
    out_features: int,
    residual: bool = False,
    norm: str | None = None,
    activation: str = "relu",
    residual_scale: float = 1.0,
    init: str = "auto",
    shortcut_scale: float = 1.0,
) -> MLP:
    r"""Build a plain or residual MLP with `depth` hidden layers (or residual blocks) of `width`.

    Args:
        depth: hidden layers (plain) or residual blocks (residual), >= 1.
        width: units per hidden layer, >= 1.
        in_features: size of the input vector.
        out_features: size of the output (classes, for a classifier).
        residual: add skip connections, $h_k = s\,(h_{k-1} + f_k(h_{k-1}))$.
        norm: `None`, or a norm before each activation: `"batch"` (statistics over the
            batch), `"layer"` (over one example's units) or `"group"` (over gcd(8, width)
            groups of one example's units).
        activation: `"relu"`, `"sigmoid"` or `"tanh"`.
        residual_scale: $s$ above; $1/\sqrt{2}$ keeps the forward variance flat.
        shortcut_scale: $\lambda$ in $h_k = s\,(\lambda h_{k-1} + f_k(h_{k-1}))$; 1 is the identity
            shortcut, and He et al. (2016b) show that $\lambda = 0.5$ shrinks the signal along the
            shortcut path by $0.5^L$ over $L$ blocks.
        init: `"he"`, `"glorot"`, `"torch"` (PyTorch's default) or `"auto"`
            (He for ReLU, Glorot for sigmoid and tanh). Biases start at zero.

    Returns:
        An `MLP` whose `blocks` can be indexed, deleted and probed.

    Shape:
        (N, in_features) -> (N, out_features)
    """
    require_int("depth", depth, maximum=MAX_BLOCKS)
    for name, value in [
        ("width", width),
        ("in_features", in_features),
        ("out_features", out_features),
    ]:
        require_int(name, value)
    sizes = dict(depth=depth, width=width, in_features=in_features, out_features=out_features)
    require_memory("sizes", sizes, 8 * (depth * width * width + (in_features + out_features) * width))
    require_bool("residual", residual)
    require_choice("norm", norm, _NORMS)
    require_choice("activation", activation, ACTIVATIONS)
    require_choice("init", init, _INITS)
    residual_scale = require_float("residual_scale", residual_scale, 0.0, strict_minimum=True)
    if residual_scale != 1.0 and not residual:
        raise ValueError("residual_scale only applies to residual=True networks")
    shortcut_scale = require_float("shortcut_scale", shortcut_scale, 0.0)
    if shortcut_scale != 1.0 and not residual:
        raise ValueError("shortcut_scale only applies to residual=True networks")
    if init == "auto":
        init = "he" if activation == "relu" else "glorot"

    if residual:
        stem: nn.Module = nn.Linear(in_features, width)
        blocks = [
            ResidualBlock(width, activation, norm, residual_scale, shortcut_scale) for _ in range(depth)
        ]
    else:
        stem = PlainLayer(in_features, width, activation, norm)
        blocks = [PlainLayer(width, width, activation, norm) for _ in range(depth - 1)]
    model = MLP(
        stem,
        nn.Sequential(*blocks),
        nn.Linear(width, out_features),
        depth=depth,
        width=width,
        residual=residual,
        norm=norm,
        activation=activation,
        residual_scale=residual_scale,
        init=init,
        shortcut_scale=shortcut_scale,
    )
    for module in model.modules():
        if isinstance(module, nn.Linear):
            _init_linear(module, init, activation)
    return model


@typechecked
def mlp_parameters(depth: int, width: int, in_features: int, out_features: int) -> int:
    r"""Parameters of a residual `reslib.mlp.mlp(depth, width, ...)` (and of a plain one of depth + 1).

    $P = (D_\text{in} + 1)\,w + \text{depth}\,(w^2 + w) + (w + 1)\,D_\text{out}$.
    """
    for name, value in [("depth", depth), ("width", width), ("in_features", in_features)]:
        require_int(name, value, maximum=10**6)
    require_int("out_features", out_features, maximum=10**6)
    return (in_features + 1) * width + depth * (width * width + width) + (width + 1) * out_features


@typechecked
def width_for_budget(depth: int, budget: int, in_features: int, out_features: int) -> int:
    """The largest width whose `mlp_parameters(depth, width, ...)` is at most `budget`.

    Raises:
        ValueError: even width 1 is over the budget.
    """
    require_int("depth", depth, maximum=10**6)
    require_int("budget", budget, maximum=10**12)
    require_int("in_features", in_features, maximum=10**6)
    require_int("out_features", out_features, maximum=10**6)
    a, b = depth, in_features + 1 + depth + out_features  # P(w) = a w^2 + b w + out_features
    width = int((-b + math.sqrt(b * b + 4 * a * max(budget - out_features, 0))) / (2 * a))
    while width > 0 and mlp_parameters(depth, width, in_features, out_features) > budget:
        width -= 1  # float rounding
    while mlp_parameters(depth, width + 1, in_features, out_features) <= budget:
        width += 1
    if width < 1:
        minimum = mlp_parameters(depth, 1, in_features, out_features)
        raise ValueError(f"budget={budget} is below the {minimum} parameters of width 1 at depth {depth}")
    return width
