r"""A tiny transformer, written as a residual network: blocks that read from and write to one stream.

Each block holds self-attention and an MLP, each wrapped around the stream $x$ either as

- pre-LN (`norm_first=True`, GPT-2): $x \leftarrow x + \mathrm{attn}(\mathrm{LN}_1(x))$, then
  $x \leftarrow x + \mathrm{mlp}(\mathrm{LN}_2(x))$: the skip is the identity, exactly notebook 03's block;
- post-LN (`norm_first=False`, Vaswani et al. 2017): $x \leftarrow \mathrm{LN}_1(x + \mathrm{attn}(x))$, then
  $x \leftarrow \mathrm{LN}_2(x + \mathrm{mlp}(x))$: the norm sits *on* the stream, after every addition.

Names follow nanoGPT (`wte`, `wpe`, `blocks`, `ln_1`, `attn`, `ln_2`, `mlp`, `ln_f`, `lm_head`), and
`to_torch_layer` copies a block into PyTorch's own `nn.TransformerEncoderLayer`, which gives the same
outputs: that proves the block is the standard one.

References:
    Vaswani et al., "Attention is all you need", NeurIPS 2017. https://arxiv.org/abs/1706.03762
    Radford et al., "Language models are unsupervised multitask learners" (GPT-2), 2019.
    Xiong et al., "On layer normalization in the transformer architecture", ICML 2020.
    https://arxiv.org/abs/2002.04745
"""

from __future__ import annotations

import math

import torch
from torch import nn

from reslib.attention import FeedForward, SelfAttention, require_heads, require_stream
from reslib.guard import input_layout
from reslib.validate import (
    MAX_BLOCKS,
    require_bool,
    require_choice,
    require_int,
    require_memory,
    sized,
    typechecked,
)

__all__ = [
    "WEIGHT_INITS",
    "Block",
    "Transformer",
    "to_torch_layer",
    "transformer",
]


def _require_norm_first(norm_first: object) -> bool:
    if not isinstance(norm_first, bool):
        raise TypeError(
            f"norm_first must be True (pre-LN: x + f(LN(x))) or False (post-LN: LN(x + f(x))), got "
            f"{type(norm_first).__name__} {norm_first!r}; e.g. norm_first=True for 'pre'"
        )
    return norm_first


