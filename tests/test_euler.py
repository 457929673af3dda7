"""The Euler view: trajectories converge with depth for residual nets only."""

import numpy as np
import pytest

from reslib.euler import euler_trajectory


def _final(depth, residual):
    return euler_trajectory(depth, residual).states[-1]


def test_residual_trajectories_converge_like_euler_steps_and_plain_ones_do_not():
    res = [np.abs(_final(L, True) - _final(2 * L, True)).max() for L in (8, 64)]
    plain = [np.abs(_final(L, False) - _final(2 * L, False)).max() for L in (8, 64)]
    assert 6 < res[0] / res[1] < 10  # error O(1/L): 8x the depth, about 1/8 the change
    assert plain[1] > 1.0  # still jumping around


def test_trajectory_shapes_times_and_seed():
    t = euler_trajectory(5, n_inputs=3, width=7)
    assert t.states.shape == (6, 3, 7) and t.times[0] == 0 and t.times[-1] == 1
    assert np.array_equal(t.states, euler_trajectory(5, n_inputs=3, width=7).states)
    assert not np.array_equal(t.states, euler_trajectory(5, n_inputs=3, width=7, seed=1).states)
    np.testing.assert_allclose(
        euler_trajectory(1, False, n_inputs=3, width=7).states[0], t.states[0]
    )  # same inputs


@pytest.mark.parametrize(
    "call, error, says",
    [
        (lambda: euler_trajectory(0), ValueError, "depth"),
        (lambda: euler_trajectory(4, residual=1), TypeError, "residual"),
        (lambda: euler_trajectory(4, gain=float("nan")), ValueError, "gain"),
        (lambda: euler_trajectory(4, gain=0.0), ValueError, "gain"),
        (lambda: euler_trajectory(100_000, n_inputs=10_000, width=4096), ValueError, "depth"),
    ],
)
def test_bad_input_is_refused(call, error, says):
    with pytest.raises(error, match=says):
        call()
