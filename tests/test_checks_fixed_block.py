"""Notebook 06's exercises that test understanding: fix a block from its error, predict a block's size."""

import torch
from torch import nn

import reslib as rl
from tests.helpers import load_solutions, stub

SOL06 = load_solutions("06_bottleneck_counts")


class Broken(nn.Module):
    """The notebook's broken block: F(x) has out_channels, x has in_channels, and they are added."""

    def __init__(self, in_channels=256, mid_channels=64, out_channels=64):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, mid_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid_channels)
        self.conv2 = nn.Conv2d(mid_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def branch(self, x):
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))

    def forward(self, x):
        return self.relu(self.branch(x) + x)


class BackToInput(Broken):
    """The other valid fix: the branch returns to x's channels, the shortcut is the identity."""

    def __init__(self, in_channels=256, mid_channels=64, out_channels=64):
        super().__init__(in_channels, mid_channels, in_channels)
        self.shortcut = nn.Identity()


class ProjectEverywhere(Broken):
    """A typical mistake: a 1x1 projection on the shortcut even where x could be added as it is."""

    def __init__(self, in_channels=256, mid_channels=64, out_channels=64):
        super().__init__(in_channels, mid_channels, out_channels)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x):
        return self.relu(self.branch(x) + self.shortcut(x))


class ForgetsTheAdd(ProjectEverywhere):
    """A typical mistake: the shapes agree now, but the forward pass returns the branch alone."""

    def forward(self, x):
        return self.relu(self.branch(x))


class SlicesX(Broken):
    """A wrong fix: keep the first out_channels channels of x, so the add runs but x is cut."""

    def __init__(self, in_channels=256, mid_channels=64, out_channels=64):
        super().__init__(in_channels, mid_channels, out_channels)
        self.out_channels = out_channels
        self.shortcut = nn.Identity()

    def forward(self, x):
        return self.relu(self.branch(x) + x[:, : self.out_channels])


def test_the_reference_fix_and_the_other_valid_fix_pass():
    assert rl.checks.check_fixed_block(SOL06.FixedBlock).passed is True
    assert rl.checks.check_fixed_block(BackToInput).passed is True


def test_the_broken_block_is_told_its_runtime_error():
    result = rl.checks.check_fixed_block(Broken)
    assert result.passed is False
    assert "RuntimeError" in result.message and "must match the size of tensor" in result.message
    assert "Hint 1 of 2" in result.message


def test_typical_mistakes_are_named():
    every = rl.checks.check_fixed_block(ProjectEverywhere)
    assert every.passed is False and "identity" in every.message
    forgot = rl.checks.check_fixed_block(ForgetsTheAdd)
    assert forgot.passed is False and "shortcut" in forgot.message
    sliced = rl.checks.check_fixed_block(SlicesX)
    assert sliced.passed is False and "self.shortcut(x) has shape" in sliced.message


def test_an_unsolved_stub_is_not_implemented_yet():
    result = rl.checks.check_fixed_block(stub)
    assert result.passed is None and "not implemented" in result.message


def test_the_check_leaves_the_learners_class_and_the_rng_alone():
    torch.manual_seed(3)
    rl.checks.check_fixed_block(SOL06.FixedBlock)
    after = torch.rand(2)
    torch.manual_seed(3)
    assert torch.equal(after, torch.rand(2))
    block = SOL06.FixedBlock()
    assert block.bn2.weight.abs().sum() > 0  # the check zeroed its own copies only


def test_the_first_bottleneck_prediction_is_compared_with_the_real_block():
    real = rl.costs.count_parameters(rl.blocks.Bottleneck(256, 128, stride=2))
    assert SOL06.first_bottleneck_parameters == real == 379_392
    assert rl.checks.check_first_bottleneck_parameters(SOL06.first_bottleneck_parameters).passed is True
    assert rl.checks.check_first_bottleneck_parameters(...).passed is None
    # a typical mistake: no projection shortcut (as if x could be added as it is)
    no_projection = real - 256 * 512 - 2 * 512
    wrong = rl.checks.check_first_bottleneck_parameters(no_projection)
    assert wrong.passed is False and "too low" in wrong.message and "Hint 1 of 2" in wrong.message
    # another: the conv weights alone, counted with the stride as if it added weights
    too_high = rl.checks.check_first_bottleneck_parameters(2 * real)
    assert too_high.passed is False and "too high" in too_high.message and str(real) not in too_high.message


def test_the_new_checks_are_exported_and_the_formula_check_is_gone():
    assert {"check_fixed_block", "check_first_bottleneck_parameters"} <= set(rl.checks.__all__)
    assert "check_conv_parameters" not in rl.checks.__all__
