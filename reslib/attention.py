r"""Multi-head self-attention written out, and the position-wise MLP: the two branches of a transformer block.

Attention mixes information *across positions*: every position asks a query, compares it with every
position's key, and reads a weighted sum of their values. The MLP then works on each position alone.

References:
    Vaswani et al., "Attention is all you need", NeurIPS 2017. https://arxiv.org/abs/1706.03762
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from reslib.guard import input_layout, require_input
from reslib.validate import require_bool, require_choice, require_int, sized, typechecked

__all__ = ["ACTIVATIONS", "FeedForward", "SelfAttention", "causal_mask", "require_heads", "require_stream"]

ACTIVATIONS = ("gelu", "relu")

# PyTorch's CPU softmax is slow on rows shorter than 16 where it runs AVX-512 code, or no vector code at
# all (torch.backends.cpu.get_cpu_capability(), fixed for the process): for notebook 11's attention
# scores, (6, 32, 2, 8, 8), forward and backward took 593 us on AVX-512 against 216 us for the formula in
# `_softmax_rows`; with AVX2 code, 68 us against 221 (torch 2.13, one thread). Rows of 16 or more: F.softmax.
_SLOW_SHORT_SOFTMAX = torch.backends.cpu.get_cpu_capability() in ("AVX512", "DEFAULT")


@typechecked
def require_heads(d_model: int, n_head: int) -> None:
    """Refuse a width `d_model` that the `n_head` heads cannot split evenly (ValueError)."""
    require_int("d_model", d_model, maximum=2**14)
    require_int("n_head", n_head, maximum=d_model, fix=f"at most d_model={d_model} heads")
    if d_model % n_head:
        divisors = [h for h in range(1, min(d_model, 16) + 1) if d_model % h == 0]
        raise ValueError(
            f"d_model={d_model} must be divisible by n_head={n_head} (each head gets d_model / n_head "
            f"dimensions); use n_head in {divisors} or change d_model"
        )


@typechecked
def require_stream(module: nn.Module, x: object, weight: torch.Tensor, weight_dims: int = 2) -> None:
    """Refuse an `x` that is not the stream a module with this (first) weight reads.

    The stream is (B, T, d_model), d_model the weight's last size; (models, B, T, d_model) when
    `reslib.stacking.grouped` has stacked the weight (one dimension more than `weight_dims`).
    Raises what `reslib.guard.require_input` raises.
    """
    stacked = weight.ndim > weight_dims
    layout = input_layout("B, T, d_model", stacked)
    require_input(module, x, 3 + stacked, size=(-1, weight.shape[-1]), like=weight, layout=layout)


def _softmax_rows(scores: torch.Tensor) -> torch.Tensor:
    r"""$\mathrm{softmax}$ over the last dimension: the values of `F.softmax(scores, dim=-1)`.

    On a CPU whose softmax kernel is slow for short rows (`_SLOW_SHORT_SOFTMAX`), rows shorter than 16
    are computed by the formula, $e^{s - \max s} / \sum e^{s - \max s}$: the max is subtracted so that
    no exponential overflows, and held constant for the gradient, which a shift does not change.
    """
    if scores.shape[-1] >= 16 or not _SLOW_SHORT_SOFTMAX or scores.device.type != "cpu":
        return F.softmax(scores, dim=-1)
    e = (scores - scores.amax(-1, keepdim=True).detach()).exp()
    return e / e.sum(-1, keepdim=True)


@typechecked
def causal_mask(length: int) -> torch.Tensor:
    r"""The (T, T) boolean mask of allowed attention: position $t$ sees positions $s \le t$.

    Args:
        length: sequence length T, >= 1.
    """
    require_int("length", length, maximum=2**12)
    return torch.ones(length, length, dtype=torch.bool).tril()


@typechecked
@sized(
    lambda d_model, **_: (
        3 * d_model * (d_model + 1)  # c_attn: d -> 3d, a weight and a bias
        + d_model * (d_model + 1)  # c_proj: d -> d
    )
)
class SelfAttention(nn.Module):
    r"""Multi-head self-attention, $\mathrm{softmax}(Q K^\top / \sqrt{d_\text{head}})\,V$ per head.

    `c_attn` projects the stream to queries, keys and values at once (the layout of
    `nn.MultiheadAttention.in_proj_weight`); `c_proj` is the output projection that writes back.

    Shape:
        (B, T, d_model) -> (B, T, d_model)
    """

    def __init__(self, d_model: int, n_head: int, causal: bool = False):
        super().__init__()
        require_heads(d_model, n_head)
        self.n_head, self.causal = n_head, require_bool("causal", causal)
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.c_attn.weight  # (3 d_model, d_model); (models, 3 d_model, d_model) when stacked
        require_stream(self, x, w)
        *lead, T, C = x.shape  # lead: (B,), or (models, B) in reslib.stacking.grouped
        hs = C // self.n_head  # d_head
        q, k, v = self.c_attn(x).split(C, dim=-1)  # each (..., T, C)
        q, k, v = (t.view(*lead, T, self.n_head, hs).transpose(-3, -2) for t in (q, k, v))  # (..., nh, T, hs)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # (..., nh, T, T)
        if self.causal:
            att = att.masked_fill(~causal_mask(T).to(x.device), float("-inf"))
        att = _softmax_rows(att)  # F.softmax(att, dim=-1), faster for short rows on some CPUs
        y = (att @ v).transpose(-3, -2).reshape(*lead, T, C)  # heads side by side again
        return self.c_proj(y)

    def extra_repr(self) -> str:
        return f"n_head={self.n_head}, causal={self.causal}"


@typechecked
@sized(
    lambda d_model, d_ff, **_: (
        (d_model + 1) * d_ff  # c_fc: d -> d_ff, a weight and a bias
        + (d_ff + 1) * d_model  # c_proj: d_ff -> d
    )
)
class FeedForward(nn.Module):
    r"""The block's MLP, $W_2\,\sigma(W_1 x + b_1) + b_2$, applied at every position.

    Shape:
        (B, T, d_model) -> (B, T, d_model)
    """

    def __init__(self, d_model: int, d_ff: int, activation: str = "gelu"):
        super().__init__()
        require_int("d_model", d_model, maximum=2**14)
        require_int("d_ff", d_ff, maximum=2**16)
        require_choice("activation", activation, ACTIVATIONS)
        self.c_fc = nn.Linear(d_model, d_ff)
        self.act = nn.GELU() if activation == "gelu" else nn.ReLU()
        self.c_proj = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.c_fc.weight  # (d_ff, d_model); (models, d_ff, d_model) when stacked
        require_stream(self, x, w)
        return self.c_proj(self.act(self.c_fc(x)))  # (B, T, d_model)