@typechecked
@sized(
    lambda d_model, n_head, d_ff, activation, **_: (
        2 * 2 * d_model  # ln_1, ln_2: a weight and a bias each
        + SelfAttention.weight_count(d_model, n_head)
        + FeedForward.weight_count(d_model, 4 * d_model if d_ff is None else d_ff, activation)
    )
)
class Block(nn.Module):
    r"""One transformer block: attention, then the MLP, each a residual branch on the stream.

    Pre-LN: $x \leftarrow x + \mathrm{attn}(\mathrm{LN}_1(x))$; post-LN:
    $x \leftarrow \mathrm{LN}_1(x + \mathrm{attn}(x))$ (then the same with `ln_2` and `mlp`).

    Args:
        d_model: width of the stream; divisible by `n_head`.
        n_head: attention heads.
        d_ff: hidden units of the MLP (default 4 d_model).
        norm_first: True for pre-LN, False for post-LN.
        causal: mask attention to earlier positions.
        activation: the MLP's nonlinearity, `"gelu"` or `"relu"`.

    Shape:
        (B, T, d_model) -> (B, T, d_model)
    """

    def __init__(
        self,
        d_model: int,
        n_head: int,
        d_ff: int | None = None,
        norm_first: bool = True,
        causal: bool = False,
        activation: str = "gelu",
    ):
        super().__init__()
        require_heads(d_model, n_head)
        self.norm_first = _require_norm_first(norm_first)
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_head, causal)
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp = FeedForward(d_model, 4 * d_model if d_ff is None else d_ff, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.ln_1.weight  # (d_model,); (models, d_model) when stacked (reslib.stacking.grouped)
        require_stream(self, x, w, weight_dims=1)
        if self.norm_first:
            x = x + self.attn(self.ln_1(x))  # (B, T, C): the identity skip of notebook 03
            x = x + self.mlp(self.ln_2(x))
        else:
            x = self.ln_1(x + self.attn(x))  # the norm sits on the stream itself
            x = self.ln_2(x + self.mlp(x))
        return x

    def extra_repr(self) -> str:
        return f"norm_first={self.norm_first}"


@typechecked
@sized(
    lambda vocab_size, block_size, n_out, blocks, d_model, norm_first: (
        (vocab_size + block_size) * d_model  # wte, wpe
        + sum(t.numel() for t in (*blocks.parameters(), *blocks.buffers()))  # the blocks, built already
        + (2 * d_model if norm_first else 0)  # ln_f: a LayerNorm for pre-LN, else nn.Identity
        + (d_model + 1) * n_out  # lm_head: d -> n_out, a weight and a bias
    )
)
class Transformer(nn.Module):
    r"""Token and position embeddings, `n_layer` blocks, the final norm and the unembedding.

    $x_0 = W_E[\text{token}] + W_P[\text{position}]$, $x_\ell = \mathrm{block}_\ell(x_{\ell-1})$,
    logits $= W_U\,\mathrm{LN}_f(x_L)$; `ln_f` is the identity for post-LN (its last block already
    ends in a norm). Build it with `transformer(...)`, which also initialises it.

    Shape:
        (B, T) integer tokens, T <= block_size -> (B, T, n_out) logits
    """

    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        n_out: int,
        blocks: nn.Sequential,
        d_model: int,
        norm_first: bool = True,
    ):
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("block_size", block_size), ("n_out", n_out)):
            require_int(name, value, maximum=2**20)
        require_int("d_model", d_model, maximum=2**14)
        self.vocab_size, self.block_size = vocab_size, block_size
        self.wte = nn.Embedding(vocab_size, d_model)
        self.wpe = nn.Embedding(block_size, d_model)
        self.blocks = blocks  # an nn.Sequential, so reslib.paths.lesion can delete a block
        self.ln_f = nn.LayerNorm(d_model) if _require_norm_first(norm_first) else nn.Identity()
        self.lm_head = nn.Linear(d_model, n_out)

    def _require_tokens(self, idx: object, where: str) -> torch.Tensor:
        """A (B, T) integer tensor of token ids on the embedding's device, T <= block_size.

        Attributes only, plus the ids' range on the CPU: on a GPU reading them would wait for the
        device at every forward (an id out of range there stops the kernel with a device assert).
        """
        if not isinstance(idx, torch.Tensor):
            raise TypeError(
                f"{where}: idx must be a torch.Tensor of token ids (B, T), got {type(idx).__name__}; "
                f"convert it with torch.as_tensor(idx, dtype=torch.long)"
            )
        if idx.dtype not in (torch.int64, torch.int32):  # what nn.Embedding takes
            raise TypeError(
                f"{where}: idx must hold integer token ids in [0, {self.vocab_size - 1}] (B, T), got dtype "
                f"{idx.dtype}; the model embeds ids, not values: pass idx.long()"
            )
        ndim = self.wte.weight.ndim  # 2; 3 when stacked (reslib.stacking.grouped): idx is (models, B, T)
        if idx.ndim != ndim:
            fix = "; add the batch axis with idx[None]" if idx.ndim == ndim - 1 else ""
            raise ValueError(
                f"{where}: idx must have {ndim} dimensions {input_layout('B, T', ndim > 2)}, "
                f"got shape {tuple(idx.shape)}{fix}"
            )
        if idx.numel() == 0:
            raise ValueError(f"{where}: idx is empty, shape {tuple(idx.shape)}; pass at least one token")
        T = idx.shape[-1]
        if T > self.block_size:
            raise ValueError(
                f"{where}: idx has sequences of length {T}, longer than the {self.block_size} positions "
                f"this model has (block_size); cut them to idx[:, :{self.block_size}] or build with "
                f"block_size >= {T}"
            )
        device = self.wte.weight.device
        if idx.device != device:
            raise ValueError(
                f"{where}: idx is on {idx.device}, but the model is on {device}; call idx.to({str(device)!r})"
            )
        if idx.device.type == "cpu":
            try:
                lo, hi = int(idx.min()), int(idx.max())
            except RuntimeError:  # inside torch.func.vmap values cannot be read; the caller checked them
                lo, hi = 0, 0
            if lo < 0 or hi >= self.vocab_size:
                raise ValueError(
                    f"{where}: idx must hold tokens in [0, {self.vocab_size - 1}] "
                    f"(vocab_size={self.vocab_size}), got values in [{lo}, {hi}]"
                )
        return idx

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """The stream before the first block, $x_0$ (B, T, d_model)."""
        return self._embed(self._require_tokens(idx, "Transformer.embed"))

    def _embed(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.shape[-1]
        pos = torch.arange(T, device=idx.device).expand(*idx.shape[:-2], T)  # (T,); (models, T) stacked
        return self.wte(idx) + self.wpe(pos).unsqueeze(-3)  # (B, T, C) + (1, T, C)

    def unembed(self, x: torch.Tensor) -> torch.Tensor:
        r"""Logits from a stream state, $W_U\,\mathrm{LN}_f(x)$; the logit lens applies it after any block."""
        w = self.lm_head.weight  # (n_out, d_model); (models, n_out, d_model) when stacked
        require_stream(self, x, w)
        return self.lm_head(self.ln_f(x))  # (B, T, n_out)

    def streams(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """The stream after the embedding and after each block: n_layer + 1 tensors (B, T, d_model)."""
        states = [self._embed(self._require_tokens(idx, "Transformer.streams"))]
        for block in self.blocks:
            states.append(block(states[-1]))
        return states

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        idx = self._require_tokens(idx, "Transformer.forward")
        return self.unembed(self.blocks(self._embed(idx)))  # (B, T, n_out)  # (B, T, n_out)

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, block_size={self.block_size}"


# "glorot" as in reslib.inits (Glorot's uniform law here, as nn.Transformer draws); "gpt2": N(0, 0.02^2).
WEIGHT_INITS = ("glorot", "gpt2")


@typechecked
def transformer(
    vocab_size: int,
    block_size: int,
    n_layer: int,
    d_model: int = 32,
    n_head: int = 2,
    n_out: int | None = None,
    d_ff: int | None = None,
    norm_first: bool = True,
    causal: bool = False,
    activation: str = "gelu",
    init: str = "glorot",
    depth_scaled: bool = False,
) -> Transformer:
    r"""Build and initialise a `Transformer`; embeddings $\mathcal N(0, 0.02^2)$, biases 0.

    `init="glorot"` draws every linear weight from Glorot's uniform law, as `nn.Transformer` does
    (the setting of Xiong et al.); `"gpt2"` draws them from $\mathcal N(0, 0.02^2)$. With `depth_scaled`,
    each block's two output projections (`attn.c_proj`, `mlp.c_proj`: the layers that write to the
    stream) are then multiplied by $1/\sqrt{2N}$ for $N$ blocks (GPT-2), so the $2N$ writes together
    add a variance that does not grow with depth. Weights come from torch's global RNG, like any
    `nn.Module` (seed it with `reslib.set_seed`).

    Args:
        vocab_size: input tokens; block_size: positions (the longest sequence).
        n_layer: blocks N; d_model: stream width; n_head: heads (d_model % n_head == 0).
        n_out: output classes per position (default vocab_size); d_ff: MLP width (default 4 d_model).
        norm_first: True for pre-LN, False for post-LN. causal: decoder-style masked attention.
        activation: `"gelu"` or `"relu"`. init: `"glorot"` or `"gpt2"`.
        depth_scaled: GPT-2's $1/\sqrt{2N}$ on the output projections.
    """
    require_int("vocab_size", vocab_size, maximum=2**20)
    require_int("block_size", block_size, maximum=2**12)
    require_int("n_layer", n_layer, maximum=MAX_BLOCKS)
    require_heads(d_model, n_head)
    n_out = vocab_size if n_out is None else require_int("n_out", n_out, maximum=2**20)
    d_ff = 4 * d_model if d_ff is None else require_int("d_ff", d_ff, maximum=2**16)
    _require_norm_first(norm_first)
    require_choice("init", init, WEIGHT_INITS, fix="'glorot' (nn.Transformer's draw) or 'gpt2'")
    require_bool("depth_scaled", depth_scaled)
    weights = n_layer * (4 * d_model * d_model + 2 * d_model * d_ff) + d_model * (
        vocab_size + block_size + n_out
    )
    require_memory("sizes", dict(n_layer=n_layer, d_model=d_model, d_ff=d_ff), 4 * weights)
    blocks = nn.Sequential(
        *[Block(d_model, n_head, d_ff, norm_first, causal, activation) for _ in range(n_layer)]
    )
    model = Transformer(vocab_size, block_size, n_out, blocks, d_model, norm_first)
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear):
            if init == "glorot":
                nn.init.xavier_uniform_(module.weight)
            else:
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            nn.init.zeros_(module.bias)
    if depth_scaled:
        with torch.no_grad():
            for block in blocks:
                for proj in (block.attn.c_proj, block.mlp.c_proj):
                    proj.weight.mul_(1 / math.sqrt(2 * n_layer))
    return model


@typechecked
def to_torch_layer(block: Block) -> nn.TransformerEncoderLayer:
    """PyTorch's `nn.TransformerEncoderLayer` holding a copy of `block`'s weights (dropout 0, batch first).

    For a causal block call it with `src_mask=nn.Transformer.generate_square_subsequent_mask(T)`.
    """
    d_model, d_ff = block.mlp.c_fc.in_features, block.mlp.c_fc.out_features
    gelu = isinstance(block.mlp.act, nn.GELU)
    layer = nn.TransformerEncoderLayer(
        d_model,
        block.attn.n_head,
        d_ff,
        dropout=0.0,
        activation="gelu" if gelu else "relu",
        batch_first=True,
        norm_first=block.norm_first,
    )
    pairs = [
        (layer.self_attn.in_proj_weight, block.attn.c_attn.weight),
        (layer.self_attn.in_proj_bias, block.attn.c_attn.bias),
        (layer.self_attn.out_proj.weight, block.attn.c_proj.weight),
        (layer.self_attn.out_proj.bias, block.attn.c_proj.bias),
        (layer.linear1.weight, block.mlp.c_fc.weight),
        (layer.linear1.bias, block.mlp.c_fc.bias),
        (layer.linear2.weight, block.mlp.c_proj.weight),
        (layer.linear2.bias, block.mlp.c_proj.bias),
        (layer.norm1.weight, block.ln_1.weight),
        (layer.norm1.bias, block.ln_1.bias),
        (layer.norm2.weight, block.ln_2.weight),
        (layer.norm2.bias, block.ln_2.bias),
    ]
    with torch.no_grad():
        for theirs, ours in pairs:
            theirs.copy_(ours)
    return layer.to(block.ln_1.weight.device)
