"""Running a learner's answer safely: a time limit, the world given back.

`reslib.checks.core.compare` runs every answer through `run_answer`: within a time limit (the
conversion of what it returns included), with every global setting it could change given back
afterwards (RNGs, torch's default dtype and device, grad and anomaly mode, threads, deterministic
flags, warning filters, NumPy's error and print settings, `sys.stdout`), and with the library's
code checked: an answer that replaces a function or a method of reslib, torch, NumPy or the
standard library (`torch.isclose = ...`, `SomeBlock.forward = ...`) is caught and the original put
back. Nothing here is for a learner, so `__all__` is empty and `rl.checks` does not re-export it.
It imports only `reslib.runtime`, for `local_seed` and `num_threads`, and `reslib.language` for what
it tells the learner (and puts back: an answer's `set_language` does not outlive it). Reading the
value an answer returned is `reslib.checks.values`.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import inspect
import os
import random
import signal
import sys
import threading
import traceback
import types
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reslib.language import language, set_language, tr
from reslib.runtime import local_seed, num_threads, threads

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


# The check's own handles on the signal functions: an answer runs with the public names replaced
# by refusals (`_guards`), so it cannot cancel or ignore the timer that stops it.
_SIGNAL, _SETITIMER, _GETITIMER = (
    signal.signal,
    getattr(signal, "setitimer", None),
    getattr(signal, "getitimer", None),
)
# How long past its limit a stopped answer may go on (catching the stop) before the check stops it
# again from a watchdog thread, and how often it tries then.
GRACE = 1.0
_KICKS = 20


def _can_use_alarm() -> bool:
    """SIGALRM interrupts pure-Python loops: usable on the main thread of a POSIX process, timer idle."""
    return (
        _SETITIMER is not None
        and threading.current_thread() is threading.main_thread()
        and _GETITIMER(signal.ITIMER_REAL) == (0.0, 0.0)  # never override the caller's timer
    )


def _raise_in(thread: threading.Thread) -> None:
    """Raise `AnswerTimeout` in `thread` at its next Python instruction (CPython's async exception)."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(AnswerTimeout)
        )


def _tell(message: str) -> None:
    try:
        print(f"reslib check: {message}", file=sys.__stderr__, flush=True)
    except Exception:  # no stderr at all: nothing more to do
        pass


class _Watchdog:
    """Stops an answer that caught the timer's stop, or ran on past it, from another thread.

    From `seconds + GRACE` on, it raises `AnswerTimeout` in the answer's thread every half second.
    An answer that swallows even those (a bare `except BaseException` in a loop) cannot be
    stopped from inside the process: the learner is told, once, to interrupt or restart the kernel.
    """

    def __init__(self, target: threading.Thread, seconds: float) -> None:
        self.target, self.kicks, self.done = target, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, args=(seconds,), daemon=True, name="reslib-watchdog")
        self.thread.start()

    def _run(self, seconds: float) -> None:
        if self.done.wait(seconds + GRACE):
            return
        while not self.done.is_set() and self.kicks < _KICKS:
            self.kicks += 1
            _raise_in(self.target)
            if self.kicks == 4:
                _tell(
                    "the answer is still running past its time limit and ignores every stop; "
                    "interrupt the kernel (the stop button), or restart it if that does not help."
                )
            self.done.wait(0.5)

    def stop(self) -> None:
        self.done.set()


def _on_alarm(signum: int, frame: object) -> None:
    raise AnswerTimeout


