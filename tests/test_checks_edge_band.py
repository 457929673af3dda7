"""Notebook 09's edge-band check: the reference solution passes, a plausible mistake fails, a stub waits.

(The value checks of notebooks 08-09 are tested in test_checks_densenet.py and test_checks_unet.py.)
"""

import pytest

import reslib as rl
from tests.helpers import load_solutions, stub

SOL09 = load_solutions("09_unet_hourglass")


CHECKS = [
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


def test_a_correct_numpy_answer_passes():
    assert rl.checks.check_edge_band(lambda m, w: SOL09.edge_band(m, w).numpy()).passed is True
