"""The ground floor: argument checks, the 1-D/2-D layer choice and the residual add.

Every other module builds on these; this one imports nothing from `reslib`.

One rule for bad arguments, followed everywhere in `reslib`:

- a wrong *type* (a float `2.0` where a count is expected, a string for a number)
  raises `TypeError`;
- a wrong *value* of the right type (a depth of 0, a stride of 3, an unknown
  option) raises `ValueError`;
- every message names the argument, shows what was given, says what is
  expected and, where there is one, how to fix it.

`bool` is never accepted as a number, although Python counts it as an `int`:
`depth=True` is a bug, not a depth of 1.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import NamedTuple

import torch
from torch import nn

from reslib.argtypes import typechecked

__all__ = [
    "INITS",
    "MAX_BLOCKS",
    "MEMORY_LIMIT",
    "Layers",
    "byte_cache",
    "check_bool",
    "check_choice",
    "check_float",
    "check_int",
    "check_memory",
    "layers_for",
    "residual_add",
]


# The one init vocabulary of the series: the weight variance times fan-in, sigma_w^2 * fan_in.
# "he" keeps E[h^2] constant through ReLU layers (He et al. 2015); "glorot" keeps the variance
# through linear or tanh layers (Glorot and Bengio 2010: 2 / (fan_in + fan_out), which is
# 1 / fan_in for a square layer).
INITS: dict[str, float] = {"he": 2.0, "glorot": 1.0}


def _fix(fix: str) -> str:
    return f"; {fix}" if fix else ""


@typechecked
def check_int(
    name: str, value: object, minimum: int | None = 1, maximum: int | None = None, fix: str = ""
) -> int:
    """Return `value` as an `int` if it is an integer in `[minimum, maximum]` (None: no bound).

    NumPy integers count as integers; floats such as `2.0` and bools do not.

    Raises:
        TypeError: `value` is not an int (floats and bools included).
        ValueError: `value` is out of range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        hint = f" (use {int(value)})" if isinstance(value, float) and value.is_integer() else ""
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}{hint}{_fix(fix)}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if maximum is None:
            expected = f">= {minimum}"
        elif minimum is None:
            expected = f"<= {maximum}"
        else:
            expected = f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an int {expected}, got {value}{_fix(fix)}")
    return int(value)


@typechecked
def check_float(
    name: str,
    value: object,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    fix: str = "",
) -> float:
    """Return `value` as a float if it is a finite real number in range (ints are accepted).

    Args:
        strict_minimum: require `value > minimum` instead of `value >= minimum`.

    Raises:
        TypeError: `value` is not a real number (bools included).
        ValueError: `value` is not finite or is out of range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}{_fix(fix)}")
    for bound, given in (("minimum", minimum), ("maximum", maximum)):
        if given is not None and math.isnan(given):
            raise ValueError(f"{bound} must be a number or None, got nan (checking {name})")
    value = float(value)
    low_ok = minimum is None or (value > minimum if strict_minimum else value >= minimum)
    if not math.isfinite(value) or not low_ok or (maximum is not None and value > maximum):
        parts = []
        if minimum is not None:
            parts.append(f"{'>' if strict_minimum else '>='} {minimum:g}")
        if maximum is not None:
            parts.append(f"<= {maximum:g}")
        expected = "a finite number" + (" " + " and ".join(parts) if parts else "")
        raise ValueError(f"{name} must be {expected}, got {value!r}{_fix(fix)}")
    return value


@typechecked
def check_bool(name: str, value: object) -> bool:
    """Return `value` if it is a `bool`.

    Raises:
        TypeError: `value` is not True or False.
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


@typechecked
def check_choice(name: str, value: object, choices: Iterable[object], fix: str = "") -> object:
    """Return `value` if it is one of `choices`.

    Raises:
        ValueError: `value` is not one of `choices`.
    """
    choices = tuple(choices)
    if not any(value is c or (type(value) is type(c) and value == c) for c in choices):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}{_fix(fix)}")
    return value


# The most blocks or layers one network or sweep may have: the deepest network of the series, the
# 1001-layer pre-activation ResNet, has 333 blocks. Past this a loop runs for minutes, not a typo's worth.
MAX_BLOCKS = 10_000

# The most one call may allocate. Binder gives a whole notebook 2 GB; a request past this is a
# typo (width=10**5) far more often than an experiment, and it would take the kernel down.
MEMORY_LIMIT = 2**30  # bytes, 1 GiB


@typechecked
def check_memory(name: str, value: object, nbytes: int, limit: int = MEMORY_LIMIT) -> int:
    """Refuse, before allocating, a call whose estimated allocation `nbytes` passes `limit`.

    Args:
        name, value: the argument that sets the size, for the message; or `name` a summary
            ("sizes") and `value` a dict of several arguments, all named in the message.
        nbytes: the estimated bytes the call would allocate.

    Raises:
        ValueError: `nbytes > limit`; the message names the argument(s) and the limit.
    """
    if nbytes > limit:
        given = (
            ", ".join(f"{k}={v!r}" for k, v in value.items())
            if isinstance(value, dict)
            else f"{name}={value!r}"
        )
        raise ValueError(
            f"{given} would allocate about {nbytes / 2**20:,.0f} MiB, past the limit of "
            f"{limit / 2**20:,.0f} MiB (reslib.core.MEMORY_LIMIT); "
            + ("use smaller sizes" if isinstance(value, dict) else f"use a smaller {name}")
        )
    return nbytes


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
    check_int("max_bytes", max_bytes, minimum=0)

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


class Layers(NamedTuple):
    """The layer classes for 1-D signals (`dim=1`) or 2-D images (`dim=2`)."""

    conv: type[nn.Module]
    batch_norm: type[nn.Module]
    max_pool: type[nn.Module]
    avg_pool: type[nn.Module]
    adaptive_avg_pool: type[nn.Module]


_LAYERS = {
    1: Layers(nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d, nn.AvgPool1d, nn.AdaptiveAvgPool1d),
    2: Layers(nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d),
}


@typechecked
def layers_for(dim: int) -> Layers:
    """`Conv1d`, `BatchNorm1d`, ... for `dim=1` (signals such as MNIST-1D); the 2-D ones for `dim=2`.

    Raises:
        TypeError: `dim` is not an int.
        ValueError: `dim` is not 1 or 2.
    """
    check_int("dim", dim, 1, 2, fix="use 1 for signals (N, C, L) or 2 for images (N, C, H, W)")
    return _LAYERS[dim]


@typechecked
def residual_add(x: torch.Tensor, fx: torch.Tensor) -> torch.Tensor:
    r"""The skip connection $x + F(x)$, with an error that says what to do when shapes differ.

    Raises:
        ValueError: when `F(x)` and `x` do not have the same shape.
    """
    if fx.shape != x.shape:
        raise ValueError(
            f"residual add needs equal shapes, got fx = F(x) {tuple(fx.shape)} and x {tuple(x.shape)}; "
            "make the branch keep the shape or add a projection shortcut (a linear map or 1x1 conv "
            "from x's channels to F(x)'s)"
        )
    return x + fx
