r"""Measurements on a transformer's residual stream: gradients per block, the logit lens, what blocks write.

The stream $x_0, x_1, \dots, x_L$ (the embedding, then the output of each block) is a residual network's
hidden state: in pre-LN every block adds to it, $x_\ell = x_{\ell-1} + \Delta_\ell$. Three readings:

- `gradient_profile`: $\lVert \partial L / \partial W \rVert_F$ of each block's output projections at one
  batch, the shape of Xiong et al.'s Fig. 3 (post-LN's grow towards the output);
- `logit_lens`: decode every $x_\ell$ with the model's own final norm and unembedding,
  $\mathrm{softmax}(W_U\,\mathrm{LN}_f(x_\ell))$, and score it (nostalgebraist 2020);
- the stream's second moment $\mathbb{E}[x_\ell^2]$ and each block's write relative to the stream,
  $\lVert x_\ell - x_{\ell-1}\rVert / \lVert x_{\ell-1}\rVert$ (notebook 04's variance analysis, per token).

References:
    Xiong et al., "On layer normalization in the transformer architecture", ICML 2020.
    https://arxiv.org/abs/2002.04745
    nostalgebraist, "interpreting GPT: the logit lens", LessWrong, 2020.
    https://www.lesswrong.com/posts/AcKRB8wDpdaN6v6ru/interpreting-gpt-the-logit-lens
    Elhage et al., "A mathematical framework for transformer circuits", 2021.
    https://transformer-circuits.pub/2021/framework/index.html
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from reslib.transformer import Transformer
from reslib.validate import require_array, require_memory, require_tensor, typechecked

__all__ = ["GradientProfile", "StreamReadout", "gradient_profile", "logit_lens"]


def _require_tokens(model: Transformer, x: torch.Tensor, y: torch.Tensor) -> None:
    require_tensor("x", x, ndim=2, dtype="label", fix="token sequences (N, T)")
    require_tensor("y", y, ndim=2, dtype="label", fix="target sequences (N, T)")
    if x.shape != y.shape:
        raise ValueError(f"x {tuple(x.shape)} and y {tuple(y.shape)} must have the same shape (N, T)")
    if model.lm_head.weight.device != x.device or y.device != x.device:
        raise ValueError("model, x and y must share one device; use model.to(x.device), y.to(x.device)")
    # read here, once, on any device (the model's forward reads token ids on the CPU only)
    lo, hi = int(x.min()), int(x.max())
    if lo < 0 or hi >= model.vocab_size:
        raise ValueError(
            f"x must hold tokens in [0, {model.vocab_size - 1}] (the model's vocab_size), got [{lo}, {hi}]"
        )
    n_out = model.lm_head.out_features
    if int(y.min()) < 0 or int(y.max()) >= n_out:
        raise ValueError(f"y must hold classes in [0, {n_out - 1}], got [{int(y.min())}, {int(y.max())}]")


@dataclass(frozen=True)
class GradientProfile:
    """Frobenius norms of the loss gradient, one per block, for its two output projections."""

    attn: np.ndarray  # (n_layer,) at attn.c_proj.weight
    mlp: np.ndarray  # (n_layer,) at mlp.c_proj.weight, the last linear of each block

    def __post_init__(self) -> None:
        for name in ("attn", "mlp"):
            require_array(name, getattr(self, name), 1)
        if self.attn.shape != self.mlp.shape:
            raise ValueError(f"attn {self.attn.shape} and mlp {self.mlp.shape} need one norm per block each")

    @property
    def growth(self) -> float:
        """How many times larger the last block's MLP gradient is than the first's."""
        return float(self.mlp[-1] / self.mlp[0])


@typechecked
def gradient_profile(model: Transformer, x: torch.Tensor, y: torch.Tensor) -> GradientProfile:
    r"""$\lVert \partial L/\partial W \rVert_F$ of each block's `attn.c_proj` and `mlp.c_proj` at (x, y).

    $L$ is the mean cross-entropy over all positions. The gradient is taken with `torch.autograd.grad`,
    so the model's `.grad` fields are left alone.

    Args:
        model: a `reslib.transformer.Transformer`.
        x: tokens (N, T); y: targets (N, T), classes of the model's output.
    """
    _require_tokens(model, x, y)
    require_memory("x", tuple(x.shape), 64 * x.numel() * model.lm_head.in_features * (len(model.blocks) + 1))
    weights = [w for b in model.blocks for w in (b.attn.c_proj.weight, b.mlp.c_proj.weight)]
    loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
    grads = torch.autograd.grad(loss, weights)
    norms = torch.stack([g.norm() for g in grads]).view(-1, 2).cpu().double().numpy()  # (n_layer, 2)
    return GradientProfile(norms[:, 0].copy(), norms[:, 1].copy())


@dataclass(frozen=True)
class StreamReadout:
    """The logit lens and the stream's size after the embedding (index 0) and after each block."""

    accuracy: np.ndarray  # (L + 1,) share of positions whose decoded prediction is the target
    loss: np.ndarray  # (L + 1,) cross-entropy of the decoded stream
    second_moment: np.ndarray  # (L + 1,) E[x^2] over tokens and units
    write_ratio: np.ndarray  # (L,) mean over tokens of |x_l - x_{l-1}| / |x_{l-1}|
    probs: np.ndarray  # (L + 1, T, classes) the decoded probabilities for the first sequence
    tokens: np.ndarray  # (T,) the first sequence
    target: np.ndarray  # (T,) its target

    def __post_init__(self) -> None:
        for name, ndim in (("accuracy", 1), ("loss", 1), ("second_moment", 1), ("write_ratio", 1)):
            require_array(name, getattr(self, name), ndim)
        require_array("probs", self.probs, 3)
        require_array("tokens", self.tokens, 1)
        require_array("target", self.target, 1)
        L = len(self.write_ratio)
        for name in ("accuracy", "loss", "second_moment"):
            if len(getattr(self, name)) != L + 1:
                raise ValueError(
                    f"{name} needs L + 1 = {L + 1} values (after the embedding and each of the L blocks of "
                    f"write_ratio), got {len(getattr(self, name))}"
                )
        if len(self.probs) != L + 1:
            raise ValueError(
                f"probs needs L + 1 = {L + 1} rows (one per readout, as accuracy), "
                f"got shape {self.probs.shape}"
            )
        T = len(self.tokens)
        if len(self.target) != T or self.probs.shape[1] != T:
            raise ValueError(
                f"tokens {self.tokens.shape}, target {self.target.shape} and probs {self.probs.shape} "
                "need one length T: one target and one row of probs per token"
            )

    @property
    def n_layer(self) -> int:
        return len(self.write_ratio)


