"""`rl.viz.batch_norm_diagram`: SVG, with the module's own numbers and the input's statistics axes."""

import math
import xml.etree.ElementTree as ET

import pytest
import torch
from torch import nn

import reslib as rl


def test_the_svg_parses_and_shows_each_step_of_the_computation():
    d = rl.viz.batch_norm_diagram(nn.BatchNorm2d(4), (8, 4, 5, 5))
    assert ET.fromstring(d.to_svg()).tag.endswith("svg")
    texts = d.texts()
    assert "normalise: x̂ = (x − μ) / √(σ² + ε)" in texts
    assert "scale and shift: y = γ·x̂ + β" in texts and "train mode: update" in texts


@pytest.mark.parametrize(
    "bn, size",
    [
        (nn.BatchNorm2d(4), (8, 4, 5, 5)),
        (nn.BatchNorm1d(3, eps=1e-3, momentum=0.2), (16, 3)),
        (nn.BatchNorm1d(6), (4, 6, 10)),
        (rl.batchnorm.BatchNorm2d(2, momentum=0.05), (3, 2, 7, 7)),
    ],
)
def test_the_numbers_are_the_modules_and_the_inputs(bn, size):
    texts = " | ".join(rl.viz.batch_norm_diagram(bn, size).texts())
    x = torch.randn(size)
    m = x.numel() // x.shape[1]  # values per channel, measured from the tensor BN normalises
    assert f"= {m} values" in texts
    assert f"{bn.num_features} means μ, {bn.num_features} variances σ²" in texts
    assert f"ε = {bn.eps:g}" in texts and f"momentum {bn.momentum:g}" in texts
    assert f"γ, β: {bn.weight.numel()} learned values each" in texts
    assert f"m/(m−1) = {m}/{m - 1}" in texts
    out = bn.eval()(x)
    assert "output y: " + "×".join(map(str, out.shape)) in texts


def test_changing_the_input_or_the_module_changes_the_drawing():
    base = rl.viz.batch_norm_diagram(nn.BatchNorm2d(4), (8, 4, 5, 5)).to_svg()
    assert rl.viz.batch_norm_diagram(nn.BatchNorm2d(4), (8, 4, 6, 6)).to_svg() != base
    assert rl.viz.batch_norm_diagram(nn.BatchNorm2d(4, eps=1e-3), (8, 4, 5, 5)).to_svg() != base
    assert "8×6×6 = 288" in " ".join(rl.viz.batch_norm_diagram(nn.BatchNorm2d(4), (8, 4, 6, 6)).texts())


def test_options_the_module_turns_off_are_drawn_as_off():
    plain = " ".join(rl.viz.batch_norm_diagram(nn.BatchNorm1d(3, affine=False), (5, 3)).texts())
    assert "no γ, β" in plain and "γ, β: 3" not in plain
    no_stats = " ".join(
        rl.viz.batch_norm_diagram(nn.BatchNorm1d(3, track_running_stats=False), (5, 3)).texts()
    )
    assert "eval mode uses batch statistics too" in no_stats and "running statistics" not in no_stats
    cumulative = " ".join(rl.viz.batch_norm_diagram(nn.BatchNorm1d(3, momentum=None), (5, 3)).texts())
    assert "cumulative" in cumulative


def test_tracing_leaves_the_running_statistics_alone():
    bn = nn.BatchNorm2d(4).train()
    before = bn.running_mean.clone(), bn.num_batches_tracked.clone()
    rl.viz.batch_norm_diagram(bn, (8, 4, 5, 5))
    assert torch.equal(bn.running_mean, before[0]) and bn.num_batches_tracked == before[1] and bn.training
    assert math.isclose(bn.momentum, 0.1)


@pytest.mark.parametrize(
    "bn, size, error, name",
    [
        (nn.Linear(3, 3), (4, 3), TypeError, "bn"),
        (nn.BatchNorm2d(4), (8, 4, 5), ValueError, "input_size"),
        (nn.BatchNorm2d(4), (8, 3, 5, 5), ValueError, r"input_size\[1\]"),
        (nn.BatchNorm1d(3), (1, 3), ValueError, "input_size"),
        (nn.BatchNorm1d(3), (4, 3.0), TypeError, r"input_size\[1\]"),
        (nn.BatchNorm1d(3), (0, 3), ValueError, r"input_size\[0\]"),
        (nn.BatchNorm1d(3), 4, TypeError, "input_size"),
        (nn.BatchNorm2d(3), (10**4, 3, 1000, 1000), ValueError, "input_size"),  # too large to trace
    ],
)
def test_bad_arguments_name_the_argument(bn, size, error, name):
    with pytest.raises(error, match=name):
        rl.viz.batch_norm_diagram(bn, size)
