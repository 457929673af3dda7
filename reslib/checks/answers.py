"""Running a learner's answer safely: a time limit, untouched random generators, values read strictly.

`reslib.checks.core.compare` uses these; nothing here is for a learner, so `__all__` is empty
and `rl.checks` does not re-export them. It imports only `reslib.runtime`, for `local_seed`.
"""

from __future__ import annotations

import contextlib
import numbers
import random
import reprlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from reslib.runtime import local_seed

__all__: list[str] = []


class AnswerTimeout(BaseException):
    """The answer ran past its time limit.

    A `BaseException`, so a learner's `except Exception:` cannot swallow it.
    """


@contextlib.contextmanager
def preserved_rngs() -> Iterator[None]:
    """Give the RNGs their states back after the block: torch's, NumPy's global one and `random`'s.

    Torch's are the CPU generator and every GPU generator already initialised. A check (and the
    learner's answer inside it, which may build a model or draw on the GPU) then never changes what
    the notebook's next `torch.rand`, `np.random.rand` or `random.random` returns.
    """
    states = np.random.get_state(), random.getstate()
    gpus = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    try:
        with local_seed(None, devices=gpus):  # CPU always; CUDA devices already in use
            yield
    finally:
        np.random.set_state(states[0])
        random.setstate(states[1])


def _can_use_alarm() -> bool:
    """SIGALRM interrupts pure-Python loops: usable on the main thread of a POSIX process, timer idle."""
    return (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # never override the caller's timer
    )


def _on_alarm(signum: int, frame: object) -> None:
    raise AnswerTimeout


def _with_alarm(call: Callable[[], Any], seconds: float) -> Any:
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return call()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)  # disarmed before the handler is given back
    finally:
        signal.signal(signal.SIGALRM, previous)


def _in_thread(call: Callable[[], Any], seconds: float) -> Any:
    outcome: dict[str, Any] = {}
    grad = torch.is_grad_enabled()  # grad mode is per thread: carry the caller's over

    def target() -> None:
        try:
            with torch.set_grad_enabled(grad):
                outcome["value"] = call()
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="reslib-check-answer")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise AnswerTimeout
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def call_with_time_limit(call: Callable[[], Any], seconds: float) -> Any:
    """Return `call()`, or raise `AnswerTimeout` once it has run for `seconds`.

    On the main thread of a POSIX process (a Jupyter kernel runs cells there) a `SIGALRM`
    interrupts the answer, even a pure-Python recursion; the caller's handler is put back and no
    alarm is left armed. Elsewhere (Windows, another thread, a timer already armed) the answer
    runs in a daemon thread and the check stops waiting for it: a thread cannot be killed, so
    the runaway computation keeps running in the background until it ends (and any random
    numbers it draws then move the global generators).

    Note:
        Neither way interrupts one long call into C (a huge matrix product); the limit then
        acts when that call returns.
    """
    if _can_use_alarm():
        return _with_alarm(call, seconds)
    return _in_thread(call, seconds)


class AnswerTypeError(TypeError):
    """An answer's value is not a number, a tensor, an array, or a tuple/list of them."""


def _leaf(value: Any) -> torch.Tensor:
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise AnswerTypeError(f"a NumPy array of {array.dtype}, expected numbers")
        return torch.from_numpy(array.astype(np.float64))
    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.device.type == "meta":
            raise AnswerTypeError(f"a {value.dtype} tensor on {value.device}, expected real numbers")
        return value.detach().to("cpu", torch.float64)
    if isinstance(value, numbers.Real):
        return torch.tensor(float(value), dtype=torch.float64)
    raise AnswerTypeError(f"a {type(value).__name__} {reprlib.repr(value)}")


def as_values(value: Any) -> torch.Tensor | tuple:
    """`value` as float64 tensors: a tensor, or a tuple of them when its parts differ in shape.

    Numbers, tensors, NumPy arrays and NumPy scalars are read; a tuple or list whose parts all
    have one shape becomes one stacked tensor, so `[(64, 56, 56), ...]`, a list of tensors and a
    (4, 3) array compare alike, but a flat list of 12 numbers does not. Strings, None, dicts and
    complex numbers raise `AnswerTypeError`.
    """
    if isinstance(value, (tuple, list)):  # torch.Size is a tuple
        parts = [as_values(v) for v in value]
        if not parts:
            return torch.zeros(0, dtype=torch.float64)
        if all(isinstance(p, torch.Tensor) for p in parts) and len({p.shape for p in parts}) == 1:
            return torch.stack(parts)
        return tuple(parts)
    return _leaf(value)


def describe(values: torch.Tensor | tuple) -> str:
    """A short name of a converted value's shape, for messages."""
    if isinstance(values, tuple):
        return f"{len(values)} parts of different shapes"
    return f"shape {tuple(values.shape)}"


def describe_case(case: tuple) -> str:
    """A case's arguments, short: numbers as they are, tensors and modules by their shape or type."""

    def one(arg: Any) -> str:
        if isinstance(arg, torch.Tensor):
            return f"tensor{tuple(arg.shape)}"
        if isinstance(arg, (bool, numbers.Number, str)):
            return reprlib.repr(arg)
        if isinstance(arg, (list, tuple)) and all(isinstance(a, numbers.Number) for a in arg):
            return reprlib.repr(arg)
        if isinstance(arg, (list, tuple)):
            return f"a {type(arg).__name__} of {len(arg)}"
        return type(arg).__name__

    return "(" + ", ".join(one(a) for a in case) + ")"