def _with_alarm(call: Callable[[], Any], seconds: float) -> Any:
    fired = []

    def on_alarm(signum: int, frame: object) -> None:
        fired.append(True)
        raise AnswerTimeout

    previous = _SIGNAL(signal.SIGALRM, on_alarm)
    watchdog = _Watchdog(threading.current_thread(), seconds)
    try:
        _SETITIMER(signal.ITIMER_REAL, seconds)
        try:
            value = call()
        finally:
            _SETITIMER(signal.ITIMER_REAL, 0)  # disarmed before the handler is given back
            watchdog.stop()
        if fired or watchdog.kicks:  # it caught the stop and went on to return: still too slow
            raise AnswerTimeout
        return value
    finally:
        _SIGNAL(signal.SIGALRM, previous)


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
        _raise_in(worker)  # stops a pure-Python loop; one long call into C ends first
        worker.join(GRACE)
        if worker.is_alive():
            _tell(
                "the stopped answer is still running in a background thread (a thread cannot be "
                "killed); restart the kernel if the notebook slows down."
            )
        raise AnswerTimeout
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def call_with_time_limit(call: Callable[[], Any], seconds: float) -> Any:
    """Return `call()`, or raise `AnswerTimeout` once it has run for `seconds`.

    On the main thread of a POSIX process (a Jupyter kernel runs cells there) a `SIGALRM`
    interrupts the answer, even a pure-Python recursion; the caller's handler is put back and no
    alarm is left armed. An answer that catches that stop and goes on is stopped again from a
    watchdog thread from `GRACE` seconds later, and one that catches it and returns is still
    reported as too slow. Elsewhere (Windows, another thread, a timer already armed) the answer
    runs in a daemon thread, which is stopped the same way at its limit; a thread cannot be
    killed, so one that ignores the stop keeps running in the background (the learner is told).

    Note:
        Neither way interrupts one long call into C (a huge matrix product); the limit then
        acts when that call returns.
    """
    if _can_use_alarm():
        return _with_alarm(call, seconds)
    return _in_thread(call, seconds)


# ---------------------------------------------------------------------------------------------
# The world an answer runs in, given back afterwards
# ---------------------------------------------------------------------------------------------


class AnswerTampered(Exception):
    """The answer replaced library code (a function, a method, a constant); the check put it back."""


class AnswerUsedReference(AnswerTampered):
    """The answer called the check's own reference, or a library function that solves the exercise."""


# The check's own handles on the trace functions: an answer runs with the public names refused, so
# it cannot take off the watch for the reference (`_watching`).
_SETTRACE, _GETTRACE = sys.settrace, sys.gettrace


def code_objects(functions: Iterable[Callable[..., Any]]) -> frozenset[types.CodeType]:
    """The code objects that run when each of `functions` is called, wrappers unwrapped.

    A function (or lambda) gives its own code; a class gives its `forward` and `__init__` where it
    defines them. A decorator's wrapper code is shared by every function it wraps, so only the
    innermost `__wrapped__` counts. Anything else (a builtin, a callable object) gives nothing.
    """
    codes = set()
    for function in functions:
        if isinstance(function, type):
            members = [vars(function).get(n) for n in ("forward", "__init__")]
        else:
            members = [function]
        for member in members:
            inner = inspect.unwrap(member) if callable(member) else None
            if isinstance(getattr(inner, "__code__", None), types.CodeType):
                codes.add(inner.__code__)
    return frozenset(codes)


