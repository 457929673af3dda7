"""Exercise checks for the residual stream: a pre-LN block's forward, which run fails, the logit lens."""

from __future__ import annotations

from collections.abc import Callable

import torch

from reslib.checks.core import CheckResult, compare
from reslib.runtime import local_seed
from reslib.transformer import Block, Transformer, transformer
from reslib.validate import require_bool, require_tensor, typechecked

__all__ = [
    "check_logit_lens",
    "check_pre_ln_block",
    "check_which_fails",
    "logit_lens_reference",
    "pre_ln_block_reference",
    "which_fails_reference",
]


@typechecked
def pre_ln_block_reference(block: Block, x: torch.Tensor) -> torch.Tensor:
    r"""$x + \mathrm{attn}(\mathrm{LN}_1(x))$, then $+\,\mathrm{mlp}(\mathrm{LN}_2)$; any norm_first."""
    require_tensor("x", x, ndim=3, dtype="float", fix="a stream (B, T, d_model)")
    x = x + block.attn(block.ln_1(x))  # (B, T, C)
    return x + block.mlp(block.ln_2(x))


@typechecked
def check_pre_ln_block(fn: Callable[..., object]) -> CheckResult:
    """Exercise: `fn(block, x)` is the pre-LN forward of a `reslib.transformer.Block` on x (B, T, d_model)."""
    with local_seed(11):
        cases = []
        for b, t, d, h, causal in [
            (2, 5, 8, 2, False),
            (3, 7, 16, 4, True),
            (1, 1, 8, 1, False),
            (4, 6, 12, 3, True),
        ]:
            block = Block(d, h, 2 * d, norm_first=False, causal=causal)  # its own forward is post-LN
            with torch.no_grad():
                for p in block.parameters():
                    p.add_(0.1 * torch.randn_like(p))  # norms and biases away from 1 and 0
            cases.append((block.eval(), torch.randn(b, t, d)))
    return compare(
        "pre_ln_block",
        lambda block, x: fn(block, x),
        pre_ln_block_reference,
        cases,
        (
            "pre-LN normalises the *input of each branch* and adds the branch's output to the stream "
            "unchanged: the skip carries x as it is. Two residual additions, attention first.",
            "x = x + block.attn(block.ln_1(x)); then return x + block.mlp(block.ln_2(x)). "
            "Do not call block(x): this block was built post-LN.",
        ),
        atol=1e-5,
        rtol=1e-4,
    )


@typechecked
def which_fails_reference(norm_first: bool, warmup: bool) -> bool:
    """At 12 blocks and Adam's learning rate 3e-3 (notebook 11), only post-LN without warm-up fails."""
    return not require_bool("norm_first", norm_first) and not require_bool("warmup", warmup)


@typechecked
def check_which_fails(fn: Callable[..., object]) -> CheckResult:
    """Prediction: `fn(norm_first, warmup)` says whether that 12-block run of notebook 11 fails to train."""
    cases = [(True, False), (True, True), (False, True), (False, False)]
    return compare(
        "which_fails",
        lambda norm_first, warmup: float(bool(fn(norm_first, warmup))),
        lambda norm_first, warmup: float(which_fails_reference(norm_first, warmup)),
        cases,
        (
            "where does the norm sit in post-LN, and what does that do to the size of the first "
            "updates of a deep stack? Warm-up makes the first updates small.",
            "Xiong et al.: post-LN without warm-up fails; warm-up rescues it; pre-LN trains either way. "
            "Return (not norm_first) and (not warmup).",
        ),
    )


@typechecked
@torch.no_grad()
def logit_lens_reference(model: Transformer, idx: torch.Tensor) -> torch.Tensor:
    r"""$W_U\,\mathrm{LN}_f(x_\ell)$ for $\ell = 0..L$: (L + 1, B, T, classes) logits."""
    return torch.stack([model.unembed(h) for h in model.streams(idx)])


@typechecked
def check_logit_lens(fn: Callable[..., object]) -> CheckResult:
    """Exercise: `fn(model, idx)` decodes the stream after the embedding and each block."""
    with local_seed(12):
        cases = []
        for n_layer, norm_first, b, t in [
            (2, True, 3, 5),
            (4, True, 2, 8),
            (3, False, 2, 6),
            (1, True, 1, 1),
        ]:
            model = transformer(10, 8, n_layer, 16, 2, norm_first=norm_first).eval()
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(0.05 * torch.randn_like(p))
            cases.append((model, torch.randint(10, (b, t))))
    return compare(
        "logit_lens",
        lambda model, idx: fn(model, idx),
        logit_lens_reference,
        cases,
        (
            "collect the stream: the embedding (tokens plus positions), then the output of each block "
            "in turn; decode every state the way the model decodes its last one.",
            "h = model.wte(idx) + model.wpe(torch.arange(idx.shape[1])); states = [h]; for each block "
            "h = block(h) and append; return torch.stack([model.lm_head(model.ln_f(s)) for s in states]).",
        ),
        atol=1e-5,
        rtol=1e-4,
    )
