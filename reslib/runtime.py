"""Seeds and devices: the two things every notebook sets up first."""

from __future__ import annotations

import random

import numpy as np
import torch

from reslib.argtypes import typechecked
from reslib.core import check_int

__all__ = ["set_seed", "device"]


@typechecked
def set_seed(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and every GPU) for a reproducible run.

    Args:
        seed: an integer in [0, 2**64 - 1] (torch's range); NumPy integers too.

    Returns:
        A fresh `torch.Generator` seeded with `seed`, for code that wants its own stream.
    """
    seed = check_int("seed", seed, minimum=0, maximum=2**64 - 1)  # an int, also from a NumPy integer
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(int(seed))


@typechecked
def device() -> torch.device:
    """The best device on this machine: CUDA when available, else Apple's MPS, else the CPU.

    Every notebook asks this function instead of naming a device, so the same
    notebook runs on a laptop and on a GPU server.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
