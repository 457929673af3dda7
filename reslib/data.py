"""Data sets the series trains on, made on the spot: nothing is downloaded.

MNIST-1D (Greydanus, 2020) is a 1-D analogue of MNIST: ten digit templates of
12 points, padded, scaled, translated, sheared and noised into signals of 40
points. Small enough to train a 30-layer network on a laptop CPU in seconds,
hard enough that depth, skips and normalisation make a visible difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from reslib.runtime import device as default_device

__all__ = ["TensorData", "mnist1d"]


@dataclass(frozen=True)
class TensorData:
    """A classification data set as four tensors on one device.

    Shape:
        x_train: (N_train, D) float32; y_train: (N_train,) int64;
        x_test: (N_test, D) float32; y_test: (N_test,) int64.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def num_features(self) -> int:
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


@lru_cache(maxsize=8)
def _mnist1d_numpy(num_samples: int, seed: int, train_split: float) -> tuple[np.ndarray, ...]:
    # Imported here: mnist1d pulls in scipy and matplotlib, which `import reslib` should not pay for.
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed, args.train_split = num_samples, seed, train_split
    # make_dataset reseeds NumPy's global generator; give the caller theirs back.
    state = np.random.get_state()
    try:
        d = make_dataset(args)  # generated from the templates: no download, no pickle
    finally:
        np.random.set_state(state)
    return d["x"], d["y"], d["x_test"], d["y_test"]


@lru_cache(maxsize=8)
def _mnist1d_tensors(num_samples: int, seed: int, train_split: float, device: str) -> TensorData:
    x, y, x_test, y_test = _mnist1d_numpy(num_samples, seed, train_split)
    as_x = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
    as_y = lambda a: torch.as_tensor(a, dtype=torch.int64, device=device)  # noqa: E731
    return TensorData(as_x(x), as_y(y), as_x(x_test), as_y(y_test), num_classes=10)


def mnist1d(
    num_samples: int = 5000,
    seed: int = 42,
    train_split: float = 0.8,
    device: torch.device | str | None = None,
) -> TensorData:
    """MNIST-1D generated with `mnist1d.data.make_dataset`, as tensors on `device`.

    The defaults give the standard set: 4,000 training and 1,000 test signals of
    40 points, standardised to mean 0 and standard deviation 1. The result is
    cached in memory, so calling this again is free; treat the tensors as read-only.

    Args:
        num_samples: signals in total, a multiple of 10 (one tenth per digit).
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
    if isinstance(num_samples, bool) or not isinstance(num_samples, int):
        raise TypeError(f"num_samples must be an int, got {type(num_samples).__name__}")
    if num_samples < 20 or num_samples % 10:
        raise ValueError(f"num_samples must be a multiple of 10 and >= 20, got {num_samples}")
    if not 0.0 < train_split < 1.0:
        raise ValueError(f"train_split must be in (0, 1), got {train_split}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    dev = torch.device(device) if device is not None else default_device()
    return _mnist1d_tensors(num_samples, seed, float(train_split), str(dev))
