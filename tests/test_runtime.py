import numpy as np
import pytest
import torch

import reslib as rl


def test_set_seed_makes_torch_numpy_and_python_repeat():
    import random

    rl.set_seed(123)
    a = (torch.randn(3), np.random.rand(3), random.random())
    rl.set_seed(123)
    b = (torch.randn(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_set_seed_returns_a_seeded_generator():
    g1, g2 = rl.set_seed(7), rl.set_seed(7)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))


@pytest.mark.parametrize("seed", [np.int64(3), np.uint32(3), np.int8(3)])
def test_set_seed_accepts_numpy_integers(seed):
    # its own check allowed np.integer, then random.seed(np.int64(3)) raised a TypeError
    import random

    g = rl.set_seed(seed)
    a = (torch.randn(2), np.random.rand(), random.random(), torch.rand(2, generator=g))
    rl.set_seed(3)
    b = (torch.randn(2), np.random.rand(), random.random(), torch.rand(2, generator=rl.set_seed(3)))
    assert torch.equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2] and torch.equal(a[3], b[3])


@pytest.mark.parametrize(
    "bad, error",
    [(-1, ValueError), (2**64, ValueError), (1.5, TypeError), ("0", TypeError), (True, TypeError)],
)
def test_set_seed_rejects_bad_seeds(bad, error):
    with pytest.raises(error, match="seed"):
        rl.set_seed(bad)


def test_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert rl.device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert rl.device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert rl.device() == torch.device("cpu")
