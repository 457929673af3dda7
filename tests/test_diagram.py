"""The diagram core (`rl.viz.Diagram`, `trace`, `layer_label`) and the MLP diagram drawn from a model."""

import xml.etree.ElementTree as ET

import pytest
import torch
from torch import nn

import reslib as rl

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    """Every <text> on a drawing, parsed as XML (so the SVG must be well formed)."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return [t.text for t in root.iter(f"{SVG}text")]


def test_a_diagram_is_svg_with_its_labels_escaped_and_sized_to_what_is_drawn():
    d = rl.viz.Diagram("a <block> & its skip")
    x = d.box(0, 0, "x", kind="io")
    f = d.box(0, 60, "Linear 64→64", sub="W x + b")
    add = d.node(0, 120)
    d.arrow([x.bottom, f.top])
    d.arrow([f.bottom, add.top], label="64")
    d.arrow([x.right, (80, x.y), (80, add.y), add.right], label="identity", dashed=True)
    d.region(-90, -20, 120, 140, label="block 1")
    svg = d.to_svg()
    drawn = texts(svg)
    assert drawn[0] == "a <block> & its skip"  # the title, unescaped by the parser
    assert {"x", "Linear 64→64", "W x + b", "+", "64", "identity", "block 1"} <= set(drawn)
    assert d.texts() == drawn  # what the tests read is what the SVG shows
    root = ET.fromstring(svg)
    width, height = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    assert 200 < width < 400 and 150 < height < 300  # grown to hold the region and its label
    assert svg == d._repr_svg_() and "<script" not in svg


def test_the_same_drawing_is_the_same_bytes():
    make = lambda: rl.viz.mlp_diagram(rl.mlp.mlp(3, 16, 40, 10, residual=True)).to_svg()
    assert make() == make()


def test_side_by_side_keeps_every_label_and_each_title():
    a, b = rl.viz.Diagram("plain"), rl.viz.Diagram("residual")
    a.box(0, 0, "left box")
    b.box(0, 0, "right box")
    both = rl.viz.side_by_side([a, b], title="two")
    assert texts(both.to_svg()) == ["two", "plain", "left box", "residual", "right box"]
    with pytest.raises(ValueError, match="diagrams"):
        rl.viz.side_by_side([])
    with pytest.raises(ValueError, match=r"diagrams\[1\] is empty"):
        rl.viz.side_by_side([a, rl.viz.Diagram()])
    with pytest.raises(TypeError, match="diagrams"):
        rl.viz.side_by_side([a, "b"])


def test_bad_drawing_arguments_are_named():
    d = rl.viz.Diagram()
    with pytest.raises(ValueError, match="the diagram is empty"):
        d.to_svg()
    with pytest.raises(ValueError, match="kind"):
        d.box(0, 0, "x", kind="bogus")
    with pytest.raises(ValueError, match="points"):
        d.arrow([(0, 0)])
    with pytest.raises(ValueError, match="anchor"):
        d.text(0, 0, "x", anchor="left")
    with pytest.raises(TypeError, match="label"):
        d.box(0, 0, 3)


def test_trace_records_every_call_in_order_and_leaves_the_model_as_it_was():
    net = rl.mlp.mlp(2, 8, 40, 10, residual=True, norm="batch")
    net.train()
    running = net.blocks[0].norm.running_mean.clone()
    rl.set_seed(5)
    calls = rl.viz.trace(net, torch.randn(3, 40))
    after = torch.rand(1)
    rl.set_seed(5)
    torch.randn(3, 40)
    assert torch.equal(after, torch.rand(1))  # the forward pass drew nothing from the notebook's RNG
    assert [c.name for c in calls][:5] == ["", "stem", "blocks", "blocks.0", "blocks.0.norm"]
    shapes = {c.name: c.output for c in calls}
    assert shapes[""] == (3, 10) and shapes["stem"] == (3, 8) and calls[0].inputs == ((3, 40),)
    assert net.training and all(m.training for m in net.modules())  # train mode given back
    assert torch.equal(net.blocks[0].norm.running_mean, running)  # no statistics updated
    assert not any(hasattr(m, "_reslib_trace_stack") for m in net.modules())


def test_trace_names_inputs_the_model_cannot_take():
    with pytest.raises(ValueError, match="inputs: MLP could not run"):
        rl.viz.trace(rl.mlp.mlp(2, 8, 40, 10), torch.zeros(3, 41))
    with pytest.raises(ValueError, match="inputs"):
        rl.viz.trace(rl.mlp.mlp(2, 8, 40, 10), [])


def test_a_module_called_twice_appears_twice():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.relu(x) - 1)

    calls = rl.viz.trace(Twice(), torch.zeros(2, 3))
    assert [c.name for c in calls] == ["", "relu", "relu"]


@pytest.mark.parametrize(
    "module, label",
    [
        (nn.Conv2d(64, 128, 3, stride=2, padding=1), ("Conv 3×3, 64→128, /2", "layer")),
        (nn.Conv1d(4, 8, 1), ("Conv 1, 4→8", "layer")),
        (nn.ConvTranspose2d(8, 4, 2, stride=2), ("Up-conv 2×2, 8→4", "layer")),
        (nn.Linear(40, 64), ("Linear 40→64", "layer")),
        (nn.BatchNorm2d(3), ("BatchNorm", "norm")),
        (nn.GroupNorm(2, 4), ("GroupNorm (2 groups)", "norm")),
        (nn.LayerNorm(8), ("LayerNorm", "norm")),
        (nn.ReLU(), ("ReLU", "act")),
        (nn.MaxPool2d(2), ("MaxPool", "pool")),
        (nn.AdaptiveAvgPool2d(1), ("Global AvgPool", "pool")),
        (nn.Identity(), None),
        (nn.Sequential(), ("Sequential", "block")),
    ],
)
def test_layer_labels_are_read_from_the_module(module, label):
    assert rl.viz.layer_label(module) == label


def test_shape_label_drops_the_batch_axis():
    assert rl.viz.shape_label((2, 64, 32, 32)) == "64×32×32"
    assert rl.viz.shape_label((2, 10), batch=True) == "2×10"
    with pytest.raises(ValueError, match="shape"):
        rl.viz.shape_label((5,))


@pytest.mark.parametrize("residual", [False, True])
def test_an_mlp_diagram_shows_the_models_own_sizes(residual):
    net = rl.mlp.mlp(3, 24, 40, 10, residual=residual)
    drawn = texts(rl.viz.mlp_diagram(net).to_svg())
    assert drawn[0] == f"{'residual' if residual else 'plain'}, depth 3"
    assert "input 40" in drawn and "Linear 24→10" in drawn and "10" in drawn
    linears = [t for t in drawn if t.startswith("Linear ")]
    widths = [m.out_features for m in net.modules() if isinstance(m, nn.Linear)]
    assert [int(t.split("→")[1]) for t in linears] == widths  # every linear layer, in order
    assert drawn.count("+") == (3 if residual else 0) and drawn.count("identity") == (3 if residual else 0)


def test_an_mlp_diagram_changes_with_the_model():
    narrow, wide = (rl.viz.mlp_diagram(rl.mlp.mlp(2, w, 40, 10)).texts() for w in (16, 32))
    assert "Linear 40→16" in narrow and "Linear 40→32" in wide and narrow != wide
    scaled = rl.viz.mlp_diagram(
        rl.mlp.mlp(2, 8, 40, 10, residual=True, residual_scale=0.5, shortcut_scale=0.25)
    )
    assert "× 0.5" in scaled.texts() and "× 0.25" in scaled.texts() and "identity" not in scaled.texts()
    normed = rl.viz.mlp_diagram(rl.mlp.mlp(2, 8, 40, 10, norm="batch")).texts()
    assert normed.count("BatchNorm") == 2


def test_a_deep_mlp_diagram_summarises_the_middle():
    drawn = rl.viz.mlp_diagram(rl.mlp.mlp(16, 8, 40, 10, residual=True), max_blocks=2).texts()
    assert drawn.count("+") == 3  # blocks 1, 2 and 16
    assert "⋮ 13 more blocks like these ⋮" in drawn and "block 16 (blocks.15)" in drawn
    assert rl.viz.mlp_diagram(rl.mlp.mlp(4, 8, 40, 10, residual=True), max_blocks=3).texts().count("+") == 4
    with pytest.raises(ValueError, match="max_blocks"):
        rl.viz.mlp_diagram(rl.mlp.mlp(2, 8, 40, 10), max_blocks=0)
    with pytest.raises(TypeError, match="net"):
        rl.viz.mlp_diagram(nn.Linear(2, 2))


def test_a_title_wider_than_the_drawing_widens_the_canvas():
    d = rl.viz.Diagram("a title much wider than the one small box under it")
    d.box(0, 0, "x")
    root = ET.fromstring(d.to_svg())
    assert float(root.get("width")) >= 0.6 * 14 * len(d.title)


def test_spatial_label_keeps_only_the_sizes_after_batch_and_channels():
    assert rl.viz.spatial_label((1, 1, 572, 572)) == "572×572"
    assert rl.viz.spatial_label((2, 8, 40)) == "40"
    with pytest.raises(ValueError, match="shape"):
        rl.viz.spatial_label((2, 8))
