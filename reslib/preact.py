r"""Pre-activation residual blocks (He et al., "Identity Mappings in Deep Residual Networks", 2016).

BN and ReLU move *before* each conv and nothing follows the addition, so a stack of
these blocks keeps a clean identity path from input to output,
$x_L = x_l + \sum_{i=l}^{L-1} F(x_i)$. Same arguments, names and shortcuts as
`reslib.blocks`. `shortcut_gradients` measures why the shortcut must be the identity:
scale it by $\lambda$ and the gradient along it is scaled by $\lambda^L$.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from reslib.blocks import BlockBase, NormLayer, zero_last
from reslib.mlp import mlp
from reslib.runtime import byte_cache, local_seed, num_threads
from reslib.validate import require_float, require_int, require_memory, require_seed, sized, typechecked

__all__ = ["PreActBlock", "PreActBottleneck", "ShortcutGradients", "shortcut_gradients"]


@typechecked
@sized(
    lambda in_channels, planes, norm_layer, dim, **kwargs: (
        BlockBase.norm_values(norm_layer, in_channels)  # bn1
        + (3 if dim == 1 else 9) * (in_channels + planes) * planes  # conv1, conv2: 3x3 * in * out each
        + BlockBase.norm_values(norm_layer, planes)  # bn2
        + PreActBlock.shortcut_values(in_channels, planes, norm_layer=norm_layer, **kwargs)
    )
)
class PreActBlock(BlockBase):
    r"""Pre-activation basic block: $y = \mathrm{sc}(x) + W_2\,a(\mathrm{BN}(W_1\,a(\mathrm{BN}(x))))$.

    Nothing follows the addition, so a stack of these keeps a clean identity path
    from input to output; the branch ends in a conv and can add negative values.

    References:
        He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016.
    """

    expansion = 1
    preact = True

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        norm_layer: NormLayer | None = None,
        shortcut_type: str = "B",
        plain: bool = False,
        dim: int = 2,
    ):
        super().__init__()
        conv, norm = self._setup(in_channels, planes, stride, norm_layer, shortcut_type, plain, dim)
        self.bn1 = norm(in_channels)
        self.conv1 = conv(in_channels, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = norm(planes)
        self.conv2 = conv(planes, planes, 3, padding=1, bias=False)
        self.relu = nn.ReLU()
        self.downsample = self._downsample(norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._require_input(x)
        h = self.relu(self.bn1(x))
        h = self.conv1(h)  # (N, planes, *S / stride)
        h = self.relu(self.bn2(h))
        fx = self.conv2(h)
        return self._add_shortcut(x, fx)

    def zero_init_last(self) -> None:
        """Zero `conv2`: the block starts as its shortcut."""
        zero_last(None, self.conv2)


@typechecked
@sized(
    lambda in_channels, planes, norm_layer, dim, **kwargs: (
        BlockBase.norm_values(norm_layer, in_channels)  # bn1
        + in_channels * planes  # conv1: 1x1 * in * planes
        + (3 if dim == 1 else 9) * planes * planes  # conv2: 3x3 * planes * planes
        + planes * 4 * planes  # conv3: 1x1 * planes * 4 planes
        + 2 * BlockBase.norm_values(norm_layer, planes)  # bn2, bn3
        + PreActBottleneck.shortcut_values(in_channels, planes, norm_layer=norm_layer, **kwargs)
    )
)
class PreActBottleneck(BlockBase):
    r"""Pre-activation bottleneck.

    $y = \mathrm{sc}(x) + W_3\,a(\mathrm{BN}(W_2\,a(\mathrm{BN}(W_1\,a(\mathrm{BN}(x))))))$.

    Shape:
        (N, in_channels, *S) -> (N, 4 * planes, *S / stride)
    """

    expansion = 4
    preact = True

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        norm_layer: NormLayer | None = None,
        shortcut_type: str = "B",
        plain: bool = False,
        dim: int = 2,
    ):
        super().__init__()
        conv, norm = self._setup(in_channels, planes, stride, norm_layer, shortcut_type, plain, dim)
        self.bn1 = norm(in_channels)
        self.conv1 = conv(in_channels, planes, 1, bias=False)
        self.bn2 = norm(planes)
        self.conv2 = conv(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn3 = norm(planes)
        self.conv3 = conv(planes, self.out_channels, 1, bias=False)
        self.relu = nn.ReLU()
        self.downsample = self._downsample(norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._require_input(x)
        h = self.conv1(self.relu(self.bn1(x)))  # (N, planes, *S)
        h = self.conv2(self.relu(self.bn2(h)))  # (N, planes, *S / stride)
        fx = self.conv3(self.relu(self.bn3(h)))  # (N, 4 planes, *S / stride)
        return self._add_shortcut(x, fx)

    def zero_init_last(self) -> None:
        """Zero `conv3`: the block starts as its shortcut."""
        zero_last(None, self.conv3)


@typechecked
@dataclass(frozen=True)
class ShortcutGradients:
    r"""Gradient norms along a residual MLP with scaled shortcuts (`shortcut_gradients`).

    `norms[l]` is $\|\partial L/\partial h_l\| / \|\partial L/\partial h_L\|$ for the stream
    $h_0$ (the stem's output, input side) to $h_L$ (the last block's output).
    """

    shortcut_scale: float
    branch_scale: float
    norms: tuple[float, ...]

    def __post_init__(self) -> None:
        for name in ("shortcut_scale", "branch_scale"):
            require_float(
                f"ShortcutGradients: {name}",
                getattr(self, name),
                fix="the scale the gradients were measured at",
            )
        if len(self.norms) < 2:
            raise ValueError(
                f"ShortcutGradients: norms must hold depth + 1 >= 2 values (the input side first), "
                f"got {len(self.norms)}"
            )

    @property
    def depth(self) -> int:
        """L, the number of blocks."""
        return len(self.norms) - 1

    @property
    def at_input(self) -> float:
        """The gradient at the first block's input, relative to the last block's output."""
        return self.norms[0]

    @property
    def per_block(self) -> float:
        """The geometric-mean factor per block, `at_input ** (1 / depth)`."""
        return self.at_input ** (1 / self.depth)


@typechecked
def shortcut_gradients(
    depth: int,
    shortcut_scale: float,
    branch_scale: float = 0.1,
    width: int = 32,
    batch_size: int = 64,
    seed: int = 0,
) -> ShortcutGradients:
    r"""Gradients through $h_{l+1} = \lambda h_l + \alpha W_l \mathrm{ReLU}(h_l)$, block by block.

    With $\alpha = 0$ the network is its shortcut path, and $\partial L/\partial h_0 =
    \lambda^L\,\partial L/\partial h_L$ exactly; a small branch (`branch_scale`, as a
    zero-initialised or SkipInit branch starts) changes that little. The loss is the
    cross-entropy of a linear head on random inputs and labels, drawn from `seed`
    without touching the global RNG.

    Args:
        depth: L, the number of residual blocks (`rl.mlp.mlp(..., residual=True)`, He init).
        shortcut_scale: $\lambda$; 1 is the identity shortcut.
        branch_scale: $\alpha$, multiplies each branch's weights after initialisation.
        width, batch_size: units per layer and examples.
        seed: seed of the weights, inputs and labels.

    Returns:
        A `ShortcutGradients` with `depth + 1` norms, input side first.

    References:
        He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016, section 3.
    """
    require_int("depth", depth)
    lam = require_float("shortcut_scale", shortcut_scale, 0.0)
    alpha = require_float("branch_scale", branch_scale, 0.0)
    require_int("width", width)
    require_int("batch_size", batch_size)
    require_seed("seed", seed)
    # bytes, before allocating: the weights, then (depth + 1) activations and their gradients
    weights, states = 4 * depth * width * (width + 1), 12 * (depth + 1) * batch_size * width
    name = "depth" if depth > width else "width" if weights >= states else "batch_size"
    require_memory(name, {"depth": depth, "width": width, "batch_size": batch_size}[name], weights + states)
    model, x, y = _network(depth, width, batch_size, seed)
    with num_threads(1):  # ~100 tiny ops: extra threads only add hand-offs (10x slower on a busy CPU)
        states = [model.stem(x).requires_grad_()]  # h_0: (batch_size, width)
        for block in model.blocks:
            # rl.mlp's block, lambda h + W ReLU(h) + b, with W scaled by alpha (b is 0 at init)
            states.append(lam * states[-1] + alpha * block.linear(block.act(states[-1])))
        grads = torch.autograd.grad(F.cross_entropy(model.head(states[-1]), y), states)
        norms = torch.stack([g.double().norm() for g in grads])
    return ShortcutGradients(lam, alpha, tuple((norms / norms[-1]).tolist()))


@byte_cache(32 * 2**20)  # the notebook's networks are a few kB each; a wide one is not kept
def _network(
    depth: int, width: int, batch_size: int, seed: int
) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A residual `rl.mlp` (He init, frozen) and random inputs and labels, drawn from `seed` alone."""
    with local_seed(seed):  # the CPU generator, restored after
        model = mlp(depth, width, width, 10, residual=True).requires_grad_(False)
        x, y = torch.randn(batch_size, width), torch.randint(0, 10, (batch_size,))
    return model, x, y
