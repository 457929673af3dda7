import random

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
    again = rl.data.mnist1d(num_samples=200, seed=1, device="cpu")
    assert again is not a and torch.equal(again.x_train, a.x_train)
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


def test_mnist1d_leaves_python_global_rng_alone():
    # mnist1d's own set_seed calls random.seed(42); the first (uncached) call used to leave it so
    rl.data._mnist1d_numpy.cache_clear()
    rl.data._mnist1d_tensors.cache_clear()
    random.seed(0)
    state = random.getstate()
    rl.data.mnist1d(num_samples=100, seed=3, device="cpu")
    assert random.getstate() == state


def test_mnist1d_copies_are_independent():
    # an in-place edit of one call's tensors used to reach the cache, so every later call saw it
    first = rl.data.mnist1d(num_samples=100, seed=4, device="cpu")
    kept = first.x_train.clone()
    first.x_train.mul_(0)
    first.y_train.fill_(0)
    second = rl.data.mnist1d(num_samples=100, seed=4, device="cpu")
    assert torch.equal(second.x_train, kept) and second.y_train.unique().numel() > 1


def test_mnist1d_is_the_same_data_set_as_before(data):
    # the notebooks' stored outputs depend on these exact signals (fingerprint of the default set)
    assert data.y_train[:10].tolist() == [2, 6, 4, 5, 6, 6, 6, 0, 3, 1]
    assert abs(data.x_train.double().sum().item() - (-51.7874697859)) < 1e-3
    assert data.x_test[0, :3].tolist() == pytest.approx([-0.0787708, -0.2107317, -0.0917514], abs=1e-6)


def test_mnist1d_refuses_a_size_that_would_hang_and_keeps_its_cache_bounded():
    for too_many in (10**7, 25_010):  # 10**7 hung (the generator is a Python loop); 100,000 took 48 s
        with pytest.raises(ValueError, match=r"num_samples must be an int in \[20, 25000\]"):
            rl.data.mnist1d(num_samples=too_many)
    rl.data.mnist1d(num_samples=100, seed=5, device="cpu")
    assert 0 < rl.data._mnist1d_tensors.cache_bytes() <= 64 * 2**20
    assert 0 < rl.data._mnist1d_numpy.cache_bytes() <= 64 * 2**20


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


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_samples=15), "multiple of 10"),
        (dict(num_samples=10), r"in \[20, 25000\]"),
        (dict(train_split=1.0), "train_split"),
        (dict(seed=-1), "seed"),
    ],
)
def test_mnist1d_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rl.data.mnist1d(**kwargs)


def test_mnist1d_rejects_non_int_num_samples():
    with pytest.raises(TypeError, match="num_samples"):
        rl.data.mnist1d(num_samples=100.0)


# --- cifar10: the binary distribution, on a tiny fixture written here -------------------------


