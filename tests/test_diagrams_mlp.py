"""`rl.viz.mlp_diagram`: the drawing of an MLP (notebooks 01 and 02) says what the module holds."""

import re
import xml.etree.ElementTree as ET

import pytest
import torch
from torch import nn

import reslib as rl

SVG = "{http://www.w3.org/2000/svg}"


def _svg_texts(diagram: rl.viz.Diagram) -> list[str]:
    root = ET.fromstring(diagram.to_svg())  # parses: a well-formed SVG document
    assert root.tag == f"{SVG}svg"
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def _linear_labels(net: nn.Module) -> list[str]:
    return [f"Linear {m.in_features}→{m.out_features}" for m in net.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("norm", [None, "batch"])
def test_every_layer_of_a_small_net_is_drawn_with_the_modules_sizes(residual, norm):
    net = rl.mlp.mlp(3, 12, 7, 5, residual=residual, norm=norm)
    texts = _svg_texts(rl.viz.mlp_diagram(net, max_blocks=5))
    drawn = [t for t in texts if t.startswith("Linear ")]
    assert drawn == _linear_labels(net)  # every linear layer, in order, with its own features
    assert "input 7" in texts and "output 5" in texts  # from the traced forward pass
    assert texts.count("BatchNorm") == sum(isinstance(m, nn.BatchNorm1d) for m in net.modules())
    assert texts.count("ReLU") == sum(isinstance(m, nn.ReLU) for m in net.modules())
    assert texts.count("+") == (3 if residual else 0)  # one addition per residual block
    assert texts.count("identity") == (3 if residual else 0)
    assert not any("more" in t for t in texts)  # nothing summarised
    with torch.no_grad():
        width = net.stem(torch.zeros(2, 7)).shape[1]
    assert texts.count(str(width)) >= 3  # the hidden size written on the arrows between layers


@pytest.mark.parametrize("residual", [False, True])
def test_a_deep_net_shows_how_many_layers_are_hidden(residual):
    depth, max_blocks = 16, 2
    net = rl.mlp.mlp(depth, 64, 40, 10, residual=residual, norm="batch")
    texts = _svg_texts(rl.viz.mlp_diagram(net, max_blocks=max_blocks))
    kind = "blocks" if residual else "layers"
    shown_hidden = max_blocks + 1 + (0 if residual else 1)  # the drawn blocks, the last, a plain stem
    hidden = len(net.blocks) + (0 if residual else 1) - shown_hidden
    assert f"⋮ {hidden} more {kind} like these ⋮" in texts
    assert f"{'residual' if residual else 'plain'}, depth {depth}" in texts  # the default title
    last = f"{'block' if residual else 'layer'} {depth} (blocks.{len(net.blocks) - 1})"
    assert last in texts  # the last block is drawn and numbered as the module numbers it
    assert texts.count("+") == (max_blocks + 1 if residual else 0)


def test_a_width_change_changes_the_drawing():
    narrow = rl.viz.mlp_diagram(rl.mlp.mlp(4, 32, 40, 10, residual=True))
    wide = rl.viz.mlp_diagram(rl.mlp.mlp(4, 48, 40, 10, residual=True))
    assert narrow.to_svg() != wide.to_svg()
    assert "Linear 32→32" in narrow.texts() and "Linear 32→32" not in wide.texts()
    assert "Linear 48→48" in wide.texts() and "Linear 40→48" in wide.texts()
    deeper = rl.viz.mlp_diagram(rl.mlp.mlp(5, 32, 40, 10, residual=True))
    assert (
        "⋮ 1 more blocks like these ⋮" in narrow.texts() and "⋮ 2 more blocks like these ⋮" in deeper.texts()
    )


def test_the_diagram_does_not_depend_on_the_weights_or_touch_the_rng():
    torch.manual_seed(0)
    first = rl.viz.mlp_diagram(rl.mlp.mlp(3, 8, 4, 2, residual=True, norm="batch")).to_svg()
    state = torch.get_rng_state()
    second = rl.viz.mlp_diagram(rl.mlp.mlp(3, 8, 4, 2, residual=True, norm="batch")).to_svg()
    assert first == second  # other weights, the same drawing
    net = rl.mlp.mlp(3, 8, 4, 2, residual=True, norm="batch")
    state = torch.get_rng_state()
    rl.viz.mlp_diagram(net)
    assert torch.equal(state, torch.get_rng_state())


def test_scales_other_than_one_are_drawn():
    net = rl.mlp.mlp(2, 8, 4, 2, residual=True, residual_scale=2**-0.5, shortcut_scale=0.5)
    texts = _svg_texts(rl.viz.mlp_diagram(net))
    block = net.blocks[0]
    assert texts.count(f"× {block.shortcut_scale:.3g}") == 2  # on each identity path
    assert texts.count(f"× {block.residual_scale:.3g}") == 2  # after each addition
    assert "identity" not in texts
    plain_scales = _svg_texts(rl.viz.mlp_diagram(rl.mlp.mlp(2, 8, 4, 2, residual=True)))
    assert not any(t.startswith("×") for t in plain_scales)


@pytest.mark.parametrize("residual", [False, True])
def test_the_shattering_net_of_notebook_02_is_drawn_from_its_own_stem(residual):
    net = rl.shattering.shattering_net(24, residual, seed=0, width=20)
    texts = _svg_texts(rl.viz.mlp_diagram(net))
    assert "input 1" in texts and "output 1" in texts
    drawn = [t for t in texts if t.startswith("Linear ")]
    assert drawn[0] == "Linear 1→20" and drawn[-1] == "Linear 20→1"
    if not residual:  # its stem is Linear -> ReLU, without the batch norm the hidden layers have
        stem = texts.index("layer 1 (stem)")
        assert texts[:stem].count("BatchNorm") == 0 and texts[stem:].count("BatchNorm") == 3
        assert "⋮ 20 more layers like these ⋮" in texts
    else:
        assert "⋮ 21 more blocks like these ⋮" in texts and texts.count("BatchNorm") == 3


def test_a_one_layer_net_is_drawn():
    texts = _svg_texts(rl.viz.mlp_diagram(rl.mlp.mlp(1, 8, 4, 2)))
    assert [t for t in texts if t.startswith("Linear ")] == ["Linear 4→8", "Linear 8→2"]


def test_side_by_side_keeps_both_titles_and_labels():
    plain, residual = rl.mlp.mlp(16, 64, 40, 10, norm="batch"), rl.mlp.mlp(16, 64, 40, 10, True, "batch")
    both = rl.viz.side_by_side([rl.viz.mlp_diagram(plain), rl.viz.mlp_diagram(residual)])
    texts = _svg_texts(both)
    assert "plain, depth 16" in texts and "residual, depth 16" in texts
    assert texts.count("+") == 3 and "⋮ 12 more layers like these ⋮" in texts


def test_bad_arguments_name_the_argument():
    net = rl.mlp.mlp(2, 8, 4, 2)
    with pytest.raises(ValueError, match="max_blocks"):
        rl.viz.mlp_diagram(net, max_blocks=0)
    with pytest.raises(TypeError, match="max_blocks"):
        rl.viz.mlp_diagram(net, max_blocks=1.5)
    with pytest.raises(TypeError, match=re.escape("net")):
        rl.viz.mlp_diagram(nn.Sequential(nn.Linear(4, 8), nn.ReLU()))
    with pytest.raises(TypeError, match="title"):
        rl.viz.mlp_diagram(net, title=3)
