r"""The stacked hourglass (Newell et al. 2016): an encoder-decoder whose skips *add*.

An hourglass halves the resolution `order` times and doubles it back; at every
scale a branch goes through its own residual module and is added back,
$y = R(x) + \mathrm{up}(g(\mathrm{pool}(x)))$. Stacks of hourglasses each predict
keypoint heat maps that the next one refines.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from reslib.guard import require_input
from reslib.preact import PreActBottleneck
from reslib.validate import (
    MAX_BLOCKS,
    MODULE_LIMIT,
    require_int,
    require_memory,
    require_tensor,
    sized,
    typechecked,
)

__all__ = ["Hourglass", "StackedHourglass", "heatmap_loss", "residual_module"]


MAX_ORDER = 10  # halvings: an order-10 hourglass needs a 1024-pixel map to reach 1 pixel


@typechecked
def residual_module(channels: int) -> nn.Module:
    """Newell et al.'s residual module: a pre-activation bottleneck of width `channels / 4`."""
    require_int("channels", channels, minimum=4, fix="the bottleneck width is channels / 4")
    # the module's own count (1x1, 3x3, 1x1 convs, BatchNorms and, when channels is not a multiple
    # of 4, a projection), so the bound stated here is the one `PreActBottleneck` enforces
    weights = PreActBottleneck.weight_count(channels, channels // 4) * torch.get_default_dtype().itemsize
    require_memory("channels", channels, weights, limit=MODULE_LIMIT)
    return PreActBottleneck(channels, channels // 4)  # BN-ReLU-conv 1x1, 3x3, 1x1 + identity


def _require_divisible(module: nn.Module, x: torch.Tensor, order: int) -> None:
    """Height and width must halve `order` times evenly: the skip and the upsampled branch then add."""
    h, w = x.shape[-2:]
    if h % 2**order or w % 2**order:
        raise ValueError(
            f"{type(module).__name__}.forward: an hourglass of order {order} halves the size {order} times: "
            f"x's height and width must be divisible by {2**order}, got {(h, w)} (x of shape "
            f"{tuple(x.shape)}); crop or pad x to a multiple of {2**order}"
        )


@typechecked
@sized(
    lambda order, channels: (
        (3 * order + 1)  # skip, down and up at each of the `order` scales, and the innermost module
        * PreActBottleneck.weight_count(channels, channels // 4)  # a residual module
    )
)
class Hourglass(nn.Module):
    r"""One hourglass of order $n$: $y = R_{\text{skip}}(x) + \mathrm{up}(R(g_{n-1}(R(\mathrm{pool}(x)))))$.

    The skip goes through its own residual module and is *added*; $g_0$ is a residual module.
    """

    def __init__(self, order: int, channels: int):
        super().__init__()
        self.order = require_int("order", order, maximum=MAX_ORDER, fix="each order halves the map")
        if channels % 4:  # each residual module returns 4 * (channels // 4): the stream must keep its width
            raise ValueError(
                f"channels must be a positive multiple of 4 (bottleneck width channels/4), got {channels!r}"
            )
        self.channels = channels
        self.skip = residual_module(channels)
        self.down = residual_module(channels)
        self.inner = Hourglass(order - 1, channels) if order > 1 else residual_module(channels)
        self.up = residual_module(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        require_input(self, x, 4, size=(1, self.channels), like=self.skip.conv1.weight, layout="(N, C, H, W)")
        _require_divisible(self, x, self.order)
        low = F.max_pool2d(x, 2)  # (N, C, H/2, W/2)
        low = self.down(low)
        low = self.inner(low)
        low = self.up(low)
        up = F.interpolate(low, scale_factor=2.0, mode="nearest")  # (N, C, H, W)
        return self.skip(x) + up

    def extra_repr(self) -> str:
        return f"order={self.order}"


def _residual_modules(num_stacks: int, order: int) -> int:
    """Residual modules of a `StackedHourglass`: the stem's, then per stack 3 order + 1 and the features'."""
    return 1 + num_stacks * (3 * order + 2)


def _stacked_hourglass_values(
    in_channels: int, num_keypoints: int, num_stacks: int, channels: int, order: int
) -> int:
    """Values of a `StackedHourglass`: the stem, then per stack an hourglass, features, a head and merges."""
    c, k = channels, num_keypoints
    residual = PreActBottleneck.weight_count(c, c // 4)  # a residual module
    stem = 9 * in_channels * c + 4 * c + 1 + residual  # 3x3 conv, BatchNorm, residual module
    hourglass = Hourglass.weight_count(order, c)
    features = residual + c * c + 4 * c + 1  # residual module, 1x1 conv, BatchNorm
    head = c * k + k  # 1x1 conv to the heat maps, with a bias
    merge = c * c + c + k * c + c  # 1x1 convs from the features and from the heat maps, with biases
    return stem + num_stacks * (hourglass + features + head) + (num_stacks - 1) * merge


@typechecked
@sized(_stacked_hourglass_values)
class StackedHourglass(nn.Module):
    r"""Hourglasses in a row, each predicting heat maps that the next one refines.

    After stack $s$: heat maps $h_s = W_h f_s$; the next stack reads
    $x_{s+1} = x_s + W_f f_s + W_m h_s$. Training sums the loss over all stacks
    (intermediate supervision); the last stack's heat maps are the prediction.

    Args:
        in_channels: image channels.
        num_keypoints: heat maps per stack.
        num_stacks: hourglasses in a row (8 in the paper).
        channels: features inside the hourglasses (256 in the paper); a multiple of 4.
        order: 2x downsamplings inside each hourglass (4 in the paper).

    Shape:
        (N, in_channels, H, W) -> list of `num_stacks` tensors (N, num_keypoints, H, W);
        H and W must be divisible by 2^order.

    Note:
        The paper's stem first reduces 256x256 to 64x64; the small images here need no stem
        downsampling, so the heat maps have the input's size.

    References:
        Newell, Yang and Deng, "Stacked Hourglass Networks for Human Pose Estimation", ECCV 2016.
    """

    def __init__(
        self, in_channels: int, num_keypoints: int, num_stacks: int = 2, channels: int = 32, order: int = 3
    ):
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("num_keypoints", num_keypoints),
            ("num_stacks", num_stacks),
        ):
            require_int(name, value, maximum=MAX_BLOCKS)
        require_int(
            "order", order, maximum=MAX_ORDER, fix="each order halves the map: 4 already goes 64 -> 4"
        )
        require_int("channels", channels, minimum=4, fix="the bottleneck width is channels / 4")
        if channels % 4:
            raise ValueError(
                f"channels must be a positive multiple of 4 (bottleneck width channels/4), got {channels!r}"
            )
        modules = _residual_modules(num_stacks, order)
        if modules > MAX_BLOCKS:  # each takes about a millisecond to build
            raise ValueError(
                f"num_stacks={num_stacks}, order={order} would build {modules:,} residual modules "
                f"(1 + num_stacks * (3 * order + 2)), past reslib.validate.MAX_BLOCKS = {MAX_BLOCKS:,}; "
                f"the paper's 8 stacks of order 4 have {_residual_modules(8, 4)}: use fewer stacks"
            )
        self.num_stacks, self.order = num_stacks, order
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            residual_module(channels),
        )
        self.hourglasses = nn.ModuleList([Hourglass(order, channels) for _ in range(num_stacks)])
        self.features = nn.ModuleList(
            [
                nn.Sequential(
                    residual_module(channels),
                    nn.Conv2d(channels, channels, 1, bias=False),
                    nn.BatchNorm2d(channels),
                    nn.ReLU(),
                )
                for _ in range(num_stacks)
            ]
        )
        self.heads = nn.ModuleList([nn.Conv2d(channels, num_keypoints, 1) for _ in range(num_stacks)])
        self.merge_features = nn.ModuleList([nn.Conv2d(channels, channels, 1) for _ in range(num_stacks - 1)])
        self.merge_heatmaps = nn.ModuleList(
            [nn.Conv2d(num_keypoints, channels, 1) for _ in range(num_stacks - 1)]
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        stem = self.stem[0]  # the first conv
        require_input(self, x, 4, size=(1, stem.in_channels), like=stem.weight, layout="(N, C, H, W)")
        _require_divisible(self, x, self.order)
        x = self.stem(x)  # (N, C, H, W)
        heatmaps = []
        for s in range(self.num_stacks):
            f = self.hourglasses[s](x)  # (N, C, H, W)
            f = self.features[s](f)
            heatmaps.append(self.heads[s](f))  # (N, K, H, W)
            if s < self.num_stacks - 1:
                x = x + self.merge_features[s](f) + self.merge_heatmaps[s](heatmaps[-1])
        return heatmaps

    def extra_repr(self) -> str:
        return f"num_stacks={self.num_stacks}, order={self.order}"


@typechecked
def heatmap_loss(heatmaps: list[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    r"""Cross-entropy between each heat map, as a distribution over pixels, and the target bump.

    $$L = \sum_{s} -\frac{1}{N K} \sum_{n, k} \sum_p \hat t_{nk}(p)\,\log \mathrm{softmax}_p(h^s_{nk})(p)$$

    with $\hat t$ the target heat map normalised to sum 1, summed over the stacks $s$
    (intermediate supervision). Pass it to `reslib.train.fit(..., loss_fn=heatmap_loss)`.

    Shape:
        heatmaps: one (N, K, H, W) tensor per stack; target: (N, K, H, W), non-negative.

    Note:
        Newell et al. use the mean squared error; on a few hundred images it learns much more slowly.
    """
    require_tensor("target", target, ndim=4, dtype="float", fix="(N, K, H, W) heat maps")
    for i, h in enumerate(heatmaps):
        require_tensor(f"heatmaps[{i}]", h, ndim=4, dtype="float")
        if h.shape != target.shape:
            raise ValueError(
                f"heatmaps[{i}] {tuple(h.shape)} and target {tuple(target.shape)} differ in shape"
            )
        if h.device != target.device:  # attributes only: this runs at every training step
            raise ValueError(
                f"heatmaps[{i}] is on {h.device} but target is on {target.device}; "
                f"move the batch to the model's device, target.to({str(h.device)!r})"
            )
    p = target.flatten(2)  # (N, K, H W)
    p = p / p.sum(-1, keepdim=True).clamp(min=1e-12)
    return sum(-(p * F.log_softmax(h.flatten(2), -1)).sum(-1).mean() for h in heatmaps)
