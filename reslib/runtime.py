"""Runtime state in one place: seeds, the device, local RNG and thread settings, a cache, and Colab.

Library code never changes global state by hand: where it needs its own random numbers it draws
them inside `local_seed(seed)`, which gives the caller's RNG state back afterwards, and where one
thread is faster (hundreds of tiny tensors) it runs inside `num_threads(1)`, which gives the
caller's thread count back, even when the block raises.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import importlib
import random
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from reslib.validate import require_bool, require_int, require_seed, typechecked

__all__ = [
    "GPU_MIN_FLOPS",
    "byte_cache",
    "colab_setup",
    "cores",
    "device",
    "device_for",
    "local_seed",
    "num_threads",
    "set_seed",
    "step_flops",
    "threads",
]


@typechecked
def set_seed(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and every GPU) for a reproducible run.

    Args:
        seed: an integer in [0, 2**63 - 1] (`reslib.validate.MAX_SEED`: a seed any torch
            generator takes, also where it passes through a signed 64-bit integer); NumPy integers too.

    Returns:
        A fresh `torch.Generator` seeded with `seed`, for code that wants its own stream.
    """
    seed = require_seed("seed", seed)  # an int, also from a NumPy integer
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


@typechecked
def colab_setup(on_colab: bool | None = None) -> str:
    """On Google Colab, turn on its widget manager so the explorers show; elsewhere do nothing.

    Colab renders only its own widgets until `google.colab.output.enable_custom_widget_manager()`
    is called: a plotly `FigureWidget` or an anywidget shows an error instead. Every setup cell calls
    this function, so it is silent off Colab (nbval compares the notebooks' outputs exactly).

    Args:
        on_colab: whether this runs on Colab; None (the default) detects it: Colab's kernel has
            imported `google.colab`. Tests pass True with a fake `google.colab.output`.

    Returns:
        What was done, in one line (returned, never printed).
    """
    if on_colab is None:
        on_colab = "google.colab" in sys.modules
    if not require_bool("on_colab", on_colab):
        return "not on Colab: nothing to do"
    try:
        output = importlib.import_module("google.colab.output")
    except ImportError as error:
        raise ValueError(
            "on_colab=True, but google.colab.output cannot be imported: this is not Colab; "
            "leave on_colab at None to detect Colab"
        ) from error
    output.enable_custom_widget_manager()
    return "on Colab: turned on the custom widget manager, so plotly and anywidget explorers show"


# A training step below this many FLOPs runs faster on a CPU than on a GPU: a GPU step costs at least
# its kernel launches (~100 of ~5-10 us each for our models: about 1 ms, plus a host read per epoch),
# while a laptop core does 1e9 FLOPs in roughly 20-50 ms, so below ~1e9 FLOPs per step the launches
# dominate. The series' models (3-50 layers of width 32-200, batches of 10-128) train at 1e7-1e9
# FLOPs per step; on a lent H200 they ran 3-4x slower than on 2 CPU cores. An estimate from those
# numbers: the next GPU run measures it (`make bench` times every notebook on both).
GPU_MIN_FLOPS = 1e9


