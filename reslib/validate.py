"""Argument validation, in one place: types from annotations, values, tensors and devices.

One rule for bad arguments, followed everywhere in `reslib`:

- a wrong *type* (a float `2.0` where a count is expected, a string for a number, integers where
  floats are expected) raises `TypeError`;
- a wrong *value* of the right type (a depth of 0, a stride of 3, an unknown option, a tensor
  with the wrong number of dimensions, a size that would not fit in memory) raises `ValueError`;
- every message names the argument, shows what was given, says what is expected and, where
  there is one, how to fix it.

`@typechecked` on a public function (or class: its `__init__`) checks every argument a caller
passes against its annotation before the body runs; the body then checks values with the
`require_*` functions. An `int` is an integer and never a `bool` (`depth=True` is a bug, not a
depth of 1; NumPy integers count), a `float` is any real number but a `bool`, and
`type[nn.Module]` wants the class itself, not an instance. Defaults are not checked (they are
ours). `@sized(formula)` on a module class refuses, before `__init__` allocates anything, a
module whose weights would pass `MODULE_LIMIT`: the formula counts them from the constructor's
arguments. The names `check_*` are kept for the exercise checks in `reslib.checks`.

Example:
    >>> @typechecked
    ... def stack(depth: int, width: int = 8) -> None: ...
    >>> stack(2.0)
    Traceback (most recent call last):
    TypeError: stack: depth must be an int, got float 2.0 (use 2)
"""

from __future__ import annotations

import collections.abc as abc
import functools
import inspect
import math
import numbers
import reprlib
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = [
    "MAX_BLOCKS",
    "MAX_SEED",
    "MEMORY_LIMIT",
    "MODULE_LIMIT",
    "describe",
    "matches",
    "require_array",
    "require_batch",
    "require_bool",
    "require_choice",
    "require_device",
    "require_float",
    "require_int",
    "require_memory",
    "require_seed",
    "require_tensor",
    "require_type",
    "sized",
    "typechecked",
]

# The most blocks or layers one network or sweep may have: the deepest network of the series, the
# 1001-layer pre-activation ResNet, has 333 blocks. A network this deep builds in about a second
# (an MLP of 1,000 layers in 0.15 s, a stage of 1,000 bottlenecks in about 1 s); 10,000 took 5-18 s.
MAX_BLOCKS = 1_000

# The most one call may allocate. Binder gives a whole notebook 2 GB; a request past this is a
# typo (width=10**5) far more often than an experiment, and it would take the kernel down.
MEMORY_LIMIT = 2**30  # bytes, 1 GiB

# The largest seed: torch's generators take a signed 64-bit integer.
MAX_SEED = 2**63 - 1


# ---------------------------------------------------------------------------------------------
# Types, read from annotations
# ---------------------------------------------------------------------------------------------

F = TypeVar("F", bound=Callable)
_SEQUENCES = (abc.Sequence, abc.Iterable, list, tuple)
_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlist = 40, 40, 4


