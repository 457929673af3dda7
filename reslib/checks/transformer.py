"""Exercise checks for the residual stream: a block that starts as the identity, its growth, the lens."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from reslib.attention import FeedForward, SelfAttention
from reslib.checks.core import CheckResult, WrongAnswer, compare, compare_value
from reslib.checks.grading import case_generator, case_seed
from reslib.language import tr
from reslib.runtime import local_seed
from reslib.transformer import Transformer, transformer
from reslib.validate import typechecked

__all__ = [
    "check_identity_block",
    "check_logit_lens",
    "check_stream_growth",
    "logit_lens_reference",
]


class _PreLNBlock(nn.Module):
    r"""A pre-LN block: $x + \mathrm{attn}(\mathrm{LN}_1(x))$, then $+\,\mathrm{mlp}(\mathrm{LN}_2)$.

    With both output projections (`attn.c_proj`, `mlp.c_proj`) at zero it returns the stream unchanged.
    """

    def __init__(self, d_model: int, n_head: int, d_ff: int):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_head)
        self.mlp = FeedForward(d_model, d_ff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))  # (B, T, C)
        return x + self.mlp(self.ln_2(x))


def _projection(block: nn.Module, branch: str) -> nn.Linear:
    proj = getattr(getattr(block, branch, None), "c_proj", None)
    if not isinstance(proj, nn.Linear):
        kind = "rl.attention.SelfAttention" if branch == "attn" else "rl.attention.FeedForward"
        raise WrongAnswer(
            tr(
                "the block needs self.{branch}, a {kind} whose last layer c_proj writes to the stream "
                "(found {found})",
                branch=branch,
                kind=kind,
                found=type(getattr(block, branch, None)).__name__,
            )
        )
    return proj


def _zero(layer: nn.Linear) -> None:
    layer.weight.zero_()
    if layer.bias is not None:
        layer.bias.zero_()


@torch.no_grad()
def _identity_case(cls: Callable[..., object], d: int, h: int, ff: int, b: int, t: int) -> torch.Tensor:
    """Build `cls(d, h, ff)`, test its shapes and that both branches write; then zero the projections.

    Returns the block's output once `attn.c_proj` and `mlp.c_proj` are zero, on a stream with a large
    mean and scale: a block that is the identity there returns the stream itself.
    """
    block = cls(d, h, ff)
    if not isinstance(block, nn.Module):
        raise WrongAnswer(
            tr(
                "{name}({d}, {h}, {ff}) must build an nn.Module",
                name=getattr(cls, "__name__", "cls"),
                d=d,
                h=h,
                ff=ff,
            )
        )
    block.eval()
    attn, mlp = _projection(block, "attn"), _projection(block, "mlp")
    gen = case_generator(d * 100 + t)
    for module in block.modules():  # layer norms away from gamma = 1, beta = 0: LN(x) is not x
        if isinstance(module, nn.LayerNorm) and module.elementwise_affine:
            module.weight.copy_(1 + 0.5 * torch.randn(module.weight.shape, generator=gen))
            if module.bias is not None:
                module.bias.copy_(0.5 * torch.randn(module.bias.shape, generator=gen))
    x = 3 * torch.randn(b, t, d, generator=gen) + 1  # a stream that is not normalised
    out = block(x)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise WrongAnswer(
            tr(
                "a stream of shape {shape} came back as {got}; a block keeps the stream's shape",
                shape=tuple(x.shape),
                got=got,
            )
        )
    if t > 1:
        moved = x.clone()
        moved[:, -1] += torch.randn(d, generator=gen)  # not a constant shift, which a norm removes
        if (block(moved)[:, 0] - out[:, 0]).abs().max() < 1e-6:
            raise WrongAnswer(
                tr(
                    "the first position's output does not change when the last position's input does: the "
                    "attention branch must read every position of the stream and add its output to it"
                )
            )
    _zero(attn)
    if (block(x) - x).abs().max() < 1e-6:
        raise WrongAnswer(
            tr(
                "with attn.c_proj at zero the block returns the stream unchanged: "
                "the MLP branch must write too"
            )
        )
    _zero(mlp)
    out = block(x)
    changed = float((out - x).abs().max())
    if changed > 1e-4 * (1 + float(x.abs().max())):
        raise WrongAnswer(
            tr(
                "with attn.c_proj and mlp.c_proj at zero, both branches add 0, yet your block changed the "
                "stream by up to {changed:.3g}: something besides the two writes acts on the stream itself",
                changed=changed,
            )
        )
    return out


@typechecked
def check_identity_block(cls: Callable[..., object]) -> CheckResult:
    """Exercise: `cls(d_model, n_head, d_ff)` builds a block that is the identity when its writes are zero.

    The block must keep the stream's shape, both its branches must write to the stream (attention
    across positions), and once the output projections `attn.c_proj` and `mlp.c_proj` are zero it
    must return the stream unchanged, whatever its layer norms' gamma and beta: the identity at
    initialisation that pre-LN allows and post-LN does not.
    """
    cases = [(8, 2, 16, 2, 5), (16, 4, 24, 3, 7), (8, 1, 8, 1, 1), (12, 3, 48, 2, 6)]
    return compare(
        "identity_block",
        lambda d, h, ff, b, t: _identity_case(cls, d, h, ff, b, t),
        lambda d, h, ff, b, t: _identity_case(_PreLNBlock, d, h, ff, b, t),
        cases,
        (
            tr(
                "set both output projections to zero in your head: each branch then adds 0. What is left "
                "of the block? If a layer norm sits on the stream itself (after an addition), LN(x + 0) "
                "is not x."
            ),
            tr(
                "normalise the *input of each branch*, never the stream: x = x + self.attn(self.ln_1(x)); "
                "return x + self.mlp(self.ln_2(x)), with self.attn = rl.attention.SelfAttention(d_model, "
                "n_head) and self.mlp = rl.attention.FeedForward(d_model, d_ff)."
            ),
        ),
        atol=1e-5,
        rtol=1e-5,
    )


def _stream_growth() -> float:
    """E[x_48^2] / E[x_12^2] after the last block of fresh pre-LN models (Glorot init), 3 seeds' mean."""
    idx = torch.randint(10, (200, 8))
    moments = {}
    for n_layer in (12, 48):
        last = []
        for seed in (0, 1, 2):
            with local_seed(seed):  # a measurement the learner predicts: the same models in every variant
                model = transformer(10, 8, n_layer, 32, 2, d_ff=64).eval()
            with torch.no_grad():
                last.append(model.streams(idx)[-1].pow(2).mean().item())
        moments[n_layer] = sum(last) / len(last)
    return moments[48] / moments[12]


