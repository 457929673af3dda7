r"""Deep residual MLPs without batch norm: the initialisations that replace it.

Every block computes $h_k = h_{k-1} + \alpha_k\,f_k(h_{k-1})$ with a two-layer branch
$f_k(h) = W_2\,\mathrm{ReLU}(W_1 h)$ (or its batch-normalised version). With He
initialisation and no normalisation each block multiplies $\mathbb{E}[h^2]$ by 3
(the branch adds twice what it receives), so tens of blocks explode. The schemes:

- `"batchnorm"`: BN after each linear layer of the branch (the reference);
- `"zero_gamma"`: the same, with the last BN's $\gamma = 0$ (Goyal et al., 2017), so each block starts
  as the identity;
- `"rezero"`: no BN, one scalar $\alpha_k = 0$ per branch (SkipInit, De & Smith 2020; ReZero,
  Bachlechner et al. 2020: in an MLP block the two are the same);
- `"fixup"`: no BN, $W_1$ scaled by $L^{-1/(2m-2)}$ ($m = 2$ layers per branch, so $L^{-1/2}$), $W_2 = 0$,
  the classifier at 0, scalar biases and a scalar multiplier per branch (Zhang et al., 2019);
- `"default"`: no BN and plain He initialisation, the one that fails.

References:
    Zhang, Dauphin and Ma, "Fixup initialization", ICLR 2019. https://arxiv.org/abs/1901.09321
    De and Smith, "Batch normalization biases residual blocks towards the identity function in
    deep networks", NeurIPS 2020. https://arxiv.org/abs/2002.10444
    Bachlechner et al., "ReZero is all you need", 2020. https://arxiv.org/abs/2003.04887
    Goyal et al., "Accurate, large minibatch SGD", 2017. https://arxiv.org/abs/1706.02677
"""

from __future__ import annotations

import torch
from torch import nn

from reslib.guard import require_input
from reslib.layers import residual_add
from reslib.mlp import MLP
from reslib.validate import MAX_BLOCKS, require_choice, require_int, require_memory, sized, typechecked

__all__ = ["SCHEMES", "NormFreeBlock", "fixup_scale", "normfree_mlp"]

SCHEMES = ("default", "batchnorm", "zero_gamma", "rezero", "fixup")


@typechecked
def fixup_scale(depth: int, layers_per_branch: int = 2) -> float:
    r"""Fixup's rescaling of each branch's inner weights, $L^{-1/(2m-2)}$ for $L$ blocks of $m$ layers.

    With it, the $L$ branches together change the output by $O(1)$ per SGD step, whatever $L$
    (Zhang et al., 2019, section 3).

    Args:
        depth: residual blocks $L$, >= 1.
        layers_per_branch: $m$, >= 2 (with one layer there is nothing to rescale but the last,
            which Fixup sets to zero).
    """
    require_int("depth", depth, minimum=1, maximum=10**9)
    require_int("layers_per_branch", layers_per_branch, minimum=2, maximum=1000, fix="Fixup needs m >= 2")
    return float(depth) ** (-1.0 / (2 * layers_per_branch - 2))


