"""Feed every public callable of `reslib` bad arguments, one at a time, and sort what happens.

    python -m tools.fuzz [--json FILE]

Discovery is automatic: every function and class named in any `__all__` of `reslib` and its
subpackages (exceptions and result records, i.e. frozen dataclasses and named tuples, excepted).
Each gets one *valid* call: its defaults, plus a value for each required argument from `VALID`
(by argument name) or `EXAMPLES` (by callable). A new function whose valid call cannot be built
is listed as `no example`, and the test fails until one is added here.

Then each annotated argument is replaced by bad values derived from its annotation:
- wrong types: a string, a float, a bool, None, an int, a module instance, a list (whichever do
  not match the annotation). Expected: `TypeError` naming the argument.
- NaN for a float: never valid. Expected: `ValueError` naming the argument.
- edge values: -1, 0 and 10**12 for an int, -1 and inf for a float, "bogus" for a string. They are
  valid for some arguments, so returning is fine; an error must be a clear one, and 10**12 must
  neither hang nor allocate past `reslib.core.MEMORY_LIMIT`.

Outcomes: `clear` (TypeError/ValueError raised in reslib, naming the argument), `accepted` (an
edge value returned), `silent` (a wrong type or NaN returned), `unclear` (any other error, or one
that does not name the argument), `hang` (past `TIME_LIMIT` seconds). The run is its own process,
with an address-space limit, so a runaway allocation fails instead of taking the machine down.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import importlib
import inspect
import json
import math
import pkgutil
import re
import resource
import signal
import sys
import time
import traceback
import typing
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import reslib as rl
from reslib.argtypes import matches

TIME_LIMIT = 3.0  # seconds per call
HUGE = 10**12
PACKAGE = Path(rl.__file__).parent


class Hang(Exception):
    """Raised by the alarm when one call runs past TIME_LIMIT."""


def discover() -> dict[str, object]:
    """'module.name' -> every public function and class, each once (at its first `__all__`)."""
    found: dict[str, object] = {}
    seen: set[int] = set()
    names = ["reslib", *(m.name for m in pkgutil.walk_packages(rl.__path__, "reslib."))]
    for module_name in sorted(names):
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or id(obj) in seen:
                continue
            seen.add(id(obj))
            if inspect.isclass(obj) and (
                issubclass(obj, (BaseException, tuple)) or dataclasses.is_dataclass(obj)
            ):
                continue  # exceptions and result records are made by reslib, not by callers
            found[f"{obj.__module__}.{name}"] = obj
    return found


def _data() -> rl.data.TensorData:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 40, generator=g), torch.arange(16) % 10
    return rl.data.TensorData(x[:12], y[:12], x[12:], y[12:], 10)


def _residual_mlp() -> nn.Module:
    return rl.mlp.mlp(2, 8, 40, 10, residual=True)


# Valid values by argument name, for arguments without a default.
VALID: dict[str, Callable[[], object]] = {
    **{
        k: (lambda v=v: v)
        for k, v in dict(
            depth=2,
            width=8,
            in_features=40,
            out_features=10,
            in_channels=4,
            out_channels=4,
            planes=4,
            kernel_size=3,
            growth_rate=4,
            num_init_features=8,
            num_layers=2,
            num_features=3,
            num_classes=2,
            num_keypoints=2,
            num_blocks=1,
            n_blocks=4,
            order=1,
            size=8,
            stride=2,
            seed=0,
            epochs=1,
            max_depth=3,
            dim=1,
            max_bytes=1000,
            nbytes=10,
            lr=0.1,
            momentum=0.1,
            gain=2.0,
            residual_scale=1.0,
            shortcut_scale=1.0,
            survival=0.5,
            target=1.0,
            w1=0.5,
            w2=0.5,
            w3=0.5,
            wr=0.5,
            residual=True,
            name="x",
            title="t",
            yaxis="y",
            hint="a hint",
        ).items()
    },
    "data": _data,
    "model": _residual_mlp,
    "x": lambda: torch.randn(4, 40),
    "y": lambda: torch.arange(4),
    "fn": lambda: lambda *args: 0,
}


def _gradient_flow():
    data = _data()
    return rl.gradients.gradient_flow(3, "relu", data.x_train, data.y_train)


EXAMPLES: dict[str, Callable[[], dict]] = {}


def valid_call(target: Callable, key: str) -> dict | None:
    """Keyword arguments for one valid call of `target`, or None when none is known."""
    if key in EXAMPLES:
        return EXAMPLES[key]()
    fn = target.__init__ if inspect.isclass(target) else target
    kwargs = {}
    for p in inspect.signature(fn).parameters.values():
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is not p.empty:
            continue
        if p.name not in VALID:
            return None
        kwargs[p.name] = VALID[p.name]()
    return kwargs


def _type_probes() -> list[object]:
    return ["zz", 2.5, True, None, 3, nn.Identity(), [1.5]]


def probes(annotation: object) -> list[tuple[str, object, str]]:
    """(label, bad value, kind) for one argument: kind 'type' and 'nan' must fail, 'edge' may pass."""
    found = [(f"type {v!r:.20}", v, "type") for v in _type_probes() if not matches(v, annotation)]
    members = typing.get_args(annotation) or (annotation,)
    if int in members:
        found += [(f"edge {v}", v, "edge") for v in (-1, 0, HUGE)]
    if float in members:
        found += [("nan", math.nan, "nan"), ("edge -1.0", -1.0, "edge"), ("edge inf", math.inf, "edge")]
    if str in members and typing.get_origin(annotation) is not typing.Literal:
        found.append(("edge 'bogus'", "bogus", "edge"))
    return found


def _alarm(signum, frame):
    raise Hang


def _raised_in_reslib(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE)


def outcome(target: Callable, kwargs: dict, name: str, kind: str) -> tuple[str, str]:
    """Call once; return (outcome, message)."""
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        target(**kwargs)
    except Hang:
        return "hang", f"no result within {TIME_LIMIT:g} s"
    except (TypeError, ValueError) as exc:
        message = f"{type(exc).__name__}: {exc}"
        wanted = TypeError if kind == "type" else ValueError if kind == "nan" else (TypeError, ValueError)
        named = re.search(rf"\b{re.escape(name)}\b", str(exc)) is not None
        if named and _raised_in_reslib(exc) and isinstance(exc, wanted):
            return "clear", message
        return "unclear", message + f" @ {traceback.extract_tb(exc.__traceback__)[-1].filename}"
    except Exception as exc:  # sorting every failure is the point
        return "unclear", f"{type(exc).__name__}: {exc}"[:300]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return ("accepted" if kind == "edge" else "silent"), "returned"


def run() -> dict:
    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, _alarm)
    rows, missing, failing = [], [], []
    for key, target in discover().items():
        kwargs = valid_call(target, key)
        if kwargs is None:
            missing.append(key)
            continue
        kind, message = outcome(target, kwargs, "", "edge")
        if kind != "accepted":
            failing.append(f"{key}: {message}")
            continue
        fn = target.__init__ if inspect.isclass(target) else target
        hints = typing.get_type_hints(fn)
        for p in inspect.signature(fn).parameters.values():
            if p.name not in hints or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            for label, value, kind in probes(hints[p.name]):
                call = {**(valid_call(target, key) or {}), p.name: value}
                result, message = outcome(target, call, p.name, kind)
                rows.append(dict(callable=key, argument=p.name, probe=label, outcome=result, message=message))
    return dict(rows=rows, no_example=missing, valid_call_fails=failing)


def summary(report: dict) -> str:
    counts = collections.Counter(r["outcome"] for r in report["rows"])
    total = len(report["rows"])
    callables = len({r["callable"] for r in report["rows"]})
    lines = [f"fuzz: {total} bad inputs to {callables} public callables"]
    lines += [
        f"  {k:9s} {counts[k]:5d}  ({100 * counts[k] / max(total, 1):.1f} %)"
        for k in ("clear", "accepted", "silent", "unclear", "hang")
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write every row here")
    parser.add_argument("--memory", type=float, default=2.0, help="GiB of address space past the start")
    args = parser.parse_args()
    start = time.perf_counter()
    import psutil

    limit = psutil.Process().memory_info().vms + int(args.memory * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    report = run()
    report["seconds"] = time.perf_counter() - start
    report["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(summary(report))
    print(f"  {report['seconds']:.1f} s, peak RSS {report['peak_rss_gib']:.2f} GiB")
    for key in ("no_example", "valid_call_fails"):
        for item in report[key]:
            print(f"{key}: {item}")
    for r in report["rows"]:
        if r["outcome"] in ("silent", "unclear", "hang"):
            print(f"{r['outcome']:8s} {r['callable']}({r['argument']}={r['probe']}): {r['message'][:200]}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    sys.exit(0)


if __name__ == "__main__":
    main()