@typechecked
def check_stream_growth(answer: object) -> CheckResult:
    """Prediction: by what factor E[x^2] at the end of a fresh pre-LN stream grows from 12 to 48 blocks.

    Measured on the notebook's models (width 32, 2 heads, MLP 64, Glorot init, 3 seeds); within 20 %.
    """
    return compare_value(
        "stream_growth",
        answer,
        _stream_growth,
        (
            tr(
                "each pre-LN branch reads a *normalised* copy of the stream, so what it writes does not "
                "depend on how large the stream already is. What does a sum of N such writes do as N grows?"
            ),
            tr(
                "the writes are nearly independent, so their variances add: E[x_N^2] grows by about the "
                "same amount per block, linearly in N (notebook 04). Four times the blocks, about four "
                "times E[x^2] (a little less: the embedding's part does not grow)."
            ),
        ),
        rtol=0.2,
        what=tr("E[x_48^2] / E[x_12^2] of fresh models"),
    )


@typechecked
@torch.no_grad()
def logit_lens_reference(model: Transformer, idx: torch.Tensor) -> torch.Tensor:
    r"""$W_U\,\mathrm{LN}_f(x_\ell)$ for $\ell = 0..L$: (L + 1, B, T, classes) logits."""
    return torch.stack([model.unembed(h) for h in model.streams(idx)])


@typechecked
def check_logit_lens(fn: Callable[..., object]) -> CheckResult:
    """Exercise: `fn(model, idx)` decodes the stream after the embedding and each block."""
    with local_seed(case_seed(12)):
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
            tr(
                "collect the stream: the embedding (tokens plus positions), then the output of each block "
                "in turn; decode every state the way the model decodes its last one."
            ),
            tr(
                "h = model.wte(idx) + model.wpe(torch.arange(idx.shape[1])); states = [h]; for each block "
                "h = block(h) and append; return torch.stack([model.lm_head(model.ln_f(s)) for s in states])."
            ),
        ),
        atol=1e-5,
        rtol=1e-4,
    )