@typechecked
@sized(
    lambda width, scheme: (
        2 * width * width  # linear1, linear2: w -> w
        + {
            "default": 2 * width,  # the two biases
            "batchnorm": 2 * (4 * width + 1),  # norm1, norm2: BatchNorm, and no biases
            "zero_gamma": 2 * (4 * width + 1),
            "rezero": 2 * width + 1,  # the biases and alpha
            "fixup": 4 + 1,  # the scalar biases b_1..b_4 and the multiplier s
        }.get(scheme, 0)  # another scheme is refused by the body
    )
)
class NormFreeBlock(nn.Module):
    r"""A residual block with a two-layer branch, $h = x + \alpha\,f(x)$, for one of `SCHEMES`.

    Branch: $f(x) = \mathrm{BN}(W_2\,\mathrm{ReLU}(\mathrm{BN}(W_1 x)))$ with batch norm,
    $s\,W_2(\mathrm{ReLU}(W_1(x + b_1) + b_2) + b_3) + b_4$ for Fixup (scalar $b_i$, $s$),
    $W_2\,\mathrm{ReLU}(W_1 x + c_1) + c_2$ otherwise. $\alpha$ is a learned scalar for ReZero, else 1.

    Shape:
        (N, width) -> (N, width)
    """

    def __init__(self, width: int, scheme: str = "default"):
        super().__init__()
        require_int("width", width, maximum=2**16)
        require_choice("scheme", scheme, SCHEMES)
        self.scheme = scheme
        norm = scheme in ("batchnorm", "zero_gamma")
        fixup = scheme == "fixup"
        self.linear1 = nn.Linear(width, width, bias=not (norm or fixup))
        self.norm1 = nn.BatchNorm1d(width) if norm else nn.Identity()
        self.act = nn.ReLU()
        self.linear2 = nn.Linear(width, width, bias=not (norm or fixup))
        self.norm2 = nn.BatchNorm1d(width) if norm else nn.Identity()
        self.biases = nn.Parameter(torch.zeros(4)) if fixup else None  # Fixup's scalar b_1..b_4
        self.scale = nn.Parameter(torch.ones(())) if fixup else None  # Fixup's multiplier s
        self.alpha = nn.Parameter(torch.zeros(())) if scheme == "rezero" else None
        # read by reslib.variance.residual_stream: the skip is exactly h_{k-1}
        self.residual_scale, self.shortcut_scale = 1.0, 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.linear1.weight  # (width, width)
        require_input(self, x, 2, size=(1, w.shape[1]), like=w, layout="(N, width)")
        if self.biases is not None:
            b = self.biases
            h = self.act(self.linear1(x + b[0]) + b[1])  # (N, width)
            fx = self.scale * self.linear2(h + b[2]) + b[3]
        else:
            h = self.act(self.norm1(self.linear1(x)))  # (N, width)
            fx = self.norm2(self.linear2(h))
        if self.alpha is not None:
            fx = self.alpha * fx
        return residual_add(x, fx)  # x + alpha f(x)

    def extra_repr(self) -> str:
        return f"scheme={self.scheme!r}"


@typechecked
def normfree_mlp(depth: int, width: int, in_features: int, out_features: int, scheme: str = "default") -> MLP:
    r"""A residual MLP, stem -> `depth` `NormFreeBlock`s -> linear head, initialised by `scheme`.

    All linear layers start with He initialisation ($\sigma_w^2 = 2/\text{fan\_in}$, biases 0);
    then `"zero_gamma"` sets each block's last BN $\gamma$ to 0, `"rezero"` leaves its $\alpha = 0$,
    and `"fixup"` multiplies $W_1$ by `fixup_scale(depth)` and zeroes $W_2$ and the head.
    Weights come from torch's global RNG, like any `nn.Module` (seed it with `reslib.set_seed`).

    Args:
        depth: residual blocks, >= 1.
        width: units per block.
        in_features, out_features: input size and number of classes.
        scheme: one of `SCHEMES`.

    Returns:
        a `reslib.mlp.MLP` (so `hidden_states` and `reslib.variance.residual_stream` work on it).

    Shape:
        (N, in_features) -> (N, out_features)
    """
    require_int("depth", depth, maximum=MAX_BLOCKS)
    require_int("width", width, maximum=2**16)
    require_int("in_features", in_features, maximum=2**20)
    require_int("out_features", out_features, maximum=2**20)
    require_choice("scheme", scheme, SCHEMES, fix="use 'rezero' or 'fixup' to train without batch norm")
    weights = depth * 2 * width * width + width * (in_features + out_features)
    sizes = dict(depth=depth, width=width, in_features=in_features, out_features=out_features)
    require_memory("sizes", sizes, 4 * weights)
    blocks = nn.Sequential(*[NormFreeBlock(width, scheme) for _ in range(depth)])
    model = MLP(
        nn.Linear(in_features, width),
        blocks,
        nn.Linear(width, out_features),
        depth=depth,
        width=width,
        residual=True,
        scheme=scheme,
    )
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    with torch.no_grad():
        for block in blocks:
            if scheme == "zero_gamma":
                block.norm2.weight.zero_()
            elif scheme == "fixup":
                block.linear1.weight.mul_(fixup_scale(depth))
                block.linear2.weight.zero_()
        if scheme == "fixup":
            model.head.weight.zero_()
            model.head.bias.zero_()
    return model
