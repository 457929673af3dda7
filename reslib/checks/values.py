"""An answer's value read as numbers, strictly: what `reslib.checks.core.compare` compares.

Numbers, tensors, NumPy arrays and scalars, and tuples/lists of them become float64 tensors;
anything else (a string, None, a dict, complex numbers, a tensor subclass whose
`__torch_function__` could lie, a meta tensor) raises `AnswerTypeError` with what it was.
`describe` and `describe_case` name shapes and cases in a check's messages. Like
`reslib.checks.answers`, nothing here is for a learner, so `__all__` is empty.
"""

from __future__ import annotations

import numbers
import reprlib
from typing import Any

import numpy as np
import torch

from reslib.language import tr

__all__: list[str] = []


class AnswerTypeError(TypeError):
    """An answer's value is not a number, a tensor, an array, or a tuple/list of them."""


def _leaf(value: Any) -> torch.Tensor:
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise AnswerTypeError(tr("a NumPy array of {dtype}, expected numbers", dtype=array.dtype))
        return torch.from_numpy(array.astype(np.float64))
    if isinstance(value, torch.Tensor):
        if type(value) not in (torch.Tensor, torch.nn.Parameter):  # its __torch_function__ could lie
            kind = type(value).__name__
            raise AnswerTypeError(tr("a tensor subclass {kind}, expected a plain torch.Tensor", kind=kind))
        if value.is_complex() or value.device.type == "meta":
            message = tr(
                "a {dtype} tensor on {device}, expected real numbers", dtype=value.dtype, device=value.device
            )
            raise AnswerTypeError(message)
        return value.detach().to("cpu", torch.float64)
    if isinstance(value, numbers.Real):
        return torch.tensor(float(value), dtype=torch.float64, device="cpu")
    raise AnswerTypeError(tr("a {kind} {value}", kind=type(value).__name__, value=reprlib.repr(value)))


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
            return torch.zeros(0, dtype=torch.float64, device="cpu")
        if all(isinstance(p, torch.Tensor) for p in parts) and len({p.shape for p in parts}) == 1:
            return torch.stack(parts)
        return tuple(parts)
    return _leaf(value)


def describe(values: torch.Tensor | tuple) -> str:
    """A short name of a converted value's shape, for messages."""
    if isinstance(values, tuple):
        return tr("{n} parts of different shapes", n=len(values))
    return tr("shape {shape}", shape=tuple(values.shape))


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
            return tr("a {kind} of {n}", kind=type(arg).__name__, n=len(arg))
        return type(arg).__name__

    return "(" + ", ".join(one(a) for a in case) + ")"