def _members(annotation: object) -> tuple:
    """The alternatives of a union (`int | None` -> (int, NoneType)); the annotation itself otherwise."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def matches(value: object, annotation: object) -> bool:
    """Whether `value` is of the annotated type (elements of sequences and mappings included)."""
    if annotation in (Any, object, inspect.Parameter.empty):
        return True
    if annotation is None or annotation is type(None):
        return value is None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, a) for a in args)
    if annotation is bool:
        return isinstance(value, (bool, np.bool_))
    if annotation is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if annotation is float:
        return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if origin is typing.Literal:
        return any(value is a or (type(value) is type(a) and value == a) for a in args)
    if origin is type:
        return isinstance(value, type) and (not args or issubclass(value, args[0]))
    if origin is abc.Callable or annotation is abc.Callable:
        return callable(value) and not (_builds_module(annotation) and isinstance(value, torch.nn.Module))
    if origin in (abc.Mapping, dict):
        return (
            isinstance(value, abc.Mapping)
            and all(matches(k, args[0]) and matches(v, args[1]) for k, v in value.items())
            if args
            else isinstance(value, abc.Mapping)
        )
    if origin in _SEQUENCES:
        if isinstance(value, (str, bytes)) or not isinstance(value, abc.Iterable):
            return False
        if not isinstance(value, abc.Sequence) or not args:
            return True  # a generator is not consumed to look at it
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args, strict=True))
        return all(matches(v, args[0]) for v in value)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True  # an annotation this checker does not read (a TypeVar, a Protocol) accepts anything


def _builds_module(annotation: object) -> bool:
    """A factory such as `norm_layer: Callable[[int], nn.Module]`: a module instance is the wrong thing."""
    args = typing.get_args(annotation)
    result = args[-1] if args else None
    return isinstance(result, type) and issubclass(result, torch.nn.Module)


def describe(annotation: object) -> str:
    """The annotation in words: `Sequence[int] | None` -> 'a list or tuple of ints, or None'."""
    if annotation is None or annotation is type(None):
        return "None"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return ", or ".join(describe(a) for a in args)
    words = {bool: "True or False", int: "an int", float: "a number", str: "a string"}
    if annotation in words:
        return words[annotation]
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin is type:
        return f"a class (a subclass of {args[0].__name__ if args else 'object'}, not an instance)"
    if _builds_module(annotation):
        return "a class or function that builds a module (such as nn.BatchNorm2d)"
    if origin is abc.Callable or annotation is abc.Callable:
        return "a function (something callable)"
    if origin in (abc.Mapping, dict):
        return "a dict" + (f" of {describe(args[1])}" if args else "")
    if origin in _SEQUENCES:
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return f"a tuple of {len(args)} ({', '.join(describe(a) for a in args)})"
        return "a list or tuple" + (f" of {describe(args[0]).split(' ', 1)[-1]}s" if args else "")
    if annotation is torch.Tensor:
        return "a torch.Tensor"
    name = getattr(annotation, "__name__", str(annotation))
    if getattr(annotation, "__module__", "").startswith("torch.nn"):
        return f"an nn.{name}"
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _given(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {_short.repr(value)}"


def _type_fix(value: object, annotation: object) -> str:
    wanted = _members(annotation)
    if int in wanted and isinstance(value, float) and value.is_integer():
        return f" (use {int(value)})"
    if isinstance(value, str) and (int in wanted or float in wanted):
        return " (a number, without quotes)"
    if isinstance(value, torch.nn.Module) and any(
        typing.get_origin(a) is type or _builds_module(a) for a in wanted
    ):
        return f" (pass the class, not an instance: {type(value).__name__}, without the parentheses)"
    if isinstance(value, (list, tuple, np.ndarray)) and torch.Tensor in wanted:
        return " (make it a tensor with torch.tensor(...))"
    return ""


def require_type(name: str, value: object, annotation: object, where: str = "") -> object:
    """Return `value` if it matches `annotation`.

    Raises:
        TypeError: naming `name`, the expected type in words, and what was given.
    """
    if not isinstance(name, str) or not isinstance(where, str):
        raise TypeError(f"require_type: name and where must be strings, got {name!r} and {where!r}")
    if not matches(value, annotation):
        prefix = f"{where}: " if where else ""
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin in _SEQUENCES and origin is not tuple and args and isinstance(value, (list, tuple)):
            bad = [i for i, v in enumerate(value) if not matches(v, args[0])]  # name the element
            if bad:
                name, value, annotation = f"{name}[{bad[0]}]", value[bad[0]], args[0]
        fix = _type_fix(value, annotation)
        raise TypeError(f"{prefix}{name} must be {describe(annotation)}, got {_given(value)}{fix}")
    return value


def typechecked(fn: F) -> F:
    """Check the arguments of `fn` (or of a class's `__init__`) against their annotations."""
    if isinstance(fn, type):
        fn.__init__ = _wrap(fn.__init__, fn.__name__)
        return fn
    return _wrap(fn, fn.__name__)


def _wrap(fn: Callable, where: str) -> Callable:
    parameters = list(inspect.signature(fn).parameters.values())
    positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    hints: dict[str, object] | None = None  # resolved on the first call: names may be defined later

    @functools.wraps(fn)
    def checked(*args: object, **kwargs: object) -> object:
        nonlocal hints
        if hints is None:
            hints = {k: v for k, v in typing.get_type_hints(fn).items() if k != "return"}
        for name, value in zip(positional, args, strict=False):  # extra args go to *args
            if name in hints:
                require_type(name, value, hints[name], where)
        for name, value in kwargs.items():
            if name in hints:
                require_type(name, value, hints[name], where)
        return fn(*args, **kwargs)

    return checked


# ---------------------------------------------------------------------------------------------
# Sizes, from a formula
# ---------------------------------------------------------------------------------------------

# The most one module's weights and buffers may hold: the same 1 GiB as any other allocation.
MODULE_LIMIT = MEMORY_LIMIT


@typechecked
def sized(formula: Callable[..., int]) -> Callable[[type], type]:
    """Class decorator: refuse, before `__init__` allocates, a module whose weights would pass `MODULE_LIMIT`.

    `formula` takes the constructor's arguments by name, defaults filled in (`**_` takes the
    ones it does not need), and returns how many values (parameters and buffers) the module
    holds: a closed form, cheap for any input, since it runs before `__init__` checks the values
    (a negative or absurd size only needs to give a number; the body then says what is wrong).
    The class gets it as `cls.weight_count(*args, **kwargs)`, called like the constructor, so a
    container adds up the formulas of its parts.

    Put it below `@typechecked`: types are checked first, then the formula, then `__init__`.

    Example:
        >>> @typechecked
        ... @sized(lambda in_features, out_features, **_: in_features * out_features + out_features)
        ... class Dense(torch.nn.Module):  # a weight matrix and a bias
        ...     def __init__(self, in_features: int, out_features: int): ...
        >>> Dense.weight_count(3, 2)
        8
    """

    def decorate(cls: type) -> type:
        init = cls.__init__
        arguments = inspect.signature(init)
        constructor = arguments.replace(parameters=list(arguments.parameters.values())[1:])  # no self

        def weight_count(*args: object, **kwargs: object) -> int:
            bound = constructor.bind(*args, **kwargs)
            bound.apply_defaults()
            return formula(**bound.arguments)

        @functools.wraps(init)
        def sized_init(self: torch.nn.Module, *args: object, **kwargs: object) -> None:
            try:
                constructor.bind(*args, **kwargs)
            except TypeError:  # arguments that do not fit the signature: __init__ says which
                return init(self, *args, **kwargs)
            nbytes = weight_count(*args, **kwargs) * torch.get_default_dtype().itemsize
            if nbytes > MODULE_LIMIT:
                given = [f"{k}={v!r}" for k, v in _named(init, args, kwargs) if _is_size(v)]
                raise ValueError(
                    f"{cls.__name__}({', '.join(given)}) would hold {_mib(nbytes)} of weights, "
                    f"past the limit of {MODULE_LIMIT / 2**20:,.0f} MiB; use smaller sizes"
                )
            init(self, *args, **kwargs)

        weight_count.__doc__ = f"Values (parameters and buffers) a `{cls.__name__}(...)` holds."
        cls.__init__, cls.weight_count = sized_init, staticmethod(weight_count)
        return cls

    return decorate


def _mib(nbytes: int) -> str:
    return "more than 2^63 bytes" if nbytes >= 2**63 else f"about {nbytes / 2**20:,.0f} MiB"


def _is_size(value: object) -> bool:
    return matches(value, int) or matches(value, abc.Sequence[int])


def _named(init: Callable, args: tuple, kwargs: dict) -> list[tuple[str, object]]:
    names = [p for p in inspect.signature(init).parameters if p != "self"]
    return [*zip(names, args, strict=False), *kwargs.items()]


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


def _fix(fix: str) -> str:
    return f"; {fix}" if fix else ""


@typechecked
def require_int(
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
def require_float(
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
def require_seed(name: str, value: object) -> int:
    """Return `value` as an `int` if it is a seed torch can take: an integer in [0, `MAX_SEED`].

    Raises:
        TypeError: `value` is not an int.
        ValueError: negative, or past 2**63 - 1.
    """
    return require_int(
        name, value, minimum=0, maximum=MAX_SEED, fix="any integer from 0 to 2**63 - 1 will do"
    )


@typechecked
def require_array(name: str, value: object, ndim: int) -> np.ndarray:
    """Return `value` if it is a non-empty NumPy array of `ndim` dimensions (a record's field).

    Raises:
        TypeError: not a NumPy array, the wrong number of dimensions, or empty.
    """
    require_int("ndim", ndim, maximum=32)
    if not isinstance(value, np.ndarray) or value.ndim != ndim or not value.size:
        raise TypeError(
            f"{name} must be a non-empty {ndim}-D numpy array, got {type(value).__name__} "
            f"{getattr(value, 'shape', '')}; pass np.asarray(...)"
        )
    return value


@typechecked
def require_bool(name: str, value: object) -> bool:
    """Return `value` if it is a `bool`.

    Raises:
        TypeError: `value` is not True or False.
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


@typechecked
def require_choice(name: str, value: object, choices: Iterable[object], fix: str = "") -> object:
    """Return `value` if it is one of `choices`.

    Raises:
        ValueError: `value` is not one of `choices`.
    """
    choices = tuple(choices)
    if not any(value is c or (type(value) is type(c) and value == c) for c in choices):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}{_fix(fix)}")
    return value


@typechecked
def require_memory(name: str, value: object, nbytes: int, limit: int = MEMORY_LIMIT) -> int:
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
            f"{limit / 2**20:,.0f} MiB (reslib.validate.MEMORY_LIMIT); "
            + ("use smaller sizes" if isinstance(value, dict) else f"use a smaller {name}")
        )
    return nbytes


# ---------------------------------------------------------------------------------------------
# Tensors and devices
# ---------------------------------------------------------------------------------------------


_DTYPES = {
    "float": (torch.Tensor.is_floating_point, "a floating-point tensor", "x.float()"),
    "label": (lambda t: t.dtype in (torch.int64, torch.int32, torch.uint8), "integer labels", "y.long()"),
}


@typechecked
def require_tensor(
    name: str,
    value: object,
    ndim: int | tuple[int, ...] | None = None,
    dtype: str | None = None,
    nonempty: bool = True,
    fix: str = "",
    finite: bool = False,
) -> torch.Tensor:
    """Return `value` if it is a tensor of the expected number of dimensions and kind of dtype.

    Args:
        ndim: the allowed number(s) of dimensions; None: any.
        dtype: "float" (any floating point), "label" (class indices: int64, int32 or uint8) or None.
        nonempty: refuse a tensor with no elements (an empty batch).
        finite: refuse NaN and infinity, and tensors on the meta device (they hold no values).
            It reads the tensor (a device sync on a GPU): for inputs, not for an inner loop.

    Raises:
        TypeError: `value` is not a tensor, or its dtype is of the wrong kind.
        ValueError: the wrong number of dimensions, no elements, or (`finite`) NaN or infinity.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}{_fix(fix)}")
    if dtype is not None:
        ok, words, cast = _DTYPES[require_choice("dtype", dtype, _DTYPES)]
        if not ok(value):
            raise TypeError(f"{name} must hold {words}, got dtype {value.dtype} (use {cast}){_fix(fix)}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and value.ndim not in allowed:
        dims = " or ".join(map(str, allowed))
        raise ValueError(f"{name} must have {dims} dimensions, got shape {tuple(value.shape)}{_fix(fix)}")
    if nonempty and value.numel() == 0:
        raise ValueError(
            f"{name} is empty (shape {tuple(value.shape)}); pass at least one example{_fix(fix)}"
        )
    if finite:
        if value.device.type == "meta":
            raise ValueError(f"{name} is on the meta device and holds no values; pass real data{_fix(fix)}")
        if value.is_floating_point() or value.is_complex():
            bad = int((~torch.isfinite(value)).sum())
            if bad:
                raise ValueError(
                    f"{name} holds NaN or infinity ({bad} of {value.numel()} values); "
                    f"clean the data first, e.g. {name}.nan_to_num(){_fix(fix)}"
                )
    return value


@typechecked
def require_batch(
    x: object, y: object, x_name: str = "x", y_name: str = "y"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs `x` (N, ...) of floats and class labels `y` (N,), with N >= 1 examples in both.

    Raises:
        TypeError: not tensors, or `x` not floating point, or `y` not integer labels.
        ValueError: `y` not 1-D, `x` without a batch axis, empty, or different lengths.
    """
    require_tensor(x_name, x, dtype="float")
    require_tensor(y_name, y, ndim=1, dtype="label", fix="one class index per example")
    if x.ndim < 2 or len(x) != len(y):
        raise ValueError(
            f"{x_name} {tuple(x.shape)} and {y_name} {tuple(y.shape)} need one row per example, the same N; "
            f"index one example as {x_name}[None]"
        )
    return x, y


@typechecked
def require_device(name: str, value: torch.device | str | None) -> torch.device | None:
    """`value` as a `torch.device` that exists on this machine; None stays None.

    Callers write `require_device("device", device) or reslib.device()`: the device asked for,
    else the best one here.

    Raises:
        ValueError: an unknown device name, or one this machine does not have (say `cuda` on a
            laptop); the message names `name` and says what to pass instead.
    """
    if value is None:
        return None
    try:
        dev = torch.device(value)
    except RuntimeError:
        raise ValueError(
            f"{name} must be a device such as 'cpu', 'cuda' or 'mps', got {value!r}; "
            "pass reslib.device() for the best one here"
        ) from None
    mps = getattr(torch.backends, "mps", None)
    available = {
        "cpu": True,
        "meta": True,
        "cuda": torch.cuda.is_available(),
        "mps": mps is not None and mps.is_available(),
    }
    if not available.get(dev.type, False):
        raise ValueError(
            f"{name}={value!r}: this machine has no {dev.type} device; pass reslib.device() "
            "(the best device here) or None"
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"{name}={value!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return dev