@typechecked
@torch.no_grad()
def logit_lens(model: Transformer, x: torch.Tensor, y: torch.Tensor) -> StreamReadout:
    r"""Decode the stream after every block with the final norm and unembedding: $W_U\,\mathrm{LN}_f(x_\ell)$.

    Runs in eval mode. Accuracy and loss are per position, averaged over all of (x, y).

    Args:
        model: a `reslib.transformer.Transformer`.
        x: tokens (N, T); y: targets (N, T).
    """
    _require_tokens(model, x, y)
    require_memory("x", tuple(x.shape), 8 * x.numel() * model.lm_head.in_features * (len(model.blocks) + 2))
    was_training = model.training
    model.eval()
    try:
        states = model.streams(x)  # L + 1 tensors (N, T, C)
        logits = torch.stack([model.unembed(h) for h in states])  # (L + 1, N, T, classes)
    finally:
        model.train(was_training)
    accuracy = (logits.argmax(-1) == y).float().mean((1, 2))
    loss = torch.stack([F.cross_entropy(z.flatten(0, 1), y.flatten()) for z in logits])
    stacked = torch.stack(states)  # (L + 1, N, T, C)
    second = stacked.pow(2).mean((1, 2, 3))
    norms = stacked.norm(dim=-1)  # (L + 1, N, T)
    writes = (stacked[1:] - stacked[:-1]).norm(dim=-1) / norms[:-1]  # (L, N, T)
    return StreamReadout(
        accuracy.double().cpu().numpy(),
        loss.double().cpu().numpy(),
        second.double().cpu().numpy(),
        writes.mean((1, 2)).double().cpu().numpy(),
        logits[:, 0].softmax(-1).double().cpu().numpy(),
        x[0].cpu().numpy(),
        y[0].cpu().numpy(),
    )