def _write_cifar(folder, per_batch=4, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    records = {}
    for name in names:
        labels = rng.integers(0, 10, per_batch, dtype=np.uint8)
        pixels = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        pixels[:, 0] = 255  # red plane, first pixel
        pixels[:, 1024] = 0  # green plane, first pixel
        np.concatenate([labels[:, None], pixels], axis=1).tofile(folder / name)
        records[name] = (labels, pixels)
    return records


def test_cifar10_reads_the_binary_format(tmp_path):
    import numpy as np

    records = _write_cifar(tmp_path)
    data = rl.data.cifar10(tmp_path, device="cpu")
    assert data.x_train.shape == (20, 3, 32, 32) and data.x_test.shape == (4, 3, 32, 32)
    want_y = np.concatenate([records[f"data_batch_{i}.bin"][0] for i in range(1, 6)])
    assert data.y_train.tolist() == want_y.tolist() and data.y_train.dtype == torch.int64
    assert data.y_test.tolist() == records["test_batch.bin"][0].tolist()
    # channel planes land in the right place: red pixel (0, 0) is the max, green (0, 0) the min
    assert torch.all(data.x_train[:, 0, 0, 0] == data.x_train[:, 0].amax(dim=(1, 2)))
    assert torch.all(data.x_train[:, 1, 0, 0] == data.x_train[:, 1].amin(dim=(1, 2)))
    # standardised with the training set's per-channel statistics
    torch.testing.assert_close(data.x_train.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(data.x_train.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-4, rtol=0)
    assert data.num_classes == 10
    assert rl.data.cifar10(tmp_path, device="cpu", num_train=7).x_train.shape[0] == 7


def test_cifar10_reads_the_folder_from_the_environment(tmp_path, monkeypatch):
    _write_cifar(tmp_path, per_batch=2)
    monkeypatch.setenv(rl.data.CIFAR10_ENV, str(tmp_path))
    assert rl.data.cifar10(device="cpu").x_train.shape[0] == 10


def test_cifar10_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.delenv(rl.data.CIFAR10_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="RESLIB_CIFAR10"):
        rl.data.cifar10()
    with pytest.raises(FileNotFoundError, match="data_batch_1.bin.*binary"):
        rl.data.cifar10(tmp_path)
    _write_cifar(tmp_path)
    (tmp_path / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="not a CIFAR-10 binary batch"):
        rl.data.cifar10(tmp_path, device="cpu")
    # sizes are checked before reading: a truncated file, or one far larger than a real batch
    _write_cifar(tmp_path)
    with open(tmp_path / "data_batch_2.bin", "r+b") as f:
        f.truncate(3 * 3073 - 5)  # cut mid-record
    with pytest.raises(ValueError, match=r"data_batch_2.bin is not a CIFAR-10 binary batch: 9214 bytes"):
        rl.data.cifar10(tmp_path, device="cpu")
    with open(tmp_path / "data_batch_2.bin", "r+b") as f:
        f.truncate(10_001 * 3073)  # sparse: a whole record too many, never read
    with pytest.raises(ValueError, match="at most 10000 images"):
        rl.data.cifar10(tmp_path, device="cpu")
    with pytest.raises(ValueError, match="num_train"):
        _write_cifar(tmp_path)
        rl.data.cifar10(tmp_path, device="cpu", num_train=0)


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(x_train=None), TypeError, "TensorData: x_train must be a torch.Tensor, got NoneType"),
        (dict(x_test=torch.zeros(4, 3, dtype=torch.complex64)), TypeError, "x_test must hold a floating"),
        (dict(x_train=torch.zeros(4)), ValueError, r"x_train must have shape \(N, ...\)"),
        (dict(y_train=torch.zeros(4)), TypeError, "y_train must hold integer labels"),
        (dict(y_test=torch.zeros(3, dtype=torch.long)), ValueError, "x_test has 4 examples but y_test 3"),
        (dict(x_test=torch.zeros(4, 2)), ValueError, "the same shape per example"),
        (
            dict(y_train=torch.tensor([0, 1, 2, 3])),
            ValueError,
            r"\[0, num_classes=3\), got labels from 0 to 3",
        ),
        (dict(y_test=torch.tensor([0, -1, 0, 0])), ValueError, "got labels from -1 to 2"),
        (dict(num_classes=True), TypeError, "num_classes must be an int"),
        (dict(num_classes=1), ValueError, "num_classes must be an int >= 2"),
    ],
)
def test_tensordata_refuses_what_would_fail_later(change, error, match):
    # TensorData(None, ...) used to build, and then its repr raised
    parts = dict(
        x_train=torch.zeros(4, 3),
        y_train=torch.tensor([0, 1, 2, 1]),
        x_test=torch.zeros(4, 3),
        y_test=torch.tensor([0, 1, 2, 1]),
        num_classes=3,
    )
    assert "train=(4, 3)" in repr(rl.data.TensorData(**parts))
    with pytest.raises(error, match=match):
        rl.data.TensorData(**(parts | change))
