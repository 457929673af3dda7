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
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = ["check_type", "describe", "matches", "typechecked"]

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
        return callable(value)
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
        name = f"nn.{name}"
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
    if isinstance(value, torch.nn.Module) and any(typing.get_origin(a) is type for a in wanted):
        return f" (pass the class, not an instance: {type(value).__name__}, without the parentheses)"
    if isinstance(value, (list, tuple, np.ndarray)) and torch.Tensor in wanted:
        return " (make it a tensor with torch.tensor(...))"
    return ""


def check_type(name: str, value: object, annotation: object, where: str = "") -> object:
    """Return `value` if it matches `annotation`.

    Raises:
        TypeError: naming `name`, the expected type in words, and what was given.
    """
    if not matches(value, annotation):
        prefix = f"{where}: " if where else ""
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin in _SEQUENCES and origin is not tuple and args and isinstance(value, abc.Sequence):
            i = next(i for i, v in enumerate(value) if not matches(v, args[0]))  # name the element
            name, value, annotation = f"{name}[{i}]", value[i], args[0]
        raise TypeError(
            f"{prefix}{name} must be {describe(annotation)}, got {_given(value)}{_fix(value, annotation)}"
        )
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
                check_type(name, value, hints[name], where)
        for name, value in kwargs.items():
            if name in hints:
                check_type(name, value, hints[name], where)
        return fn(*args, **kwargs)

    return checked