@contextlib.contextmanager
def _watching(forbidden: frozenset[types.CodeType], calls: list[str]) -> Iterator[None]:
    """While the block runs on this thread, a call into `forbidden` code raises and is noted in `calls`.

    A global trace function sees every Python call, however the answer reached the function
    (a module attribute, an alias taken at import, a frame it walked to). It returns None, so no
    line of any frame is traced: the cost is one set lookup per Python call.
    """
    if not forbidden:
        yield
        return

    def on_call(frame: types.FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code in forbidden:
            calls.append(frame.f_code.co_qualname)
            raise _used_reference(calls)

    previous = _GETTRACE()
    _SETTRACE(on_call)
    try:
        yield
    finally:
        _SETTRACE(previous)


def _settings() -> dict[str, Any]:
    """Every global setting an answer can change with one call, as readable values."""
    return {
        "torch's default dtype": torch.get_default_dtype(),
        "torch's default device": torch.get_default_device(),
        "grad mode": torch.is_grad_enabled(),
        "anomaly detection": (torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()),
        "torch's thread count": threads(),
        "deterministic algorithms": (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
        ),
        "float32 matmul precision": torch.get_float32_matmul_precision(),
        "cuDNN flags": (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic),
        "NumPy's error settings": np.geterr(),
        "NumPy's print options": np.get_printoptions(),
        "the recursion limit": sys.getrecursionlimit(),
        "reslib's language": language(),
        "sys.stdout/stderr": (sys.stdout, sys.stderr, sys.displayhook, sys.excepthook),
        "a trace or profile function": (sys.gettrace(), sys.getprofile()),
        "warning filters": list(warnings.filters),
    }


def _restore(saved: dict[str, Any]) -> list[str]:
    """Put back every setting in `saved` that the answer changed; their names."""
    now = _settings()
    changed = [k for k in saved if now[k] != saved[k]]
    for key in changed:
        _SETTERS[key](saved[key])
    return changed


def _set_device(device: torch.device) -> None:
    torch.set_default_device(None if device == torch.device("cpu") else device)


def _set_cudnn(flags: tuple[bool, bool]) -> None:
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = flags


def _set_streams(streams: tuple) -> None:
    sys.stdout, sys.stderr, sys.displayhook, sys.excepthook = streams


def _set_hooks(hooks: tuple) -> None:
    sys.settrace(hooks[0])
    sys.setprofile(hooks[1])


_SETTERS: dict[str, Callable[[Any], Any]] = {
    "torch's default dtype": torch.set_default_dtype,
    "torch's default device": _set_device,
    "grad mode": torch.set_grad_enabled,
    "anomaly detection": lambda v: torch.autograd.set_detect_anomaly(*v),
    "torch's thread count": lambda n: num_threads(n),
    "deterministic algorithms": lambda v: torch.use_deterministic_algorithms(v[0], warn_only=v[1]),
    "float32 matmul precision": torch.set_float32_matmul_precision,
    "cuDNN flags": _set_cudnn,
    "NumPy's error settings": lambda v: np.seterr(**v),
    "NumPy's print options": lambda v: np.set_printoptions(**v),
    "the recursion limit": sys.setrecursionlimit,
    "reslib's language": set_language,
    "sys.stdout/stderr": _set_streams,
    "a trace or profile function": _set_hooks,
    "warning filters": lambda v: None,  # given back by warnings.catch_warnings around the answer
}


# The namespaces an answer could patch to fool a check or break later cells: reslib's modules and
# classes, torch's and NumPy's main namespaces, torch.nn's classes, and the standard modules a
# check itself relies on. Modules an answer imports for the first time are not watched.
_WATCHED_MODULES = (
    "torch", "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.linalg", "torch.func",
    "torch.autograd", "numpy", "math", "copy", "builtins", "random", "signal", "os", "warnings",
)  # fmt: skip


def _namespaces() -> list[tuple[object, dict[str, Any]]]:
    owners: list[object] = [torch.Tensor, torch.nn.Parameter]
    for name, module in list(sys.modules.items()):
        if module is None or not (name in _WATCHED_MODULES or name == "reslib" or name.startswith("reslib.")):
            continue
        owners.append(module)
        if name == "torch.nn" or name.startswith("reslib"):
            owners += [
                v
                for v in vars(module).values()
                if isinstance(v, type) and v.__module__.startswith(("reslib", "torch.nn"))
            ]
    seen: set[int] = set()
    unique = [o for o in owners if not (id(o) in seen or seen.add(id(o)))]
    return [(owner, dict(vars(owner))) for owner in unique]


def _put_back(saved: list[tuple[object, dict[str, Any]]]) -> list[str]:
    """Undo every change to the saved namespaces; the qualified names that were changed."""
    changed = []
    for owner, before in saved:
        now = vars(owner)
        if len(now) == len(before) and all(now.get(k, before) is v for k, v in before.items()):
            continue
        where = getattr(owner, "__name__", repr(owner))
        for key, value in before.items():
            if now.get(key, before) is not value and not key.startswith("__"):
                changed.append(f"{where}.{key}")
                setattr(owner, key, value)
        for key in [k for k in now if k not in before]:
            if not isinstance(now[key], types.ModuleType) and not key.startswith("__"):
                changed.append(f"{where}.{key}")
                delattr(owner, key)
    return changed


def _refusal(what: str) -> Callable[..., Any]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError(
            tr(
                "an answer may not call {name} (it would stop the notebook, or the check's timer or watch)",
                name=what,
            )
        )

    return refuse


@contextlib.contextmanager
def _guards() -> Iterator[None]:
    """Replace what would kill the kernel or the timer with refusals, for the answer's run."""
    originals = {
        (os, "_exit"): os._exit,
        (os, "abort"): os.abort,
        (os, "kill"): os.kill,
        (signal, "signal"): signal.signal,
        (signal, "setitimer"): getattr(signal, "setitimer", None),
        (signal, "alarm"): getattr(signal, "alarm", None),
        (signal, "pthread_sigmask"): getattr(signal, "pthread_sigmask", None),
        (sys, "settrace"): sys.settrace,
        (sys, "setprofile"): sys.setprofile,
        (threading, "settrace"): threading.settrace,
        (threading, "setprofile"): threading.setprofile,
    }
    for (module, name), original in originals.items():
        if original is not None:
            setattr(module, name, _refusal(f"{module.__name__}.{name}"))
    try:
        yield
    finally:
        for (module, name), original in originals.items():
            if original is not None:
                setattr(module, name, original)


def _resident_bytes() -> int:
    """This process's resident memory (Linux), or 0 where it cannot be read."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0


def _release_memory() -> None:
    gc.collect()
    with contextlib.suppress(Exception):  # glibc only: give freed heap pages back to the system
        ctypes.CDLL("libc.so.6").malloc_trim(0)


# An answer stopped at its limit that leaves more than this in use is reported: the learner is
# told to restart (Binder gives a whole notebook 2 GB).
HELD_MEMORY = 256 * 2**20


class AnswerOutcome:
    """What `run_answer` found besides the value: settings given back, memory left held."""

    def __init__(self) -> None:
        self.settings: list[str] = []
        self.held = 0

    def note(self) -> str:
        """A sentence for the learner, or empty."""
        parts = []
        if self.settings:
            settings = ", ".join(self.settings)
            parts.append(tr("(your answer changed {settings}; the check set it back)", settings=settings))
        if self.held > HELD_MEMORY:
            parts.append(
                tr(
                    "Your answer left about {mib:,.0f} MiB in use after it was stopped; "
                    "restart the kernel to free it.",
                    mib=self.held / 2**20,
                )
            )
        return " ".join(parts)


@functools.cache
def _settle_imports() -> None:
    """Import, once, what torch imports lazily and that rebinds public names when it is imported.

    `torch._dynamo` wraps `torch.manual_seed` on import, and the first `optimizer.step()` of a
    fresh kernel imports it: inside an answer, that would look as if the answer patched torch.
    """
    import torch._dynamo  # noqa: F401


def run_answer(
    call: Callable[[], Any],
    seconds: float,
    convert: Callable[[Any], Any],
    outcome: AnswerOutcome,
    forbidden: frozenset[types.CodeType] = frozenset(),
) -> Any:
    """`convert(call())` within `seconds`, in a world given back afterwards, whatever the answer does.

    The RNGs, every setting in `_settings` and every watched namespace are restored when the
    answer ends (returns, raises, or is stopped); the settings it had changed are noted in
    `outcome`. While it runs, `os._exit`, `os.abort`, `os.kill`, the signal functions and the
    trace and profile setters refuse, and a call into `forbidden` code (the check's reference,
    see `code_objects`) fails the answer, even one that catches the error.

    Raises:
        AnswerTimeout: past `seconds` (the conversion of the value included).
        AnswerTampered: the answer replaced library code; the message names what (put back).
        AnswerUsedReference: the answer called forbidden code.
        Whatever the answer or the conversion raised.
    """
    _settle_imports()
    saved, before = _settings(), _resident_bytes()
    timed_out, calls = False, []

    def watched() -> Any:
        with _watching(forbidden, calls):
            return convert(call())

    with preserved_rngs(), warnings.catch_warnings(), num_threads(threads()):
        with _guards():
            namespaces = _namespaces()
            try:
                value = call_with_time_limit(watched, seconds)
            except Exception:
                if calls:  # the refusal, or another error the answer turned it into
                    raise _used_reference(calls) from None
                raise
            except AnswerTimeout as exc:  # its traceback holds the answer's frames, and their memory
                traceback.clear_frames(exc.__traceback__)
                timed_out = True
                raise AnswerTimeout from None
            finally:
                outcome.settings = _restore(saved)  # first: torch's own setters rebind some names
                patched = _put_back(namespaces)
                if timed_out:
                    _release_memory()
                    outcome.held = max(0, _resident_bytes() - before)
                if patched:
                    shown = ", ".join(patched[:4]) + (
                        f" and {len(patched) - 4} more" if len(patched) > 4 else ""
                    )
                    raise AnswerTampered(
                        tr(
                            "your answer replaced {shown}; an answer may not change library code "
                            "(the check put it back)",
                            shown=shown,
                        )
                    ) from None
    if calls:  # it caught the refusal and answered anyway
        raise _used_reference(calls)
    return value


def _used_reference(calls: list[str]) -> AnswerUsedReference:
    return AnswerUsedReference(
        tr(
            "your answer called {name}, which does this exercise for you (the check's own, or what "
            "the exercise asks you to build); write your own",
            name=calls[0],
        )
    )
