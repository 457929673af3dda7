"""MNIST-1D: the standard set ships with the package; any other is generated once per machine, and later
sessions load it from `reslib.data.cache_dir()`."""

import numpy as np
import pytest
import torch

import reslib as rl
from reslib import data as rd


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(rd.CACHE_ENV, str(tmp_path / "cache"))
    rd._mnist1d_numpy.cache_clear()  # this session's memory: as in a fresh kernel
    rd._mnist1d_tensors.cache_clear()
    yield tmp_path / "cache"
    rd._mnist1d_numpy.cache_clear()
    rd._mnist1d_tensors.cache_clear()


def _fresh_session():
    rd._mnist1d_numpy.cache_clear()
    rd._mnist1d_tensors.cache_clear()


def _equal(a, b):
    return all(torch.equal(getattr(a, k), getattr(b, k)) for k in ("x_train", "y_train", "x_test", "y_test"))


def test_the_next_session_loads_what_the_first_generated(cache, monkeypatch):
    first = rl.data.mnist1d(100, seed=1, device="cpu")
    files = list(cache.glob("mnist1d-*.npz"))
    assert len(files) == 1 and "n100-s1-" in files[0].name
    _fresh_session()
    monkeypatch.setattr(rd, "_generate_mnist1d", lambda *a: pytest.fail("generated again"))
    assert _equal(rl.data.mnist1d(100, seed=1, device="cpu"), first)


def test_another_seed_or_size_is_another_file(cache):
    a = rl.data.mnist1d(100, seed=1, device="cpu")
    b = rl.data.mnist1d(100, seed=2, device="cpu")
    c = rl.data.mnist1d(200, seed=1, device="cpu")
    assert len(list(cache.glob("mnist1d-*.npz"))) == 3
    assert not torch.equal(a.x_train, b.x_train) and len(c.x_train) == 2 * len(a.x_train)


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(b"not a zip file"),
        lambda p: np.savez(p, x=np.zeros((3, 40)), y=np.zeros(3, dtype=np.int64)),  # arrays missing
        lambda p: np.savez(p, x=np.array([{"a": 1}], dtype=object), y=0, x_test=0, y_test=0),  # a pickle
        lambda p: np.savez(
            p, x=np.zeros((3, 40)), y=np.zeros(3), x_test=np.zeros((1, 40)), y_test=np.zeros(1)
        ),
    ],
)
def test_a_damaged_or_foreign_file_is_generated_again(cache, damage):
    first = rl.data.mnist1d(100, seed=1, device="cpu")
    (path,) = cache.glob("mnist1d-*.npz")
    damage(path)
    _fresh_session()
    assert _equal(rl.data.mnist1d(100, seed=1, device="cpu"), first)
    assert rd._read_cached(path, 100) is not None  # and written back whole


def test_the_cache_keeps_only_the_most_recently_used_sets(cache, monkeypatch):
    monkeypatch.setattr(rd, "CACHE_FILES", 2)
    for seed in (1, 2, 3):
        rl.data.mnist1d(20, seed=seed, device="cpu")
    names = sorted(p.name for p in cache.glob("mnist1d-*.npz"))
    assert len(names) == 2 and not any("-s1-" in n for n in names)


def test_an_unwritable_cache_still_gives_the_data(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(rd.CACHE_ENV, str(blocker / "cache"))  # a folder under a file cannot be made
    _fresh_session()
    data = rl.data.mnist1d(100, seed=1, device="cpu")
    assert data.x_train.shape == (80, 40)
    _fresh_session()


def test_the_standard_set_ships_exactly_as_generated():
    from tools.mnist1d_file import standard_arrays

    fresh = standard_arrays()
    with np.load(rd.SHIPPED_MNIST1D, allow_pickle=False) as shipped:
        assert sorted(shipped.files) == sorted(fresh)
        for name, array in fresh.items():
            assert shipped[name].dtype == array.dtype and np.array_equal(shipped[name], array), (
                f"{rd.SHIPPED_MNIST1D.name}[{name}] is not what mnist1d generates: "
                "run python -m tools.mnist1d_file"
            )


def test_the_standard_set_loads_without_generating_or_writing(cache, monkeypatch):
    monkeypatch.setattr(rd, "_generate_mnist1d", lambda *a: pytest.fail("generated"))
    data = rl.data.mnist1d(device="cpu")
    assert data.x_train.shape == (4000, 40) and data.x_train.dtype == torch.float32
    assert not cache.exists()  # nothing written: the package holds it
    assert rd.SHIPPED_MNIST1D.stat().st_size < 1_000_000  # what every clone of the repository carries


@pytest.mark.parametrize("change", ["another mnist1d", "a damaged file"])
def test_the_standard_set_is_generated_when_the_shipped_file_cannot_serve(
    cache, monkeypatch, tmp_path, change
):
    shipped = rl.data.mnist1d(device="cpu")
    _fresh_session()
    if change == "another mnist1d":  # the pin moved and the file was not rewritten: generate, never mix
        monkeypatch.setattr(rd, "_SHIPPED_VERSION", "0.0.1")
    else:
        bad = tmp_path / "bad.npz"
        bad.write_bytes(b"not a zip file")
        monkeypatch.setattr(rd, "SHIPPED_MNIST1D", bad)
    generated = rl.data.mnist1d(device="cpu")
    assert _equal(generated, shipped)  # the same signals, from the generator
    assert len(list(cache.glob("mnist1d-*.npz"))) == 1  # and cached as any other set


def test_the_shipped_set_is_the_pinned_mnist1d_s():
    """A new mnist1d pin without a new file would fall back to generating (slow, silently): fail here."""
    import tomllib

    pins = tomllib.loads((rd.SHIPPED_MNIST1D.parents[2] / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    assert f"mnist1d=={rd._SHIPPED_VERSION}" in pins, (
        "the mnist1d pin moved: set reslib.data._SHIPPED_VERSION to it and run python -m tools.mnist1d_file"
    )
