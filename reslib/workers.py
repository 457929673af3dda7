"""`reslib.runtime.parallel`'s worker processes: trainings side by side without Python's lock.

Threads share one interpreter, so two trainings whose steps are mostly Python (width-64 MLPs) wait
for each other's turn at the lock: 1.15-1.3x the speed of one after the other on 2 cores. A forked
process has its own interpreter: the same two run 1.4-1.7x (`make bench`; the longer the training,
the less a fork costs beside it). `parallel` uses processes for calls whose every
effect it can bring back: a `functools.partial` of `reslib.train.fit` or
`reslib.sequences.train_sequence_models`, whose result is plain data and which change nothing but
the modules passed to them. The longest trainings start first (`_cost`: parameters times the
examples a training goes through), so that the short ones fill the gaps and the cores end together.
Each process trains on one thread (the numbers of one thread, as in a worker thread), then writes
what the parent needs into a folder of its own, and exits:

- the result, as JSON with tagged types (lists, tuples, str-keyed dicts, numbers, NumPy arrays and
  reslib's dataclasses, such as `History`); no pickle, so nothing read back runs code;
- every module's parameters and buffers (raw bytes, copied into the parent's tensors), the
  `training` flag of each submodule, and the state of each `torch.Generator` a module holds
  (`reslib.paths.stochastic_depth` draws its coins from one);
- what the call printed, and an error it raised (its type, message and traceback);
- whether it drew from torch's global generator, which a call passed to `parallel` must not do.

Only on Linux (fork is the only start method that keeps the caller's models without pickling them,
and macOS's system libraries are not safe to fork) and only while every tensor involved is on the
CPU and CUDA is not initialised: elsewhere `parallel` uses threads, as before.

`reslib.runtime.parallel` is the interface: nothing here is for a notebook, so `__all__` is empty
(and the fuzz test, which calls every name in an `__all__`, never forks from here).
"""

from __future__ import annotations

import builtins
import ctypes
import dataclasses
import functools
import gc
import importlib
import inspect
import io
import json
import math
import os
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__: list[str] = []

# The functions whose only effects are their result and the training of the modules passed to them.
SAFE = (("reslib.train", "fit"), ("reslib.sequences", "train_sequence_models"))


