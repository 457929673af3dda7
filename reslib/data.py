"""Data sets the series trains on, made on the spot: nothing is downloaded.

MNIST-1D (Greydanus, 2020) is a 1-D analogue of MNIST: ten digit templates of
12 points, padded, scaled, translated, sheared and noised into signals of 40
points. Small enough to train a 30-layer network on a laptop CPU in seconds,
hard enough that depth, skips and normalisation make a visible difference.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reslib.runtime import byte_cache
from reslib.runtime import device as best_device
from reslib.validate import require_device, require_float, require_int, require_tensor, typechecked

__all__ = [
    "CACHE_ENV",
    "CIFAR10_ENV",
    "MAX_MNIST1D_SAMPLES",
    "SHIPPED_MNIST1D",
    "STANDARD_MNIST1D",
    "TensorData",
    "cache_dir",
    "cifar10",
    "mnist1d",
    "require_clean",
]


@dataclass(frozen=True)
class TensorData:
    """A classification data set as four tensors on one device.

    Shape:
        x_train: (N_train, ...) float32, one example per row of axis 0: (N, 40) for MNIST-1D,
        (N, 1, 40) with a channel axis for 1-D convolutions, (N, 3, 32, 32) for CIFAR-10;
        y_train: (N_train,) int64; x_test, y_test: the same for the N_test test examples.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    def __post_init__(self) -> None:
        """Refuse, on construction, what would fail later (in `repr`, `fit` or `evaluate`)."""
        for name in ("x_train", "x_test"):
            x = require_tensor(f"TensorData: {name}", getattr(self, name), dtype="float")
            if x.ndim < 2:
                raise ValueError(
                    f"TensorData: {name} must have shape (N, ...), one example per row, got "
                    f"{tuple(x.shape)}; index one example as {name}[None]"
                )
        for name in ("y_train", "y_test"):
            require_tensor(
                f"TensorData: {name}", getattr(self, name), ndim=1, dtype="label", fix="one label per example"
            )
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if len(x) != len(y):
                raise ValueError(
                    f"TensorData: x_{split} has {len(x)} examples but y_{split} {len(y)}; "
                    "give one label per example"
                )
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(
                f"TensorData: x_train {tuple(self.x_train.shape)} and x_test {tuple(self.x_test.shape)} "
                "must have the same shape per example"
            )
        devices = {t.device for t in (self.x_train, self.y_train, self.x_test, self.y_test)}
        if len(devices) > 1:
            raise ValueError(f"TensorData: the tensors are on {sorted(map(str, devices))}; use one device")
        require_int("TensorData: num_classes", self.num_classes, minimum=2)
        if self.y_train.device.type != "meta":  # one read of the labels: construction, not a loop
            low, high = torch.stack(torch.cat([self.y_train, self.y_test]).long().aminmax()).tolist()
            if low < 0 or high >= self.num_classes:
                raise ValueError(
                    f"TensorData: labels must be class indices in [0, num_classes={self.num_classes}), "
                    f"got labels from {low} to {high}; pass num_classes={max(high + 1, 2)} or fix the labels"
                )

    @property
    def num_features(self) -> int:
        """The size of axis 1: the features D of (N, D) data, the channels C of (N, C, ...) data."""
        return self.x_train.shape[1]

    def to(self, device: torch.device | str) -> TensorData:
        """The same data on another device."""
        return TensorData(
            self.x_train.to(device),
            self.y_train.to(device),
            self.x_test.to(device),
            self.y_test.to(device),
            self.num_classes,
        )

    def __repr__(self) -> str:
        return (
            f"TensorData(train={tuple(self.x_train.shape)}, test={tuple(self.x_test.shape)}, "
            f"num_classes={self.num_classes}, device={self.x_train.device.type})"
        )


