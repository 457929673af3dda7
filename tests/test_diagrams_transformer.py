"""Notebook 11's transformer block and notebook 10's normalisation-free blocks, drawn from the modules."""

import xml.etree.ElementTree as ET

import pytest
import torch

import reslib as rl

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    """Every <text> on a drawing, parsed as XML (so the SVG must be well formed)."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return [t.text for t in root.iter(f"{SVG}text")]


def model(norm_first=True, d_model=32, n_head=2, d_ff=64, n_layer=12):
    return rl.transformer.transformer(10, 8, n_layer, d_model, n_head, d_ff=d_ff, norm_first=norm_first)


def _index(drawn, label):
    return next(i for i, t in enumerate(drawn) if t.startswith(label))


@pytest.mark.parametrize("norm_first", [True, False])
def test_the_block_diagram_shows_the_modules_widths_heads_and_depth(norm_first):
    net = model(norm_first)
    drawn = texts(rl.viz.transformer_block_diagram(net).to_svg())
    block = net.blocks[0]
    d_model, heads = block.ln_1.normalized_shape[0], block.attn.n_head
    d_ff = block.mlp.c_fc.out_features
    assert f"d_model {d_model}" in drawn
    assert f"Self-attention, {heads} heads" in drawn and f"d_head {d_model // heads}" in drawn
    assert f"MLP {d_model}→{d_ff}→{d_model}" in drawn
    assert f"Linear {d_model}→{net.lm_head.out_features}" in drawn  # the unembedding
    assert any(t.startswith(f"block 1 of {len(net.blocks)}") for t in drawn)
    assert drawn.count("+") == 2  # two residual additions per block
    assert drawn[0] == ("pre-LN" if norm_first else "post-LN")


def test_the_norms_sit_where_the_module_puts_them():
    # pre-LN: each norm before its branch (read, norm, attention, add); a final norm before the head
    pre = texts(rl.viz.transformer_block_diagram(model(True)).to_svg())
    assert _index(pre, "LayerNorm ln_1") < _index(pre, "Self-attention") < pre.index("+")
    assert _index(pre, "LayerNorm ln_2") < _index(pre, "MLP")
    assert "LayerNorm ln_f" in pre and "norm inside each branch" in pre[_index(pre, "block 1")]
    # post-LN: each norm on the stream after its addition, and no final norm (model.ln_f is Identity)
    post = texts(rl.viz.transformer_block_diagram(model(False)).to_svg())
    first_add = post.index("+")
    assert _index(post, "Self-attention") < first_add < _index(post, "LayerNorm ln_1") < _index(post, "MLP")
    assert _index(post, "LayerNorm ln_2") > len(post) - 1 - post[::-1].index("+")
    assert "LayerNorm ln_f" not in post and "norm on the stream" in post[_index(post, "block 1")]


def test_changing_the_model_changes_the_drawing():
    base = rl.viz.transformer_block_diagram(model()).texts()
    wider = rl.viz.transformer_block_diagram(model(d_model=48, n_head=4, d_ff=96)).texts()
    assert base != wider
    assert "d_model 48" in wider and "Self-attention, 4 heads" in wider and "d_head 12" in wider
    assert "MLP 48→96→48" in wider and "d_model 32" not in wider
    deeper = rl.viz.transformer_block_diagram(model(n_layer=4)).texts()
    assert any(t.startswith("block 1 of 4") for t in deeper)


def test_a_single_block_is_drawn_with_its_own_placement_and_mask():
    block = rl.transformer.Block(16, 4, 40, norm_first=False, causal=True)
    drawn = rl.viz.transformer_block_diagram(block).texts()
    assert "d_head 4, causal" in drawn and "MLP 16→40→16" in drawn and "d_model 16" in drawn
    assert "stream in" in drawn and "logits" not in drawn and "LayerNorm ln_2" in drawn


def test_side_by_side_puts_post_ln_beside_pre_ln_and_the_svg_is_deterministic():
    make = lambda: rl.viz.side_by_side(
        [rl.viz.transformer_block_diagram(model(False)), rl.viz.transformer_block_diagram(model(True))]
    ).to_svg()
    svg = make()
    drawn = texts(svg)
    assert drawn.index("post-LN") < drawn.index("pre-LN")
    torch.manual_seed(5)  # other weights: the drawing reads only the structure
    assert make() == svg


def test_bad_arguments_name_the_argument():
    with pytest.raises(TypeError, match="model"):
        rl.viz.transformer_block_diagram(torch.nn.Linear(3, 3))
    with pytest.raises(TypeError, match="title"):
        rl.viz.transformer_block_diagram(model(), title=3)
    net = model()
    net.blocks = torch.nn.Sequential()
    with pytest.raises(ValueError, match="n_layer"):
        rl.viz.transformer_block_diagram(net)


@pytest.mark.parametrize(
    ("scheme", "zero", "extra"),
    [
        ("zero_gamma", "γ = 0 now", ["BatchNorm"]),
        ("rezero", "α = 0 now", ["× α"]),
        ("fixup", "W = 0 now", ["+ b1", "+ b4", "× s"]),
        ("batchnorm", None, ["BatchNorm"]),
        ("default", None, []),
    ],
)
def test_the_normfree_diagram_marks_the_piece_the_module_starts_at_zero(scheme, zero, extra):
    net = rl.normfree.normfree_mlp(32, 24, 40, 10, scheme)
    drawn = texts(rl.viz.normfree_diagram(net).to_svg())
    block = net.blocks[0]
    assert drawn[0] == scheme and "block 1 of 32" in drawn and "identity" in drawn
    assert drawn.count(f"Linear {block.linear1.in_features}→{block.linear1.out_features}") == 2
    assert set(extra) <= set(drawn)
    zeros = [t for t in drawn if t.endswith("= 0 now")]
    assert zeros == ([zero] if zero else [])
    assert ("= x now" in drawn) == (zero is not None)  # the block starts as the identity exactly then
    x = torch.randn(5, 24)
    assert torch.equal(block(x), x) == (zero is not None)  # and the module agrees


def test_the_normfree_diagram_follows_the_weights_and_the_width():
    block = rl.normfree.NormFreeBlock(16, "rezero")
    assert "α = 0 now" in rl.viz.normfree_diagram(block).texts()
    with torch.no_grad():
        block.alpha.fill_(0.5)
    drawn = rl.viz.normfree_diagram(block).texts()
    assert "α = 0.5" in drawn and "= x now" not in drawn and "Linear 16→16" in drawn and "one block" in drawn


def test_the_normfree_diagram_refuses_other_modules():
    with pytest.raises(TypeError, match="model"):
        rl.viz.normfree_diagram(rl.mlp.mlp(3, 16, 40, 10, residual=True))
    with pytest.raises(TypeError, match="model"):
        rl.viz.normfree_diagram(torch.nn.Linear(3, 3))


def test_in_korean_the_words_are_translated_and_the_layer_names_kept():
    english = rl.viz.transformer_block_diagram(model()).to_svg()
    with rl.language.local_language("ko"):
        drawn = texts(rl.viz.transformer_block_diagram(model()).to_svg())
    assert "잔차 스트림" in drawn and "블록 1/12: 각 가지 안의 정규화" in drawn and "로짓" in drawn
    assert "LayerNorm ln_1" in drawn and "MLP 32→64→32" in drawn and "d_model 32" in drawn
    assert rl.viz.transformer_block_diagram(model()).to_svg() == english  # English again afterwards