@typechecked
def step_flops(model: nn.Module, example: torch.Tensor) -> int:
    """FLOPs of one training step of `model` on the batch `example`: 3x its forward pass's.

    Counted by `torch.utils.flop_counter.FlopCounterMode` on a copy on the meta device, so nothing
    is computed and the caller's model is untouched. Matrix products and convolutions count; the
    element-wise work around them is small beside them. The backward pass costs about twice the
    forward (a product's gradient needs two products of the same size).
    """
    from torch.utils.flop_counter import FlopCounterMode

    _require_example(model, example)
    meta = copy.deepcopy(model).to("meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        try:
            meta(example.to("meta"))
        except (RuntimeError, ValueError, TypeError) as error:
            raise ValueError(
                f"model does not run on example of shape {tuple(example.shape)} ({error}); pass one batch "
                f"of the inputs the model trains on"
            ) from error
    return 3 * int(counter.get_total_flops())


def _require_example(model: nn.Module, example: torch.Tensor) -> None:
    if not isinstance(example, torch.Tensor):
        raise TypeError(f"example must be a tensor (one batch of inputs), got {type(example).__name__}")
    if example.numel() == 0:
        raise ValueError(f"example is empty (shape {tuple(example.shape)}); pass one batch of inputs")
    weight = next((p for p in model.parameters() if p.is_floating_point()), None)
    embeds = any(isinstance(m, nn.Embedding) for m in model.modules())
    if example.is_floating_point() and weight is not None and example.dtype != weight.dtype:
        raise ValueError(
            f"example holds {example.dtype}, the model's weights {weight.dtype}; "
            f"use example.to({weight.dtype})"
        )
    if not example.is_floating_point() and not embeds:
        raise ValueError(
            f"example holds {example.dtype}, but the model has no embedding to look integers up in; pass "
            f"floating-point inputs"
        )


@typechecked
def device_for(model: nn.Module, example: torch.Tensor, models: int = 1) -> torch.device:
    """`device()` if a training step of `models` copies of `model` on `example` pays for it, else the CPU.

    A GPU pays from `GPU_MIN_FLOPS` per step (several models trained stacked add up: `models`);
    below that, kernel launches cost more than the arithmetic and the CPU is faster. A notebook
    asks this with its largest training step, so on a GPU machine it runs where it runs fastest.
    Without a GPU it returns the CPU at once (the FLOPs are counted only where there is a choice).

    Example:
        >>> device_for(nn.Linear(40, 10), torch.zeros(100, 40))  # 2.4e5 FLOPs: the CPU, GPU or not
        device(type='cpu')
    """
    require_int("models", models, maximum=10**6)
    _require_example(model, example)
    best = device()
    if best.type == "cpu":
        return best  # nothing to decide: counting would cost ~1 s the first time (torch's FLOP tables)
    return best if models * step_flops(model, example) >= GPU_MIN_FLOPS else torch.device("cpu")


@typechecked
def local_seed(seed: int | None, devices: Sequence[int] = ()) -> contextlib.AbstractContextManager:
    """Run a block on torch's global RNG seeded with `seed`, then give the caller's RNG state back.

    Code inside the block (a module initialising its weights, `torch.randn`) draws reproducible
    numbers, and the notebook's next `torch.rand` returns what it would have without the block.
    Unlike `torch.manual_seed`, only the CPU generator is seeded.

    Args:
        seed: an integer in [0, 2**63 - 1]; None leaves the generator as it is (its state is still restored).
        devices: CUDA device indices whose generators are restored too (default: none).

    Example:
        >>> with local_seed(0):
        ...     weights = torch.randn(3)  # the same three numbers every time
    """
    if seed is not None:
        require_seed("seed", seed)
    for i, index in enumerate(devices):
        require_int(f"devices[{i}]", index, minimum=0, maximum=max(torch.cuda.device_count() - 1, 0))
    return _forked(None if seed is None else int(seed), [int(d) for d in devices])


@contextlib.contextmanager
def _forked(seed: int | None, devices: list[int]) -> Iterator[None]:
    with torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.default_generator.manual_seed(seed)
        yield


# The thread count torch chose when reslib was imported: OMP_NUM_THREADS where it is set (Binder sets
# 1: its one CPU's time is shared by every core its container sees), else one per core it may use.
_STARTING_THREADS = torch.get_num_threads()


@typechecked
def cores() -> int:
    """The threads this machine's work can share: torch's own count when reslib was imported.

    A notebook that runs tiny models on one thread (`num_threads(1)`) gives a large block back the
    cores with `with num_threads(cores()): ...`: six transformers trained side by side are large
    enough that two threads take 1.5x fewer seconds than one (measured on 2 cores). On Binder it is
    1, as `binder/start` sets OMP_NUM_THREADS=1.
    """
    return _STARTING_THREADS


@typechecked
def threads() -> int:
    """The threads torch uses now (`cores()` is the count it started with)."""
    return torch.get_num_threads()


@typechecked
class num_threads:  # lower case: it is called like a function, as torch.set_grad_enabled is
    """Use `n` CPU threads for torch; as a context manager, give the previous count back on exit.

    Like `torch.set_grad_enabled`, it acts when called: `rl.runtime.num_threads(1)` in a setup cell
    sets one thread for the session, and `with rl.runtime.num_threads(1): ...` for a block only.
    Tiny models (width 64, a few thousand examples) train faster on one thread: the hand-offs
    between threads cost more than the arithmetic they share.
    """

    def __init__(self, n: int):
        require_int("n", n, maximum=1024)
        self.previous = torch.get_num_threads()
        torch.set_num_threads(int(n))

    def __enter__(self) -> num_threads:
        return self

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.previous)

    def __repr__(self) -> str:
        return f"num_threads({torch.get_num_threads()})"


def _nbytes(value: object) -> int:
    """Bytes held by tensors (in modules, arrays, tuples and lists too); 0 for anything else."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, nn.Module):
        return sum(_nbytes(t) for t in (*value.parameters(), *value.buffers()))
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(_nbytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    return int(getattr(value, "nbytes", 0))  # NumPy arrays


@typechecked
def byte_cache(max_bytes: int) -> Callable[[Callable], Callable]:
    """`functools.lru_cache`, bounded by the bytes its results hold rather than by their number.

    The least recently used results are dropped until the total fits `max_bytes`; a result
    larger than `max_bytes` on its own is returned and not kept. The wrapper has
    `cache_clear()` and `cache_bytes()` (the bytes held now).
    """
    require_int("max_bytes", max_bytes, minimum=0)

    def decorate(fn: Callable) -> Callable:
        entries: OrderedDict[tuple, tuple[object, int]] = OrderedDict()

        @functools.wraps(fn)
        def cached(*args: object) -> object:
            if args in entries:
                entries.move_to_end(args)
                return entries[args][0]
            result = fn(*args)
            size = _nbytes(result)
            if size <= max_bytes:
                entries[args] = (result, size)
                while sum(s for _, s in entries.values()) > max_bytes:
                    entries.popitem(last=False)
            return result

        cached.cache_clear = entries.clear
        cached.cache_bytes = lambda: sum(s for _, s in entries.values())
        return cached

    return decorate
