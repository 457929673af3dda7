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
