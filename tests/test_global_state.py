"""No library call changes a global random generator (issue 15); only `rl.set_seed` seeds.

Each call that takes a `seed` draws from its own generator: Python's `random`, NumPy's and
torch's global states are the same after it as before, and no GPU generator is reseeded
(`torch.manual_seed` reseeds every CUDA device even inside `fork_rng(devices=[])`).
"""

import random

import numpy as np
import pytest
import torch

import reslib as rl


def _states():
    return random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state()


def _no_gpu_reseed(*args, **kwargs):
    raise AssertionError("a library call reseeded the GPU generators (torch.manual_seed)")


CALLS = {
    "mnist1d (uncached)": lambda: (
        rl.data._mnist1d_numpy.cache_clear(),
        rl.data._mnist1d_tensors.cache_clear(),
        rl.data.mnist1d(num_samples=100, seed=8, device="cpu"),
    ),
    "variance_profile": lambda: rl.variance.variance_profile(3, width=8, seed=5),
    "branch_share": lambda: rl.variance.branch_share(3, width=8, seed=5),
    "shortcut_gradients": lambda: rl.preact.shortcut_gradients(3, 1.0, width=8, batch_size=4, seed=9),
    "gradient_flow": lambda: rl.gradients.gradient_flow(
        3, "relu", torch.zeros(4, 40), torch.zeros(4, dtype=torch.int64), width=8, seed=5
    ),
    "shattering": lambda: rl.shattering.shattering(3, residual=True, width=8, n_inputs=16, seed=5),
    "shattering_net": lambda: rl.shattering.shattering_net(3, residual=True, width=8, seed=5),
    "running_stats_trace": lambda: rl.batchnorm.running_stats_trace(8, 0.1, steps=5, seed=5),
    "segmentation": lambda: rl.scenes.segmentation(n=2, size=16, seed=5),
    "keypoints": lambda: rl.scenes.keypoints(n=2, size=16, seed=5),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_library_calls_leave_every_global_rng_alone(name, monkeypatch):
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    monkeypatch.setattr(torch.cuda, "manual_seed_all", _no_gpu_reseed)
    monkeypatch.setattr(torch.cuda, "manual_seed", _no_gpu_reseed)
    before = _states()
    CALLS[name]()
    after = _states()
    assert after[0] == before[0], f"{name} changed Python's random state"
    assert np.array_equal(after[1], before[1]), f"{name} changed NumPy's global state"
    assert torch.equal(after[2], before[2]), f"{name} changed torch's global CPU state"


def test_fit_draws_its_order_from_its_own_generator(small_data):
    model = rl.mlp.mlp(1, 8, 40, 10)  # no dropout: training itself draws nothing
    before = _states()
    rl.train.fit(model, small_data, epochs=1, lr=0.1, progress=False, seed=4)
    after = _states()
    assert after[0] == before[0] and np.array_equal(after[1], before[1]) and torch.equal(after[2], before[2])
