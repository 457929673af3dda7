"""Notebook 10's figures and explorers: built, driven through every control, never crashing."""

import numpy as np
import pytest
import torch
from torch import nn

import reslib as rl


@pytest.fixture(scope="module")
def slices():
    out = {}
    for depth in (2, 4):
        for arch in ("plain", "residual"):
            torch.manual_seed(depth + len(arch))
            model = nn.Sequential(nn.Linear(3, depth), nn.ReLU(), nn.Linear(depth, 2))
            x, y = torch.randn(20, 3), torch.randint(0, 2, (20,))
            out[depth, arch] = rl.landscape.loss_slice_2d(model, (x, y), steps=5, span=0.5)
    return out


def test_landscape_explorer_redraws_for_every_control(slices):
    explorer = rl.viz.landscape_explorer(slices)
    seen = set()
    for depth in (2, 4):
        for arch in ("plain", "residual"):
            explorer.update(depth=depth, architecture=arch)
            assert explorer.error is None and "non-convex" in explorer.status.value
            seen.add(str(explorer.figure.data[0].z))
    assert len(seen) == 4


def test_landscape_explorer_says_when_a_slice_is_missing(slices):
    explorer = rl.viz.landscape_explorer({k: v for k, v in slices.items() if k != (2, "plain")})
    explorer.update(depth=2, architecture="plain")
    assert explorer.error is None and "no slice" in explorer.status.value
    with pytest.raises(ValueError, match="slices"):
        rl.viz.landscape_explorer({})


def test_static_figures(slices):
    fig = rl.viz.landscape_figure(slices[2, "plain"], "t")
    assert len(fig.data) == 2 and len(fig.data[0].z) == 5
    grid = rl.viz.width_depth_figure(
        {"train error": np.ones((2, 2)), "test error": np.zeros((2, 2))},
        [1, 4],
        [100, 50],
        ["plain", "residual"],
    )
    assert len(grid.data) == 2 and grid.data[0].y == ("1 layers × 100", "4 layers × 50")


def test_slice_1d_figure():
    model = nn.Linear(3, 2)
    s = rl.landscape.loss_slice_1d(model, (torch.randn(8, 3), torch.randint(0, 2, (8,))), steps=5)
    fig = rl.viz.slice_1d_figure({"a": s, "b": s})
    assert len(fig.data) == 2 and len(fig.data[0].y) == 5


def test_bad_figure_arguments_are_refused():
    with pytest.raises(ValueError, match="shape"):
        rl.viz.width_depth_figure({"e": np.ones((2, 3))}, [1, 4], [100, 50], ["plain", "residual"])
    with pytest.raises(ValueError, match="one width per depth"):
        rl.viz.width_depth_figure({"e": np.ones((2, 2))}, [1, 4], [100], ["plain", "residual"])


def _results():
    ok = rl.train.History([2.0, 1.5, 1.2], [0.8, 0.6, 0.5])
    bad = rl.train.History([float("nan")], [0.9], diverged_at=0)
    return {
        ("default", 4): (np.array([1.0, 3.0, 9.0, 27.0, 81.0]), bad),
        ("rezero", 4): (np.ones(5), ok),
        ("default", 8): (3.0 ** np.arange(9), bad),
        ("rezero", 8): (np.ones(9), ok),
    }


def test_scheme_explorer_redraws_for_every_control():
    explorer = rl.viz.scheme_explorer(_results())
    seen = set()
    for scheme in ("default", "rezero"):
        for depth in (4, 8):
            explorer.update(scheme=scheme, depth=depth)
            assert explorer.error is None
            seen.add((explorer.figure.data[0].y, explorer.figure.data[1].y))
    assert len(seen) == 4
    explorer.update(scheme="default", depth=8)
    assert "diverged in epoch 1" in explorer.status.value
    with pytest.raises(ValueError, match="results"):
        rl.viz.scheme_explorer({})


def test_scheme_figure_draws_each_network():
    fig = rl.viz.scheme_figure({f"{s} {d}": r for (s, d), r in _results().items()})
    assert len(fig.data) == 8 and fig.data[1].y == (None,)  # a diverged curve: a gap, not NaN


def test_euler_explorer_and_figure():
    explorer = rl.viz.euler_explorer()
    seen = set()
    for depth in (1, 16, 256):
        explorer.update(depth=depth)
        assert explorer.error is None
        seen.add(explorer.figure.data[0].x)
    assert len(seen) == 3 and len(explorer.figure.data[0].x) == 257
    fig = rl.viz.euler_figure(
        rl.euler.euler_trajectory(4, n_inputs=2), rl.euler.euler_trajectory(4, False, n_inputs=2)
    )
    assert fig.data[0].x and not fig.data[3].x  # two inputs drawn, the other traces empty


def test_in_korean_the_labels_change_and_the_values_and_marks_do_not(slices):
    block = rl.normfree.NormFreeBlock(8, "rezero")
    english = rl.viz.normfree_diagram(block).to_svg()
    with rl.language.local_language("ko"):
        explorer = rl.viz.landscape_explorer(slices)
        explorer.update(depth=2, architecture="plain")  # the option's value stays English
        assert explorer.error is None and "비볼록" in explorer.status.value
        korean = rl.viz.normfree_diagram(block).to_svg()
    red = rl.viz.style.RED
    assert korean.count(red) == english.count(red) == 1  # α = 0 is marked whatever the language