def trained_modules(calls: list[Callable[[], object]]) -> list[list[nn.Module]] | None:
    """The modules each call trains, if every call can run in a process here; else None (threads)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork") or torch.cuda.is_initialized():
        return None
    safe = [getattr(importlib.import_module(module), name) for module, name in SAFE]
    found = []
    for call in calls:
        if not isinstance(call, functools.partial) or not any(call.func is f for f in safe):
            return None
        modules: list[nn.Module] = []
        values = [*call.args, *call.keywords.values()]
        if not all(_on_cpu(v, modules) for v in values):
            return None
        found.append(modules)
    return found


def _on_cpu(value: object, modules: list[nn.Module]) -> bool:
    """Collect the modules in `value` (in lists, tuples, dicts too); False if a tensor is not on the CPU."""
    if isinstance(value, nn.Module):
        modules.append(value)
        return all(t.device.type == "cpu" for t in (*value.parameters(), *value.buffers()))
    if isinstance(value, torch.Tensor):
        return value.device.type == "cpu"
    if isinstance(value, (list, tuple)):
        return all(_on_cpu(v, modules) for v in value)
    if isinstance(value, dict):
        return all(_on_cpu(v, modules) for v in value.values())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # TensorData, SequenceData
        return all(_on_cpu(getattr(value, f.name), modules) for f in dataclasses.fields(value))
    return True


def run(
    calls: list[Callable[[], object]],
    modules: list[list[nn.Module]],
    workers: int,
    worker: Callable[[Callable[[], object]], object],
) -> tuple[list, bool]:
    """Run `calls` in at most `workers` forked processes at once: (results in order, a global draw seen).

    `worker(call)` runs in the child (it sets the one-thread count and the worker flag). The first
    error of a call stops the others and is raised once all have ended; so is an interrupt.
    """
    results: list = [None] * len(calls)
    drew = False
    _load_first_use()
    with tempfile.TemporaryDirectory(prefix="reslib-parallel-") as folder:
        # the longest first, so that the last to start are short and the workers end together
        costs = [_cost(call, m) for call, m in zip(calls, modules, strict=True)]
        waiting = sorted(range(len(calls)), key=lambda i: -costs[i])  # stable: equal costs in order
        running: dict[int, int] = {}  # pid -> call index
        error: BaseException | None = None
        try:
            while waiting or running:
                while waiting and len(running) < workers and error is None:
                    i = waiting.pop(0)
                    running[_start_worker(calls[i], modules[i], Path(folder, str(i)), worker)] = i
                if error is not None and not running:
                    break
                ended = [
                    (pid, status) for pid in running for status in [_worker_status(pid)] if status is not None
                ]
                if not ended:
                    time.sleep(0.005)
                for pid, status in ended:
                    i = running.pop(pid)
                    try:
                        results[i], moved = _read_worker(Path(folder, str(i)), modules[i], status)
                        drew = drew or moved
                    except BaseException as e:  # the call's own error: stop the rest
                        error = error or e
                        _kill_workers(running)
        except BaseException:  # an interrupt (or any error here): stop the children, then raise it
            _kill_workers(running)
            for pid in running:
                os.waitpid(pid, 0)
            raise
        if error is not None:
            raise error
    return results, drew


def _cost(call: functools.partial, modules: list[nn.Module]) -> float:
    """A rough size of a training, to start the longest first: parameters x examples it goes through.

    `fit`: its epochs times the training set's size; `train_sequence_models`: its steps times the
    batch size. 0 when the call does not say (it then starts last, in the order given).
    """
    try:
        bound = inspect.signature(call.func).bind_partial(*call.args, **call.keywords)
    except TypeError:
        return 0.0
    bound.apply_defaults()
    given = bound.arguments
    data = given.get("data")
    x = data[0] if isinstance(data, (tuple, list)) and data else getattr(data, "x_train", None)  # (x, y)
    if "epochs" in given and isinstance(x, torch.Tensor) and isinstance(given["epochs"], int):
        examples = given["epochs"] * len(x)
    elif "steps" in given and isinstance(given["steps"], int):
        examples = given["steps"] * given["batch_size"]
    else:
        return 0.0
    parameters = {id(p): p.numel() for m in modules for p in m.parameters()}  # shared ones once
    return float(sum(parameters.values()) * examples)


@functools.cache
def _load_first_use() -> None:
    """Load here, once, what PyTorch loads on first use, so that no worker loads it again for itself.

    A worker ends with what it loaded: the first optimizer a process makes imports `torch._dynamo`
    (1.2-1.8 s on 2 cores), so each of notebook 01's five workers paid that, and the kernel once more.
    """
    weight = torch.zeros(1, requires_grad=True)
    weight.grad = torch.zeros(1)
    for kind in (torch.optim.SGD, torch.optim.Adam):
        kind([weight], lr=0.0, fused=True).step()


def _start_worker(
    call: Callable[[], object], modules: list[nn.Module], folder: Path, worker: Callable
) -> int:
    folder.mkdir()
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    with warnings.catch_warnings():  # Python 3.12 warns of forking a threaded process (the kernel's)
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid:
        return pid
    status = 1
    try:  # the child: run, write, and leave without the parent's exit handlers
        _die_with(parent)
        _worker_main(call, modules, folder, worker)
        status = 0
    finally:
        os._exit(status)


def _die_with(parent: int) -> None:
    """Have Linux kill this worker if its parent ends (a kernel restarted or killed mid-training)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # no prctl here: the worker ends with its training, as before
        return
    if os.getppid() != parent:  # the parent ended before prctl took effect
        os._exit(1)


def _worker_main(
    call: Callable[[], object], modules: list[nn.Module], folder: Path, worker: Callable
) -> None:
    gc.freeze()  # the parent's objects stay untouched: never collected here (nor copied by the collector)
    out, err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = out, err  # the kernel's streams belong to the parent's threads
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    before = torch.default_generator.get_state()
    blobs: list[bytes] = []
    header: dict = {}
    try:
        header["result"] = _encode(worker(call), blobs)
    except BaseException as e:  # reported to the parent, which raises it
        header["error"] = {
            "type": type(e).__name__,
            "builtin": getattr(builtins, type(e).__name__, None) is type(e),
            "message": str(e),
            "traceback": "".join(traceback.format_exception(e)),
        }
    header["moved"] = not torch.equal(before, torch.default_generator.get_state())
    header["modules"] = [_module_state(m, blobs) for m in modules]
    header["stdout"], header["stderr"] = out.getvalue(), err.getvalue()
    with open(folder / "blobs", "wb") as f:
        offsets = []
        for blob in blobs:
            offsets.append(f.tell())
            f.write(blob)
    header["offsets"] = offsets
    (folder / "header.json").write_text(json.dumps(header))


def _worker_status(pid: int) -> int | None:
    """The child's exit status once it has ended, else None (it is not waited for)."""
    done, status = os.waitpid(pid, os.WNOHANG)
    return os.waitstatus_to_exitcode(status) if done else None


