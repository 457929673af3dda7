"""Diagrams of notebooks 03 and 04: the unraveled paths of a residual MLP, and the scale of a block's sum."""

import math
import re
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

import reslib as rl

SVG = "{http://www.w3.org/2000/svg}"


def _texts(diagram):
    """Every <text> of the SVG the diagram writes (parsed, so the SVG must be well formed)."""
    root = ET.fromstring(diagram.to_svg())
    return [t.text for t in root.iter(f"{SVG}text")]


def _net(blocks, width=16, **kw):
    return rl.mlp.mlp(blocks, width, 40, 10, residual=True, norm="batch", **kw)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_every_path_is_drawn_once_with_its_length(n):
    net = _net(n)
    d = rl.viz.unraveled_paths_diagram(net)
    texts = _texts(d)
    lane_lengths = [int(m.group(1)) for t in texts if (m := re.fullmatch(r"k = (\d+)", t))]
    assert len(lane_lengths) == 2 ** len(net.blocks)  # one lane per path
    assert Counter(lane_lengths) == {k: math.comb(n, k) for k in range(n + 1)}
    assert sorted(map(tuple, d.paths)) == sorted({tuple(p) for p in d.paths})  # no path twice
    for k in range(n + 1):  # the counts written on the drawing
        count = math.comb(n, k)
        assert f"length {k}: {count} path{'s' if count != 1 else ''}" in texts
    for j in range(n):  # block j's branch is taken by half of the paths
        assert texts.count(f"f{j + 1}") == 2 ** (n - 1)
    assert f"unraveled: 2^{n} = {2**n} paths" in texts


def test_the_drawing_reads_the_stream_width_and_the_block_layers_from_the_module():
    texts = _texts(rl.viz.unraveled_paths_diagram(_net(3, width=24)))
    assert "h0 = stem(x), 24" in texts
    assert "each f_j: BatchNorm → ReLU → Linear 24→24" in texts
    plain_norm = _texts(rl.viz.unraveled_paths_diagram(rl.mlp.mlp(2, 8, 40, 10, residual=True)))
    assert "each f_j: ReLU → Linear 8→8" in plain_norm


def test_a_deeper_network_draws_more_paths():
    three, four = (rl.viz.unraveled_paths_diagram(_net(n)) for n in (3, 4))
    assert len(three.paths) == 8 and len(four.paths) == 16
    assert three.to_svg() != four.to_svg()
    assert "length 2: 3 paths" in three.texts() and "length 2: 6 paths" in four.texts()


def test_the_notebook_draws_the_rolled_up_net_beside_the_unraveled_one():
    net = _net(3)
    both = rl.viz.side_by_side([rl.viz.mlp_diagram(net, max_blocks=3), rl.viz.unraveled_paths_diagram(net)])
    texts = _texts(both)
    assert sum(t.startswith("block ") for t in texts) == 3 and "unraveled: 2^3 = 8 paths" in texts


def test_too_many_blocks_a_plain_net_or_a_lesioned_one_are_refused():
    with pytest.raises(ValueError, match=r"5 residual blocks.*at most 4"):
        rl.viz.unraveled_paths_diagram(_net(5))
    with pytest.raises(ValueError, match="residual=True"):
        rl.viz.unraveled_paths_diagram(rl.mlp.mlp(3, 16, 40, 10))
    with pytest.raises(ValueError, match=r"net.blocks\[1\] is a Identity"):
        rl.viz.unraveled_paths_diagram(rl.paths.lesion(_net(3), [1]))
    with pytest.raises(TypeError, match="net"):
        rl.viz.unraveled_paths_diagram("a network")


@pytest.mark.parametrize("scale", [1 / math.sqrt(2), 0.5])
def test_the_variance_notebooks_scaled_sum_shows_its_scale(scale):
    """Notebook 04 draws its networks with `mlp_diagram`: the scale s sits after the addition."""
    texts = _texts(
        rl.viz.mlp_diagram(rl.mlp.mlp(20, 64, 40, 10, residual=True, residual_scale=scale), max_blocks=1)
    )
    assert texts.count(f"× {scale:.3g}") == 2  # the first block and the last one drawn
    assert "⋮ 18 more blocks like these ⋮" in texts
    plain_sum = _texts(rl.viz.mlp_diagram(rl.mlp.mlp(20, 64, 40, 10, residual=True), max_blocks=1))
    assert not any(t.startswith("× ") for t in plain_sum)
