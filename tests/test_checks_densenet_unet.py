"""Checks of notebooks 08-09: the reference solution passes, a plausible mistake fails, a stub waits."""

import pytest
import torch

import reslib as rl
from tests.helpers import load_solutions, stub

SOL08, SOL09 = load_solutions("08_densenet"), load_solutions("09_unet_hourglass")


def _argmax_col_row(h):  # swaps row and column
    return SOL09.heatmap_argmax(h).flip(-1)


CHECKS = [
    (
        rl.checks.check_unet_output_size,
        SOL09.unet_output_size,
        lambda s, d: SOL09.unet_output_size(s, d) + 4 * d,
    ),  # forgets the decoder's convs
    (rl.checks.check_heatmap_argmax, SOL09.heatmap_argmax, _argmax_col_row),
    (
        rl.checks.check_binary_iou,
        SOL09.binary_iou,
        lambda p, t: ((p & t).sum() / t.sum()).item(),
    ),  # recall, not IoU
    (
        rl.checks.check_edge_band,
        SOL09.edge_band,
        lambda m, w: SOL09.edge_band(m, w) & (m > 0),
    ),  # marks only the inner side of each edge
]


@pytest.mark.parametrize("check, solution, wrong", CHECKS)
def test_reference_solution_passes(check, solution, wrong):
    result = check(solution)
    assert result.passed is True and "correct" in result.message
    assert result.max_diff is not None and result.max_diff < 1e-6


@pytest.mark.parametrize("check, solution, wrong", CHECKS)
def test_wrong_answer_fails_with_a_hint(check, solution, wrong):
    first, second = check(wrong), check(wrong)
    assert first.passed is False and second.passed is False
    assert "Hint" in first.message and "Hint" in second.message
    if "Hint 1 of 2:" in first.message:  # tiered: a nudge first, the formula on the second try
        assert "Hint 2 of 2:" in second.message
    check(solution)  # a pass resets the tiers


@pytest.mark.parametrize("check, solution, wrong", CHECKS)
def test_unsolved_stub_says_not_implemented(check, solution, wrong):
    result = check(stub)
    assert result.passed is None and "not implemented yet" in result.message


def test_a_shape_mistake_is_reported_not_raised():
    result = rl.checks.check_heatmap_argmax(lambda h: torch.zeros(1))
    assert result.passed is False and "shape" in result.message


def test_zeroing_the_heat_maps_in_place_cannot_fool_the_check():
    result = rl.checks.check_heatmap_argmax(lambda h: (h.zero_(), torch.zeros(*h.shape[:2], 2))[1])
    assert result.passed is False and "off by up to" in result.message


def test_a_correct_numpy_answer_passes():
    assert rl.checks.check_heatmap_argmax(lambda h: SOL09.heatmap_argmax(h).numpy()).passed is True
