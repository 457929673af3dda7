"""`rl.viz.dense_block_diagram`: the drawing is SVG, and its channel counts are the module's own."""

import xml.etree.ElementTree as ET

import pytest
import torch

import reslib as rl


def _block(num_layers=4, k0=24, k=12, dim=2):
    return rl.densenet.DenseBlock(num_layers, k0, k, dim=dim)


def test_the_svg_parses_and_draws_a_concatenation_before_every_layer_and_at_the_end():
    block = _block()
    d = rl.viz.dense_block_diagram(block, 8)
    root = ET.fromstring(d.to_svg())
    assert root.tag.endswith("svg")
    assert d.texts().count("C") == len(block) + 1
    assert d.texts().count("Conv 3×3, 48→12") == len(block)


def test_the_channels_on_the_drawing_are_a_real_forward_passs():
    block = _block(3, 16, 8)
    x = torch.zeros(1, 16, 6, 6)
    features, expected = [x], []
    for layer in block.values():  # what each layer reads, measured
        cat = torch.cat(features, 1)
        expected.append(f"{cat.shape[1]}×6×6")
        features.append(layer(cat))
    texts = rl.viz.dense_block_diagram(block, 6).texts()
    for label in expected:
        assert label in texts
    assert f"block output {block(x).shape[1]}×6×6" in texts
    for i, layer in enumerate(block.values()):
        assert f"Conv 1×1, {layer.conv1.in_channels}→{layer.conv1.out_channels}" in texts
        assert f"x{i + 1}: {layer(torch.zeros(1, layer.in_channels, 6, 6)).shape[1]}×6×6" in texts


def test_the_transition_shows_its_compression_and_the_halved_size():
    block = _block()
    transition = rl.densenet.Transition(block.out_channels, block.out_channels // 2)
    out = transition(block(torch.zeros(1, 24, 8, 8)))
    texts = rl.viz.dense_block_diagram(block, (8, 8), transition=transition).texts()
    assert f"transition output {out.shape[1]}×{out.shape[2]}×{out.shape[3]}" in texts
    assert any("72→36 channels (θ = 0.5), 8×8 → 4×4" in t for t in texts)
    assert "Conv 1×1, 72→36" in texts and "AvgPool" in texts


def test_a_larger_growth_rate_changes_the_drawing():
    small, large = (rl.viz.dense_block_diagram(_block(k=k), 8) for k in (12, 20))
    assert small.to_svg() != large.to_svg()
    assert "60×8×8" in small.texts() and "84×8×8" in large.texts()  # the last layer reads k0 + 3k
    assert "block output 104×8×8" in large.texts()


def test_a_one_dimensional_block_is_drawn_with_its_length():
    texts = rl.viz.dense_block_diagram(_block(2, 8, 4, dim=1), 40).texts()
    assert "input 8×40" in texts and "block output 16×40" in texts
    assert texts.count("Conv 3, 16→4") == 2  # a 1-d kernel of 3, bottleneck 4k = 16 -> k = 4


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(block=torch.nn.Linear(2, 2), input_size=8), TypeError, "block"),
        (dict(input_size="8"), TypeError, "input_size"),
        (dict(input_size=0), ValueError, "input_size"),
        (dict(input_size=(8, 8, 8)), ValueError, "input_size"),
        (dict(transition=rl.densenet.Transition(10, 5)), ValueError, "transition"),
        (dict(block=_block(9, 8, 4)), ValueError, "block"),
        (dict(input_size=10**6), ValueError, "input_size"),  # too large to trace
    ],
)
def test_bad_arguments_name_the_argument(kwargs, error, name):
    args = dict(block=_block(), input_size=8) | kwargs
    with pytest.raises(error, match=name):
        rl.viz.dense_block_diagram(**args)
