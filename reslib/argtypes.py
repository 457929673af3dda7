"""Argument types checked against a function's own annotations, with messages for learners.

`@typechecked` on a public function (or class: its `__init__`) checks every argument a caller
passes against the annotation, before the body runs, and raises `TypeError` naming the argument,
what it expected and what it got. The body then checks *values* (ranges, shapes, sizes) with
`reslib.core`. The rules follow `reslib.core`'s: an `int` is an integer and never a `bool` (NumPy
integers count), a `float` is any real number but a `bool`, a `bool` is `True` or `False`, and
`type[nn.Module]` wants the class itself, not an instance. Defaults are not checked (they are
ours). Checking costs a few microseconds per call.

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
import numbers
import reprlib
import threading
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = ["MODULE_LIMIT", "check_type", "describe", "matches", "typechecked"]

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


def _fix(value: object, annotation: object) -> str:
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


def check_type(name: str, value: object, annotation: object, where: str = "") -> object:
    """Return `value` if it matches `annotation`.

    Raises:
        TypeError: naming `name`, the expected type in words, and what was given.
    """
    if not isinstance(name, str) or not isinstance(where, str):
        raise TypeError(f"check_type: name and where must be strings, got {name!r} and {where!r}")
    if not matches(value, annotation):
        prefix = f"{where}: " if where else ""
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin in _SEQUENCES and origin is not tuple and args and isinstance(value, (list, tuple)):
            bad = [i for i, v in enumerate(value) if not matches(v, args[0])]  # name the element
            if bad:
                name, value, annotation = f"{name}[{bad[0]}]", value[bad[0]], args[0]
        raise TypeError(
            f"{prefix}{name} must be {describe(annotation)}, got {_given(value)}{_fix(value, annotation)}"
        )
    return value


def typechecked(fn: F) -> F:
    """Check the arguments of `fn` (or of a class's `__init__`) against their annotations.

    An `nn.Module` class is also sized before it allocates: it is built once on PyTorch's `meta`
    device (shapes only, no memory), and a module whose weights and buffers would pass
    `MODULE_LIMIT` bytes raises `ValueError` naming the size arguments given.
    """
    if isinstance(fn, type):
        fn.__init__ = _wrap(fn.__init__, fn.__name__)
        if issubclass(fn, torch.nn.Module):
            fn.__init__ = _sized(fn.__init__, fn)
        return fn
    return _wrap(fn, fn.__name__)


# The most one module's weights and buffers may hold (reslib.core.MEMORY_LIMIT is the same 1 GiB).
MODULE_LIMIT = 2**30
_sizing = threading.local()  # set while an outer module is being sized or built: inner ones skip it


def _sized(init: Callable, cls: type) -> Callable:
    where = cls.__name__

    @functools.wraps(init)
    def sized_init(self: torch.nn.Module, *args: object, **kwargs: object) -> None:
        # a subclass's own arguments are not these: only the class itself is sized here
        if getattr(_sizing, "active", False) or type(self) is not cls:
            return init(self, *args, **kwargs)
        _sizing.active = True
        try:
            nbytes = _meta_bytes(type(self), args, kwargs)
            if nbytes > MODULE_LIMIT:
                given = [f"{k}={v!r}" for k, v in _named(init, args, kwargs) if _is_size(v)]
                raise ValueError(
                    f"{where}({', '.join(given)}) would hold {_mib(nbytes)} of weights, "
                    f"past the limit of {MODULE_LIMIT / 2**20:,.0f} MiB; use smaller sizes"
                )
            init(self, *args, **kwargs)
        finally:
            _sizing.active = False

    return sized_init


def _mib(nbytes: int) -> str:
    return "more than 2^63 bytes" if nbytes >= 2**63 else f"about {nbytes / 2**20:,.0f} MiB"


def _is_size(value: object) -> bool:
    return matches(value, int) or matches(value, abc.Sequence[int])


def _named(init: Callable, args: tuple, kwargs: dict) -> list[tuple[str, object]]:
    names = [p for p in inspect.signature(init).parameters if p != "self"]
    return [*zip(names, args, strict=False), *kwargs.items()]


def _meta_bytes(cls: type, args: tuple, kwargs: dict) -> int:
    """Bytes of a module's parameters and buffers, from a build on the meta device (0 if it cannot)."""
    try:
        with torch.device("meta"):
            module = cls(*args, **kwargs)
    except (TypeError, ValueError, RecursionError):
        raise
    except (MemoryError, OverflowError):
        return 2**63
    except Exception as exc:  # something that needs real memory (a seeded draw): build it for real
        return 2**63 if "overflow" in str(exc) else 0  # a tensor too large to count bytes for
    return sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))


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
                check_type(name, value, hints[name], where)
        for name, value in kwargs.items():
            if name in hints:
                check_type(name, value, hints[name], where)
        return fn(*args, **kwargs)

    return checked
