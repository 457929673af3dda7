"""Tensor arguments: the kind of dtype, the number of dimensions, a batch of examples.

The tensor counterpart of `reslib.core`'s checks, with the same rule: a wrong type (not a tensor,
or integers where floats are expected) raises `TypeError`, a wrong value (dimensions, an empty
batch, lengths that disagree) raises `ValueError`, and the message names the argument.
"""

from __future__ import annotations

import torch

from reslib.argtypes import typechecked
from reslib.core import check_choice

__all__ = ["check_batch", "check_tensor"]


def _fix(fix: str) -> str:
    return f"; {fix}" if fix else ""


_DTYPES = {
    "float": (torch.Tensor.is_floating_point, "a floating-point tensor", "x.float()"),
    "label": (lambda t: t.dtype in (torch.int64, torch.int32, torch.uint8), "integer labels", "y.long()"),
}


@typechecked
def check_tensor(
    name: str,
    value: object,
    ndim: int | tuple[int, ...] | None = None,
    dtype: str | None = None,
    nonempty: bool = True,
    fix: str = "",
) -> torch.Tensor:
    """Return `value` if it is a tensor of the expected number of dimensions and kind of dtype.

    Args:
        ndim: the allowed number(s) of dimensions; None: any.
        dtype: "float" (any floating point), "label" (class indices: int64, int32 or uint8) or None.
        nonempty: refuse a tensor with no elements (an empty batch).

    Raises:
        TypeError: `value` is not a tensor, or its dtype is of the wrong kind.
        ValueError: the wrong number of dimensions, or no elements.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}{_fix(fix)}")
    if dtype is not None:
        ok, words, cast = _DTYPES[check_choice("dtype", dtype, _DTYPES)]
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
    return value


@typechecked
def check_batch(
    x: object, y: object, x_name: str = "x", y_name: str = "y"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs `x` (N, ...) of floats and class labels `y` (N,), with N >= 1 examples in both.

    Raises:
        TypeError: not tensors, or `x` not floating point, or `y` not integer labels.
        ValueError: `y` not 1-D, `x` without a batch axis, empty, or different lengths.
    """
    check_tensor(x_name, x, dtype="float")
    check_tensor(y_name, y, ndim=1, dtype="label", fix="one class index per example")
    if x.ndim < 2 or len(x) != len(y):
        raise ValueError(
            f"{x_name} {tuple(x.shape)} and {y_name} {tuple(y.shape)} need one row per example, the same N; "
            f"index one example as {x_name}[None]"
        )
    return x, y
