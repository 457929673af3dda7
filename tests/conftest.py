"""Shared fixtures: seeds and small inputs. Browser tests run last (they are the slowest)."""

from __future__ import annotations

import os

import pytest
import torch

import reslib as rl

# Unit tests push tiny tensors, where a second intra-op thread only adds hand-offs; on a busy machine
# each hand-off can wait out a time slice. On 2 shared cores the suite took 51-61 s with torch's
# default 2 threads (a different set of tests over 3 s in each run) and 11 s with 1.
# An OMP_NUM_THREADS set by the caller still wins.
if "OMP_NUM_THREADS" not in os.environ:
    torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    rl.set_seed(0)


@pytest.fixture(scope="session")
def data() -> rl.data.TensorData:
    """The standard MNIST-1D set on the CPU (shipped with the package: loaded in milliseconds)."""
    return rl.data.mnist1d(device="cpu")


@pytest.fixture(scope="session")
def small_data(data: rl.data.TensorData) -> rl.data.TensorData:
    """The first 500 training and 200 test signals."""
    return rl.data.TensorData(
        data.x_train[:500], data.y_train[:500], data.x_test[:200], data.y_test[:200], data.num_classes
    )


@pytest.fixture
def batch(data: rl.data.TensorData) -> tuple[torch.Tensor, torch.Tensor]:
    return data.x_train[:64], data.y_train[:64]
