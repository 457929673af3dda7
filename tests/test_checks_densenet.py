"""Notebook 08's value checks: the reference passes, a wrong number and the typical mistakes fail."""

import math

import pytest
import torch

import reslib as rl
from tests.helpers import load_solutions

SOL08 = load_solutions("08_densenet")


def test_the_channel_check_measures_a_forward_pass():
    model = rl.densenet.DenseNet(12, (5, 5), 25, compression=0.5, num_classes=10, stem_type="cifar")
    h = model.features[:3](torch.zeros(1, 3, 8, 8))  # conv0, denseblock1, transition1
    assert h.shape[1] == SOL08.channels_after_transition
    assert rl.checks.check_channels_after_transition(h.shape[1]).passed is True


@pytest.mark.parametrize(
    "mistake, direction",
    [
        (43, "too high"),  # rounds floor(0.5 * 85) up
        (30, "too low"),  # forgets that the block keeps its input: 5 * 12 = 60, halved
        (85, "too high"),  # forgets the transition
        (41, "too low"),  # a plain wrong number
    ],
)
def test_channel_mistakes_hear_only_too_high_or_too_low_with_a_hint(mistake, direction):
    result = rl.checks.check_channels_after_transition(mistake)
    assert result.passed is False and direction in result.message and "Hint" in result.message
    assert "42" not in result.message  # the measurement is not given away
    rl.checks.check_channels_after_transition(SOL08.channels_after_transition)  # reset the tiers


def test_the_growth_rate_check_counts_built_models():
    with torch.device("meta"):
        ratio = rl.costs.count_parameters(rl.densenet.densenet_bc(100, 24)) / rl.costs.count_parameters(
            rl.densenet.densenet_bc(100, 12)
        )
    assert math.isclose(SOL08.growth_rate_factor, ratio, rel_tol=0.01)
    assert rl.checks.check_growth_rate_factor(SOL08.growth_rate_factor).passed is True
    assert rl.checks.check_growth_rate_factor(4).passed is True  # "about 2 * 2" is the understanding asked


@pytest.mark.parametrize(
    "mistake, direction",
    [(2, "too low"), (8, "too high"), (3.0, "too low")],  # linear in k; cubic; a wrong number
)
def test_growth_rate_mistakes_fail(mistake, direction):
    result = rl.checks.check_growth_rate_factor(mistake)
    assert result.passed is False and direction in result.message and "Hint" in result.message
    rl.checks.check_growth_rate_factor(SOL08.growth_rate_factor)


@pytest.mark.parametrize(
    "check", [rl.checks.check_channels_after_transition, rl.checks.check_growth_rate_factor]
)
def test_an_unanswered_exercise_waits_and_a_non_number_is_reported(check):
    assert check(...).passed is None and "not answered yet" in check(...).message
    result = check("forty-two")
    assert result.passed is False and "str" in result.message


class _EveryLayerReadsK0(SOL08.MyDenseBlock):  # the typical mistake: forgets that the width grows
    def __init__(self, num_layers, in_channels, growth_rate):
        torch.nn.Module.__init__(self)
        self.layers = torch.nn.ModuleList(
            rl.densenet.DenseLayer(in_channels, growth_rate) for _ in range(num_layers)
        )


class _Chain(SOL08.MyDenseBlock):  # each layer reads only the previous output, like a plain net
    def forward(self, x):
        features, h = [x], x
        for layer in self.layers:
            h = layer(h)
            features.append(h)
        return torch.cat(features, 1)


class _DropsTheInput(SOL08.MyDenseBlock):  # returns the new features only
    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features[1:], 1)


def test_the_reference_dense_block_passes_and_a_stub_waits():
    assert rl.checks.check_my_dense_block(SOL08.MyDenseBlock).passed is True

    class Stub(torch.nn.Module):
        def __init__(self, num_layers, in_channels, growth_rate):
            raise NotImplementedError

    result = rl.checks.check_my_dense_block(Stub)
    assert result.passed is None and "not implemented yet" in result.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (_EveryLayerReadsK0, "layer 2 of 4 (k0 = 24, k = 12) is built to read 24 channels"),
        (_Chain, "DenseLayer.forward: x must have size 36"),
        (_DropsTheInput, "expected shape (2, 72, 5, 4)"),
        (lambda n, k0, k: "a block", "should build an nn.Module"),
    ],
)
def test_dense_block_mistakes_are_named(wrong, says):
    result = rl.checks.check_my_dense_block(wrong)
    assert result.passed is False and says in result.message and "Hint" in result.message
    rl.checks.check_my_dense_block(SOL08.MyDenseBlock)  # a pass resets the hint tiers


def test_the_dense_block_check_leaves_the_global_rng_alone():
    torch.manual_seed(3)
    rl.checks.check_my_dense_block(SOL08.MyDenseBlock)
    after = torch.rand(2)
    torch.manual_seed(3)
    assert torch.equal(after, torch.rand(2))