@typechecked
def require_clean(
    tensors: Mapping[str, torch.Tensor], labels: Sequence[str] = (), classes: int | None = None
) -> int:
    """Refuse NaN and infinity in `tensors`, and labels that are not class indices.

    What `reslib.train.fit` and `evaluate` check first, so that NaN data never trains into
    plausible numbers. One read of the device for all the tensors together: for a call's
    inputs, never inside a loop.

    Args:
        tensors: the tensors by the name the caller passed them as ("data.x_train").
        labels: the names, among `tensors`, that hold class indices: >= 0, and < `classes`.
        classes: the number of classes, >= 2; None checks only that labels are >= 0.

    Returns:
        The largest label (-1 if `labels` is empty).

    Raises:
        TypeError: a complex tensor.
        ValueError: a tensor on the meta device, NaN or infinity, or a label out of range.
    """
    if classes is not None:
        require_int("classes", classes, minimum=2, fix="or None to check only that labels are >= 0")
    if isinstance(labels, str) or any(n not in tensors for n in labels):
        raise ValueError(f"labels must name tensors of `tensors`, some of {list(tensors)}, got {labels!r}")
    stats = []
    for name, t in tensors.items():
        require_tensor(name, t, nonempty=False)
        if t.device.type == "meta":
            raise ValueError(f"{name} is on the meta device and holds no values; pass real data")
        if t.is_complex():
            raise TypeError(f"{name} holds complex numbers ({t.dtype}); pass real data, e.g. {name}.real")
        bad = (
            (~t.isfinite()).sum()
            if t.is_floating_point()
            else torch.zeros((), dtype=torch.long, device=t.device)
        )
        low, high = t.long().aminmax() if name in labels and t.numel() else (bad, bad)
        # gathered on the first tensor's device: a .cpu() per tensor would wait for a GPU each time
        stats.append(torch.stack([bad.long(), low, high]).to(stats[0].device if stats else t.device))
    found = torch.stack(stats).tolist() if stats else []  # the one read
    for (name, t), (bad, low, high) in zip(tensors.items(), found, strict=True):
        if bad:
            raise ValueError(
                f"{name} holds NaN or infinity ({bad} of {t.numel()} values); clean the data first, "
                f"e.g. {name}.nan_to_num(), or drop those examples"
            )
        if name in labels and (low < 0 or (classes is not None and high >= classes)):
            expected = ">= 0" if classes is None else f"in [0, {classes})"
            raise ValueError(f"{name} must hold class indices {expected}, got labels from {low} to {high}")
    return max((found[i][2] for i, name in enumerate(tensors) if name in labels), default=-1)


CACHE_ENV = "RESLIB_CACHE"  # a folder that overrides where generated data are kept (the tests use one)
# The most signals one mnist1d() call generates: ~0.35 ms each on 2 loaded cores (20,000 in 7.5 s),
# so 25,000 take about 10 s; the series uses the standard 5,000.
MAX_MNIST1D_SAMPLES = 25_000
CACHE_FILES = 8  # MNIST-1D sets kept on disk, the most recently used; the standard set is 1.3 MB


