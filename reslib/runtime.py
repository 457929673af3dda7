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
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent import futures

import numpy as np
import torch
from torch import nn

from reslib import workers
from reslib.validate import require_bool, require_int, require_seed, typechecked

__all__ = [
    "GPU_MIN_FLOPS",
    "byte_cache",
    "colab_setup",
    "cores",
    "device",
    "device_for",
    "in_worker",
    "local_seed",
    "num_threads",
    "parallel",
    "set_seed",
    "step_flops",
    "stop_requested",
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


# `parallel`: set while its calls run in worker threads (or processes); `_STOP`: set when the caller is
# interrupted.
_WORKER = threading.local()
_STOP = threading.Event()


def in_worker() -> bool:
    """Whether this code runs in a worker thread or process of `parallel` (where nothing is displayed)."""
    return getattr(_WORKER, "active", False)


def stop_requested() -> bool:
    """True once the caller of a running `parallel` was interrupted (Ctrl-C, the kernel's stop button).

    A thread cannot be stopped from outside, so long loops that may run inside `parallel` ask this
    once a step and raise `KeyboardInterrupt` (`reslib.train.fit` and
    `reslib.sequences.train_sequence_models` do).
    """
    return _STOP.is_set()


def _run_in_worker(call: Callable[[], object]) -> object:
    if _STOP.is_set():  # an earlier call failed, or the caller was interrupted: do not start
        raise futures.CancelledError
    _WORKER.active = True
    torch.set_num_threads(1)  # this thread's own OpenMP count: one, as the calls are on one core each
    try:
        return call()
    except BaseException:
        _STOP.set()  # the other calls stop at their next step, the waiting ones never start
        raise
    finally:
        _WORKER.active = False


@typechecked
def parallel(calls: Iterable[Callable[[], object]]) -> list:
    """Run independent calls at once, one core each; return their results in order.

    Tiny models leave all but one core idle: one thread is their fastest (`num_threads`), and a
    stack of them (`reslib.train.fit` on a list) shares one architecture. Trainings of different
    architectures (a plain and a residual stack, say) can still run side by side, a core each, with
    torch on one thread. Calls that are `functools.partial(reslib.train.fit, ...)` or
    `functools.partial(reslib.sequences.train_sequence_models, ...)` run in worker processes (on Linux,
    with every tensor on the CPU): the trained weights, the modules' generators and training flags,
    the result and what the call printed come back, without pickle (`reslib.workers`); the longest
    trainings start first (parameters x examples), so the cores end together. Other calls
    run in threads: PyTorch releases Python's lock while it computes, but steps that are mostly Python
    wait for each other there. On 2 cores two stacks of width-64 MLPs take 1.15-1.3x the steps per
    second of one stack after the other in threads and 1.4-1.7x in processes; notebook 09's U-Nets,
    whose steps are mostly arithmetic, 1.7-1.9x either way (`make bench`). Every call computes what it
    computes alone on one thread, so the numbers do not depend on the thread count, on threads or
    processes, or on how the calls interleave; with one core (`cores()`, 1 on Binder) they run one
    after the other in this thread.

    The calls must not draw from torch's global random generator: draws from threads interleave by
    chance. Build (and seed) the models before, and train with local generators, as `fit` does;
    a layer that draws while training (dropout, stochastic depth) belongs in a call of its own.
    This is checked: if a global generator (the CPU's, a GPU's) moved, `RuntimeError` after the
    calls end. With Apple's MPS present the calls run one after the other (untested from threads).

    On an interrupt the running calls are asked to stop (`stop_requested`; worker processes are
    killed, and their models keep the weights they had before the call), the waiting ones never
    start, and `KeyboardInterrupt` is raised once the workers have ended; the first exception of a
    call does the same and is re-raised (from a process: a built-in exception type as itself, any
    other as `RuntimeError`, with the worker's traceback as a note).

    Args:
        calls: callables taking no arguments, e.g. `functools.partial(rl.train.fit, stack, data, ...)`.

    Returns:
        The calls' results, in the order of `calls`.

    Example:
        >>> parallel([lambda: 1 + 1, lambda: 2 * 3])
        [2, 6]
    """
    calls = list(calls)
    for i, call in enumerate(calls):
        if not callable(call):
            raise TypeError(
                f"calls[{i}] is a {type(call).__name__}, not a callable; pass functions taking no "
                f"arguments, e.g. functools.partial(rl.train.fit, model, data, epochs=5, lr=0.1)"
            )
    before = _generator_states()
    # Apple's MPS has not been tested from several threads here: one after the other where it is present
    count = 1 if device().type == "mps" else min(cores(), len(calls))
    if in_worker():  # already one thread, on a core of its own
        results = [call() for call in calls]
    elif count <= 1:  # one core: one after the other, here, on one thread as in the threads
        with num_threads(1):
            results = [call() for call in calls]
    elif (modules := workers.trained_modules(calls)) is not None:  # fit, train_sequence_models: processes
        results, drew = workers.run(calls, modules, count, _run_in_worker)
        if drew:
            raise RuntimeError(_DREW)
    else:
        results = _in_threads(calls, count)
    # a GPU's generator counts from when CUDA was initialised: before the calls, or it drew nothing yet
    if any(not torch.equal(a, b) for a, b in zip(_generator_states(), before, strict=False)):
        raise RuntimeError(_DREW)
    return results


_DREW = (
    "a call passed to parallel drew from torch's global random generator; in threads such draws "
    "interleave by chance, and a worker process's draws end with it, so the numbers would depend on "
    "the run and on the machine's cores: build and seed the "
    "models before parallel, and train a model that draws while training (dropout, stochastic "
    "depth) in a call of its own, outside parallel"
)


def _generator_states() -> list[torch.Tensor]:
    """The global generators' states: the CPU's, then each GPU's where CUDA is initialised."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    return [torch.default_generator.get_state(), *cuda]


def _in_threads(calls: list[Callable[[], object]], workers: int) -> list:
    _STOP.clear()
    with num_threads(1), futures.ThreadPoolExecutor(workers, thread_name_prefix="reslib") as pool:
        jobs = [pool.submit(_run_in_worker, call) for call in calls]
        try:
            while True:  # a wait with a timeout, so an interrupt reaches this thread
                done, pending = futures.wait(jobs, timeout=0.1, return_when=futures.FIRST_EXCEPTION)
                if not pending or any(job.exception() is not None for job in done):
                    break
        except BaseException:
            _STOP.set()
            raise
        finally:  # a call that raised has set _STOP itself (_run_in_worker)
            for job in jobs:
                job.cancel()  # the waiting ones; running ones stop at their next step (stop_requested)
            futures.wait(jobs)
            stopped = _STOP.is_set()
            _STOP.clear()
        if stopped:  # a call's own error first; else the KeyboardInterrupt the stop gave a call
            errors = [job.exception() for job in jobs if not job.cancelled() and job.exception() is not None]
            errors = [e for e in errors if not isinstance(e, futures.CancelledError)] or [KeyboardInterrupt()]
            raise next((e for e in errors if not isinstance(e, KeyboardInterrupt)), errors[0])
        return [job.result() for job in jobs]


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
