"""Shared fixtures: seeds and small inputs. Browser tests run last (they are the slowest)."""

from __future__ import annotations

import pytest
import torch

import reslib as rl


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    rl.set_seed(0)


@pytest.fixture(scope="session")
def data() -> rl.data.TensorData:
    """The standard MNIST-1D set on the CPU (generated once per session, ~1 s)."""
    return rl.data.mnist1d(device="cpu")


@pytest.fixture(scope="session")
def small_data(data: rl.data.TensorData) -> rl.data.TensorData:
    """The first 500 training and 200 test signals."""
    return rl.data.TensorData(data.x_train[:500], data.y_train[:500], data.x_test[:200],
                              data.y_test[:200], data.num_classes)


@pytest.fixture
def batch(data: rl.data.TensorData) -> tuple[torch.Tensor, torch.Tensor]:
    return data.x_train[:64], data.y_train[:64]