def cache_dir() -> Path:
    """Where generated data sets are kept between sessions: `$RESLIB_CACHE`, else ~/.reslib/cache."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else Path.home() / ".reslib" / "cache"


def _mnist1d_file(num_samples: int, seed: int, train_split: float) -> Path:
    from importlib.metadata import version

    return cache_dir() / f"mnist1d-{version('mnist1d')}-n{num_samples}-s{seed}-t{train_split!r}.npz"


# The standard set (the defaults of `mnist1d`), as the pinned mnist1d generates it, ships with the package:
# a fresh machine (Binder, Colab, CI) loads it in milliseconds instead of generating it (~1.6 s, and scipy and
# matplotlib imported). Written by `python -m tools.mnist1d_file`; tests/test_data_cache.py checks it is
# exactly what generation gives. Only used while the installed mnist1d is the version that made it.
STANDARD_MNIST1D = (5000, 42, 0.8)
_SHIPPED_VERSION = "0.0.2.post1"
SHIPPED_MNIST1D = Path(__file__).parent / "assets" / f"mnist1d-{_SHIPPED_VERSION}-standard.npz"


def _shipped(num_samples: int, seed: int, train_split: float) -> tuple[np.ndarray, ...] | None:
    """The shipped standard set, or None for another set or another mnist1d version."""
    from importlib.metadata import version

    if (num_samples, seed, train_split) != STANDARD_MNIST1D or version("mnist1d") != _SHIPPED_VERSION:
        return None
    return _read_cached(SHIPPED_MNIST1D, num_samples, touch=False)


def _read_cached(path: Path, num_samples: int, touch: bool = True) -> tuple[np.ndarray, ...] | None:
    """The four arrays from a cache file, or None if it is missing, unreadable or not what we wrote."""
    try:
        with np.load(path, allow_pickle=False) as f:  # arrays only: a file cannot run code
            arrays = tuple(f[k] for k in ("x", "y", "x_test", "y_test"))
    except (OSError, ValueError, KeyError, EOFError):
        return None
    x, y, x_test, y_test = arrays
    if not (
        x.ndim == x_test.ndim == 2
        and y.ndim == y_test.ndim == 1
        and len(x) + len(x_test) == num_samples
        and x.dtype.kind == x_test.dtype.kind == "f"
        and y.dtype.kind == y_test.dtype.kind in "iu"
        and len(x) == len(y)
        and len(x_test) == len(y_test)
    ):
        return None
    if touch:
        os.utime(path)  # recently used: the last to be dropped
    return arrays


def _write_cached(path: Path, arrays: tuple[np.ndarray, ...]) -> None:
    """Keep `arrays` in `path` (written whole or not at all), then drop all but the newest files."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial.npz")
        np.savez(partial, **dict(zip(("x", "y", "x_test", "y_test"), arrays, strict=True)))
        os.replace(partial, path)
        kept = sorted(path.parent.glob("mnist1d-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[CACHE_FILES:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only home, a full disk: generate again next time


@byte_cache(64 * 2**20)  # the standard set is 1.6 MB
def _mnist1d_numpy(num_samples: int, seed: int, train_split: float) -> tuple[np.ndarray, ...]:
    """The set: from memory, the package (the standard set), the disk cache, or generated (~1.6 s)."""
    shipped = _shipped(num_samples, seed, train_split)
    if shipped is not None:
        return shipped
    path = _mnist1d_file(num_samples, seed, train_split)
    cached = _read_cached(path, num_samples)
    if cached is None:
        cached = _generate_mnist1d(num_samples, seed, train_split)
        _write_cached(path, cached)
    return cached


def _generate_mnist1d(num_samples: int, seed: int, train_split: float) -> tuple[np.ndarray, ...]:
    # Imported here: mnist1d pulls in scipy and matplotlib, which `import reslib` should not pay for.
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed, args.train_split = num_samples, seed, train_split
    # make_dataset reseeds Python's and NumPy's global generators; give the caller theirs back.
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        d = make_dataset(args)  # generated from the templates: no download, no pickle
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return d["x"], d["y"], d["x_test"], d["y_test"]


@byte_cache(64 * 2**20)
def _mnist1d_tensors(num_samples: int, seed: int, train_split: float, device: str) -> TensorData:
    x, y, x_test, y_test = _mnist1d_numpy(num_samples, seed, train_split)
    as_x = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)
    as_y = lambda a: torch.as_tensor(a, dtype=torch.int64, device=device)
    return TensorData(as_x(x), as_y(y), as_x(x_test), as_y(y_test), num_classes=10)


@typechecked
def mnist1d(
    num_samples: int = 5000,
    seed: int = 42,
    train_split: float = 0.8,
    device: torch.device | str | None = None,
) -> TensorData:
    """MNIST-1D generated with `mnist1d.data.make_dataset`, as tensors on `device`.

    The defaults give the standard set: 4,000 training and 1,000 test signals of
    40 points, standardised to mean 0 and standard deviation 1. It ships with the package
    (`SHIPPED_MNIST1D`, exactly what the pinned mnist1d generates, as float32), so every
    notebook loads it in milliseconds. Any other set is generated once and cached, in memory
    and on disk (`cache_dir()`: NumPy's `.npz`, no pickle; the `CACHE_FILES` most recently
    used sets), so the next call loads it instead of generating it again (~1.6 s for 5,000
    signals). Each call returns fresh copies, so a caller may
    change its tensors in place without affecting the next call. No global random generator is
    changed.

    Args:
        num_samples: signals in total, a multiple of 10 (one tenth per digit), at most
            `MAX_MNIST1D_SAMPLES` (25,000: about 10 s to generate; 100,000 took 48 s).
        seed: seed of the generator; the same seed gives the same data.
        train_split: the fraction used for training, in (0, 1).
        device: where the tensors live; by default `reslib.device()`.

    Note:
        `mnist1d.data.get_dataset` is never used: it downloads a pickle, and
        unpickling a file from the network can run arbitrary code.

    References:
        Greydanus, "Scaling down deep learning with MNIST-1D", 2020.
        https://arxiv.org/abs/2011.14439
    """
    require_int(
        "num_samples",
        num_samples,
        minimum=20,
        maximum=MAX_MNIST1D_SAMPLES,
        fix="a multiple of 10: one tenth per digit (the generator is a Python loop, ~0.35 ms a signal)",
    )
    if num_samples % 10:
        raise ValueError(
            f"num_samples must be a multiple of 10 (one tenth per digit), got {num_samples}; "
            f"use {round(num_samples, -1)}"
        )
    require_float("train_split", train_split, 0.0, 1.0, strict_minimum=True)
    if train_split == 1.0:
        raise ValueError("train_split must be below 1, got 1.0: that would leave no test examples")
    require_int("seed", seed, 0, 2**32 - 1, fix="mnist1d seeds NumPy, whose seeds are 32-bit")
    dev = require_device("device", device) or best_device()
    d = _mnist1d_tensors(num_samples, seed, float(train_split), str(dev))
    # copies: an in-place edit (x.mul_(0)) must not reach the cache and every later call
    return TensorData(d.x_train.clone(), d.y_train.clone(), d.x_test.clone(), d.y_test.clone(), 10)


CIFAR10_ENV = "RESLIB_CIFAR10"
_CIFAR_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
_CIFAR_TEST = "test_batch.bin"
_RECORD = 1 + 3 * 32 * 32  # one label byte, then 1024 red, 1024 green, 1024 blue pixel bytes


_BATCH_RECORDS = 10_000  # images per file of the real distribution


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    size = path.stat().st_size  # checked before reading: a huge or truncated file fails here
    if size == 0 or size % _RECORD or size > _BATCH_RECORDS * _RECORD:
        raise ValueError(
            f"{path} is not a CIFAR-10 binary batch: {size} bytes is not a positive multiple of "
            f"{_RECORD} (1 label byte + 3072 pixel bytes per image) of at most {_BATCH_RECORDS} "
            f"images ({_BATCH_RECORDS * _RECORD} bytes, the size of each real batch file)"
        )
    raw = np.fromfile(path, dtype=np.uint8)
    records = raw.reshape(-1, _RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise ValueError(f"{path} has a label byte {labels.max()} > 9: not the CIFAR-10 binary format")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


@typechecked
def cifar10(
    root: str | os.PathLike | None = None,
    device: torch.device | str | None = None,
    num_train: int | None = None,
) -> TensorData:
    r"""CIFAR-10 from its *binary* distribution in a local folder; never downloads, never unpickles.

    Reads `data_batch_1.bin` ... `data_batch_5.bin` and `test_batch.bin` (the folder
    `cifar-10-batches-bin` of `cifar-10-binary.tar.gz`): each record is one label byte and
    3072 pixel bytes (red, green, blue planes of 32x32, row-major). Pixels are scaled to
    [0, 1] and standardised per channel with the training set's statistics,
    $\hat{x}_c = (x_c - \mu_c) / \sigma_c$.

    Args:
        root: the folder with the `.bin` files; by default the environment variable `RESLIB_CIFAR10`.
        device: where the tensors live; by default `reslib.device()`.
        num_train: keep only the first `num_train` training images (all if None).

    Returns:
        `TensorData` with x of shape (N, 3, 32, 32) float32 and y of shape (N,) int64.

    Raises:
        FileNotFoundError: when the folder or a batch file is missing (the message says where to get it).
    """
    if num_train is not None:
        require_int("num_train", num_train, fix="or None for all 50,000")
    dev = require_device("device", device) or best_device()  # before reading 180 MB
    if root is None:
        root = os.environ.get(CIFAR10_ENV)
        if not root:
            raise FileNotFoundError(
                f"no CIFAR-10 folder given: pass root=... or set {CIFAR10_ENV} to the "
                "folder holding data_batch_1.bin ... test_batch.bin"
            )
    folder = Path(root)
    missing = [n for n in (*_CIFAR_TRAIN, _CIFAR_TEST) if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 binary files missing in {folder}: {', '.join(missing)}. Download the *binary "
            "version* (cifar-10-binary.tar.gz) from https://www.cs.toronto.edu/~kriz/cifar.html, "
            "unpack it, and pass its folder cifar-10-batches-bin (reslib never downloads)"
        )
    parts = [_read_cifar_batch(folder / n) for n in _CIFAR_TRAIN]
    x = np.concatenate([p[0] for p in parts])[:num_train]
    y = np.concatenate([p[1] for p in parts])[:num_train]
    x_test, y_test = _read_cifar_batch(folder / _CIFAR_TEST)
    xt = torch.as_tensor(x, device=dev).float() / 255.0  # (N, 3, 32, 32) in [0, 1]
    mean = xt.mean(dim=(0, 2, 3), keepdim=True)
    std = xt.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)

    def norm(a: torch.Tensor) -> torch.Tensor:
        return (a - mean) / std

    x_test_t = torch.as_tensor(x_test, device=dev).float() / 255.0
    return TensorData(
        norm(xt),
        torch.as_tensor(y, device=dev),
        norm(x_test_t),
        torch.as_tensor(y_test, device=dev),
        num_classes=10,
    )