def _kill_workers(running: dict[int, int]) -> None:
    for pid in running:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _read_worker(folder: Path, modules: list[nn.Module], status: int) -> tuple[object, bool]:
    """Bring a child's result and trained modules into this process; raise its error."""
    path = folder / "header.json"
    if not path.exists():
        raise RuntimeError(
            f"a worker process of reslib.runtime.parallel ended (exit status {status}) without its "
            f"result, e.g. killed for memory; run the calls one after the other to see the error"
        )
    header = json.loads(path.read_text())
    data = (folder / "blobs").read_bytes()
    ends = [*header["offsets"][1:], len(data)]
    blobs = [data[start:end] for start, end in zip(header["offsets"], ends, strict=True)]
    sys.stdout.write(header["stdout"])
    sys.stderr.write(header["stderr"])
    for module, state in zip(modules, header["modules"], strict=True):
        _load_module_state(module, state, blobs)
    if "error" in header:
        e = header["error"]
        kind = getattr(builtins, e["type"]) if e["builtin"] else RuntimeError
        message = e["message"] if e["builtin"] else f"{e['type']}: {e['message']}"
        error = kind(message)
        error.add_note(f"raised in a worker process of reslib.runtime.parallel:\n{e['traceback']}")
        raise error
    return _decode(header["result"], blobs), header["moved"]


# ----------------------------------------------------------------------------------------------------
# Modules: values, training flags and generators, by name
# ----------------------------------------------------------------------------------------------------


def _module_generators(module: nn.Module) -> Iterator[tuple[str, torch.Generator]]:
    for name, sub in module.named_modules():
        for attr, value in vars(sub).items():
            if isinstance(value, torch.Generator):
                yield f"{name}.{attr}", value


def _module_state(module: nn.Module, blobs: list[bytes]) -> dict:
    tensors = {f"p:{k}": v for k, v in module.named_parameters()}
    tensors |= {f"b:{k}": v for k, v in module.named_buffers()}
    return {
        "tensors": {k: _encode(v.detach(), blobs) for k, v in tensors.items()},
        "training": [m.training for m in module.modules()],
        "generators": {k: _encode(g.get_state(), blobs) for k, g in _module_generators(module)},
    }


@torch.no_grad()
def _load_module_state(module: nn.Module, state: dict, blobs: list[bytes]) -> None:
    for key, value in state["tensors"].items():
        kind, name = key.split(":", 1)
        target = module.get_parameter(name) if kind == "p" else module.get_buffer(name)
        target.copy_(_decode(value, blobs))
    for m, training in zip(module.modules(), state["training"], strict=True):
        m.training = training
    generators = dict(_module_generators(module))
    for name, value in state["generators"].items():
        generators[name].set_state(_decode(value, blobs))


# ----------------------------------------------------------------------------------------------------
# Results: tagged JSON, arrays as raw bytes; the dataclasses of reslib only
# ----------------------------------------------------------------------------------------------------


def _encode(value: object, blobs: list[bytes]) -> object:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "biuf":
        array = np.array(value, order="C")  # a NumPy scalar stays 0-d
        blobs.append(array.tobytes())
        return {"numpy": str(array.dtype), "shape": list(array.shape), "blob": len(blobs) - 1}
    if isinstance(value, float) and not isinstance(value, np.generic):
        return {"float": repr(value)} if not math.isfinite(value) else value
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [_encode(v, blobs) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: _encode(v, blobs) for k, v in value.items()}}
    if isinstance(value, torch.Tensor) and value.device.type == "cpu" and value.layout == torch.strided:
        tensor = value.detach().contiguous().reshape(-1)
        blobs.append(tensor.view(torch.uint8).numpy().tobytes())
        dtype = str(value.dtype).removeprefix("torch.")
        return {"torch": dtype, "shape": list(value.shape), "blob": len(blobs) - 1}
    kind = type(value)
    if dataclasses.is_dataclass(value) and kind.__module__.startswith("reslib."):
        fields = {f.name: _encode(getattr(value, f.name), blobs) for f in dataclasses.fields(value)}
        return {"dataclass": f"{kind.__module__}:{kind.__qualname__}", "fields": fields}
    raise TypeError(f"reslib.runtime.parallel cannot bring a {kind.__name__} back from a worker process")


def _decode(value: object, blobs: list[bytes]) -> object:
    if not isinstance(value, dict):
        return value
    if "float" in value:
        return float(value["float"])
    if "list" in value:
        return [_decode(v, blobs) for v in value["list"]]
    if "tuple" in value:
        return tuple(_decode(v, blobs) for v in value["tuple"])
    if "dict" in value:
        return {k: _decode(v, blobs) for k, v in value["dict"].items()}
    if "numpy" in value:
        array = np.frombuffer(blobs[value["blob"]], dtype=value["numpy"]).reshape(value["shape"]).copy()
        return array if value["shape"] else array[()]
    if "torch" in value:
        dtype, raw = getattr(torch, value["torch"]), blobs[value["blob"]]
        if not raw:  # no elements
            return torch.empty(value["shape"], dtype=dtype)
        return torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(value["shape"])
    module, _, qualname = value["dataclass"].partition(":")
    kind = importlib.import_module(module)
    for part in qualname.split("."):
        kind = getattr(kind, part)
    if not (module.startswith("reslib.") and dataclasses.is_dataclass(kind)):
        raise ValueError(f"a worker process returned {value['dataclass']}, not a dataclass of reslib")
    return kind(**{k: _decode(v, blobs) for k, v in value["fields"].items()})
