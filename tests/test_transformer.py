"""The tiny transformer: parity with nn.TransformerEncoderLayer, shapes, init, and clear errors."""

import math

import pytest
import torch
from torch import nn

import reslib as rl
from reslib.attention import SelfAttention, causal_mask
from reslib.transformer import Block, to_torch_layer, transformer


def _perturbed(block: nn.Module) -> nn.Module:
    with torch.no_grad():  # norms and biases away from 1 and 0, so a swapped pair would show
        for p in block.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return block


@pytest.mark.parametrize("activation", ["gelu", "relu"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("norm_first", [True, False])
def test_a_block_equals_torchs_encoder_layer(norm_first, causal, activation):
    torch.manual_seed(0)
    ours = _perturbed(Block(32, 4, 48, norm_first=norm_first, causal=causal, activation=activation))
    theirs = to_torch_layer(ours)
    assert theirs.norm_first is norm_first and theirs.self_attn.num_heads == 4
    x = torch.randn(3, 7, 32)
    for training in (True, False):  # dropout 0: the same in both modes (eval may take torch's fast path)
        ours.train(training), theirs.train(training)
        if causal:
            out = theirs(x, src_mask=nn.Transformer.generate_square_subsequent_mask(7), is_causal=True)
        else:
            out = theirs(x)
        torch.testing.assert_close(ours(x), out, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("formula", [False, True])
def test_attention_softmax_is_torchs_on_every_cpu(monkeypatch, formula):
    # on CPUs whose softmax kernel is slow for short rows, attention computes them by the formula
    monkeypatch.setattr(rl.attention, "_SLOW_SHORT_SOFTMAX", formula)
    torch.manual_seed(0)
    for length in (1, 7, 15, 16, 40):  # 16 and longer: F.softmax on every CPU
        scores = torch.randn(3, 2, length, length, dtype=torch.float64, requires_grad=True)
        masked = scores.masked_fill(~causal_mask(length), float("-inf"))
        ours, theirs = rl.attention._softmax_rows(masked), torch.softmax(masked, -1)
        torch.testing.assert_close(ours, theirs)
        push = torch.randn_like(ours)
        torch.testing.assert_close(
            *(torch.autograd.grad(out, scores, push, retain_graph=True)[0] for out in (ours, theirs))
        )
    big = torch.tensor([[1000.0, 999.0, -1000.0]])  # the max is subtracted first: no exp overflows
    torch.testing.assert_close(rl.attention._softmax_rows(big), torch.softmax(big, -1))
    block = _perturbed(Block(32, 4, 48, causal=True))
    x = torch.randn(3, 7, 32)
    mask = nn.Transformer.generate_square_subsequent_mask(7)
    torch.testing.assert_close(
        block(x), to_torch_layer(block)(x, src_mask=mask, is_causal=True), atol=1e-5, rtol=1e-5
    )


def test_the_causal_mask_hides_the_future():
    assert torch.equal(causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool))
    torch.manual_seed(0)
    attn = SelfAttention(8, 2, causal=True)
    x = torch.randn(2, 5, 8)
    changed = x.clone()
    changed[:, 3:] = torch.randn(2, 2, 8)  # change the last two positions only
    torch.testing.assert_close(attn(x)[:, :3], attn(changed)[:, :3])
    assert not torch.allclose(SelfAttention(8, 2)(x)[:, :3], SelfAttention(8, 2)(changed)[:, :3])


def test_shapes_streams_and_parameter_count():
    model = transformer(10, 8, 3, d_model=16, n_head=4, n_out=7, d_ff=24)
    idx = torch.randint(10, (5, 6))
    assert model(idx).shape == (5, 6, 7)
    states = model.streams(idx)
    assert len(states) == 4 and all(s.shape == (5, 6, 16) for s in states)
    torch.testing.assert_close(model.unembed(states[-1]), model(idx))
    per_block = 2 * 32 + (16 * 48 + 48) + (16 * 16 + 16) + (16 * 24 + 24) + (24 * 16 + 16)
    embeddings_head_norm = 10 * 16 + 8 * 16 + (16 * 7 + 7) + 32
    assert sum(p.numel() for p in model.parameters()) == 3 * per_block + embeddings_head_norm
    assert isinstance(transformer(10, 8, 2, norm_first=False).ln_f, nn.Identity)


def test_pre_ln_skips_are_the_identity_and_post_ln_normalises_the_stream():
    torch.manual_seed(0)
    x = 5 + 3 * torch.randn(2, 4, 16)
    pre, post = Block(16, 2, norm_first=True), Block(16, 2, norm_first=False)
    for branch in (pre.attn.c_proj, pre.mlp.c_proj):
        nn.init.zeros_(branch.weight), nn.init.zeros_(branch.bias)
    torch.testing.assert_close(pre(x), x)  # zero branches: the block is the identity
    out = post(x)
    torch.testing.assert_close(out.mean(-1), torch.zeros(2, 4), atol=1e-5, rtol=0)  # a LayerNorm last


def test_depth_scaled_init_shrinks_the_writes_by_sqrt_2n():
    stds = {}
    for scaled in (False, True):
        torch.manual_seed(0)
        model = transformer(10, 8, 8, d_model=64, n_head=2, depth_scaled=scaled)
        stds[scaled] = torch.cat([b.mlp.c_proj.weight.flatten() for b in model.blocks]).std().item()
    assert stds[True] / stds[False] == pytest.approx(1 / math.sqrt(16), rel=1e-5)
    torch.manual_seed(0)
    gpt2 = transformer(10, 8, 2, d_model=64, init="gpt2")
    assert gpt2.blocks[0].attn.c_attn.weight.std().item() == pytest.approx(0.02, rel=0.05)


def test_weights_come_from_the_global_rng_only():
    torch.manual_seed(3)
    a = transformer(10, 8, 2)
    torch.manual_seed(3)
    b = transformer(10, 8, 2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_lesion_deletes_a_block():
    model = transformer(10, 8, 3)
    lesioned = rl.paths.lesion(model, 1)
    assert isinstance(lesioned.blocks[1], nn.Identity) and isinstance(model.blocks[1], Block)


@pytest.mark.parametrize(
    ("build", "error", "words"),
    [
        (lambda: Block(30, 4), ValueError, ["d_model=30", "n_head=4", "divisible", "use n_head in"]),
        (lambda: transformer(10, 8, 2, d_model=30, n_head=4), ValueError, ["d_model=30", "divisible"]),
        (lambda: Block(32, 2, norm_first="pre"), TypeError, ["norm_first", "'pre'"]),
        (lambda: transformer(10, 8, 2, norm_first="post"), TypeError, ["norm_first", "'post'"]),
        (lambda: transformer(10, 8, 2, init="he"), ValueError, ["init", "'he'"]),
        (lambda: Block(32, 2, activation="tanh"), ValueError, ["activation"]),
        (lambda: Block(32, 0), ValueError, ["n_head"]),
        (lambda: transformer(10, 8, 0), ValueError, ["n_layer"]),
    ],
)
def test_bad_configurations_are_refused_clearly(build, error, words):
    with pytest.raises(error) as info:
        build()
    assert all(w in str(info.value) for w in words), str(info.value)


def test_bad_inputs_are_refused_clearly():
    model = transformer(10, 8, 1)
    with pytest.raises(ValueError, match=r"length 9, longer than the 8 positions.*idx\[:, :8\]"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match=r"tokens in \[0, 9\].*\[12, 12\]"):
        model(torch.full((1, 4), 12))
    with pytest.raises(TypeError, match="idx"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="idx"):
        model(torch.zeros(4, dtype=torch.long))
