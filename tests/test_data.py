import numpy as np
import pytest
import torch

import reslib as rl


def test_mnist1d_standard_split(data):
    assert data.x_train.shape == (4000, 40) and data.x_test.shape == (1000, 40)
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert data.num_classes == 10 and data.num_features == 40
    assert set(data.y_train.unique().tolist()) == set(range(10))
    # standardised over the whole set: mean 0, std 1
    x = torch.cat([data.x_train, data.x_test])
    assert abs(x.mean().item()) < 1e-4 and abs(x.std().item() - 1) < 1e-3


def test_mnist1d_is_cached_and_deterministic():
    a = rl.data.mnist1d(num_samples=200, seed=1, device="cpu")
    assert rl.data.mnist1d(num_samples=200, seed=1, device="cpu") is a
    rl.data._mnist1d_tensors.cache_clear()
    rl.data._mnist1d_numpy.cache_clear()
    b = rl.data.mnist1d(num_samples=200, seed=1, device="cpu")
    assert b is not a and torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    c = rl.data.mnist1d(num_samples=200, seed=2, device="cpu")
    assert not torch.equal(a.x_train, c.x_train)


def test_mnist1d_leaves_numpy_global_rng_alone():
    np.random.seed(5)
    expected = np.random.rand()
    np.random.seed(5)
    rl.data.mnist1d(num_samples=100, seed=3, device="cpu")
    assert np.random.rand() == expected


def test_mnist1d_never_downloads(monkeypatch):
    import mnist1d.data

    def no_network(*args, **kwargs):
        raise AssertionError("reslib must not call get_dataset (it downloads a pickle)")

    monkeypatch.setattr(mnist1d.data, "get_dataset", no_network)
    monkeypatch.setattr(mnist1d.data.requests, "get", no_network)
    rl.data.mnist1d(num_samples=120, seed=9, device="cpu")


def test_tensordata_to_and_repr(small_data):
    moved = small_data.to("cpu")
    assert torch.equal(moved.x_test, small_data.x_test)
    assert "train=(500, 40)" in repr(small_data)


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_samples=15), "multiple of 10"),
    (dict(num_samples=10), ">= 20"),
    (dict(train_split=1.0), "train_split"),
    (dict(seed=-1), "seed"),
])
def test_mnist1d_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rl.data.mnist1d(**kwargs)


def test_mnist1d_rejects_non_int_num_samples():
    with pytest.raises(TypeError, match="num_samples"):
        rl.data.mnist1d(num_samples=100.0)
