"""Notebook 09's prediction exercises: each check measures a real network; right passes, mistakes fail."""

import pytest

import reslib as rl
from tests.helpers import load_solutions

SOL09 = load_solutions("09_unet_hourglass")

# (check, the reference answer, typical mistakes a learner makes)
CASES = [
    (
        rl.checks.check_valid_output_size,
        SOL09.valid_output_size,
        [224, 216, 300],
    ),  # no decoder convs; no bottleneck
    (
        rl.checks.check_tile_size,
        SOL09.tile_size,
        [380, 572],
    ),  # output 196 < 200; the paper's tile, not the smallest
    (rl.checks.check_background_only_iou, SOL09.background_only_iou, [[1.0, 0.0, 0.0], [0.78, 0.5, 0.5]]),
    (rl.checks.check_hourglass_modules, SOL09.hourglass_modules, [105, 112, 104]),  # no features R; no stem
]


@pytest.mark.parametrize("check, right, wrong", CASES, ids=lambda v: getattr(v, "__name__", None))
def test_the_reference_answer_passes_and_typical_mistakes_fail_with_a_tiered_hint(check, right, wrong):
    assert check(...).passed is None and "not answered yet" in check(...).message
    for answer in wrong:
        first, second = check(answer), check(answer)
        assert first.passed is False and second.passed is False, answer
        assert "Hint 1 of 2" in first.message and "Hint 2 of 2" in second.message
        check(right)  # a pass resets the tiers
    result = check(right)
    assert result.passed is True and "right" in result.message


def test_the_valid_output_size_is_the_networks_not_a_formulas():
    model = rl.unet.UNet(1, 1, depth=3, base_channels=1, padding="valid", batch_norm=False).to("meta")
    import torch

    assert model(torch.zeros(1, 1, 300, 300, device="meta")).shape[-1] == SOL09.valid_output_size
    assert "too high" in rl.checks.check_valid_output_size(224).message  # forgot the decoder's convs
    assert "too low" in rl.checks.check_valid_output_size(200).message
    assert "212" not in rl.checks.check_valid_output_size(213).message  # never given away


def test_a_tile_the_network_refuses_is_told_why_without_the_sizes_that_work():
    message = rl.checks.check_tile_size(400).message
    assert "refuses" in message and "even size" in message
    assert "396" not in message and "412" not in message
    assert "too low" in rl.checks.check_tile_size(380).message  # accepted, but 196 pixels out
    assert "too high" in rl.checks.check_tile_size(412).message
    assert rl.checks.check_tile_size(396.0).passed is True  # a float of the right size counts


def test_per_class_iou_of_an_all_background_network():
    assert rl.checks.check_background_only_iou([0.80, 0.0, 0.0]).passed is True  # within 0.03
    accuracy = rl.checks.check_background_only_iou([0.78, 1.0, 1.0])  # "it is right on every pixel it marks"
    assert accuracy.passed is False and "not what it measures" in accuracy.message
    assert (
        "expected shape" in rl.checks.check_background_only_iou(0.78).message
    )  # one number for three classes


def test_a_non_number_is_reported_not_raised():
    for check in (rl.checks.check_valid_output_size, rl.checks.check_hourglass_modules):
        result = check("a lot")
        assert result.passed is False and "str" in result.message
