"""Checks of notebooks 08-09: the reference solution passes, a plausible mistake fails, a stub waits."""

import numpy as np
import pytest

import reslib as rl
from tests.helpers import load_solutions, stub

SOL08, SOL09 = load_solutions("08_densenet"), load_solutions("09_unet_hourglass")


CHECKS = [
    (
        rl.checks.check_dense_block_channels,
        SOL08.dense_block_channels,
        lambda k0, k, n: [k0 + (layer + 1) * k for layer in range(n + 1)],
    ),  # off by one layer
    (
        rl.checks.check_transition_parameters,
        SOL08.transition_parameters,
        lambda m, theta: m * int(theta * m),
    ),  # forgets BN's scale and shift
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
    as_array = lambda k0, k, n: np.array([k0 + i * k for i in range(n + 1)])
    assert rl.checks.check_dense_block_channels(as_array).passed is True
