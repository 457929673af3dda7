"""Guards that run inside a computation, where `reslib.validate` guards a public call's arguments.

- `require_input`: what every module's `forward` checks first (a floating-point tensor of the
  shape and dtype it was built for), so a learner's `mlp(...)(x.long())` names the module and the
  fix instead of "mat1 and mat2 must have the same dtype". Attributes only: no values are read.
- `require_work`: the twin of `reslib.validate.require_memory` for time. A call whose estimated
  run time passes `WORK_LIMIT` is refused before it starts (`steps=10**6` is a typo, not an
  experiment), with the arguments, the estimate and the limit in the message.
"""

from __future__ import annotations

import torch

from reslib.validate import require_float, typechecked

__all__ = [
    "FLOPS_PER_SECOND",
    "OPERATION_SECONDS",
    "WORK_LIMIT",
    "input_layout",
    "require_input",
    "require_work",
]

# The longest one call may be expected to run, estimated before it starts (`require_work`): the
# series' largest call takes about 10 s on 2 cores; past a minute a learner thinks the kernel hung.
WORK_LIMIT = 60.0  # seconds
# What the estimate assumes: one laptop core's rate on our small tensors, and the fixed cost of
# one PyTorch operation called from Python (dispatch, allocation), measured on a 2-core machine.
FLOPS_PER_SECOND = 5e9
OPERATION_SECONDS = 1e-5


@typechecked
def input_layout(dims: str, stacked: bool = False) -> str:
    """An input layout in words, for `require_input`'s message: "(B, T, d_model)".

    With `stacked`, "(models, B, T, d_model)": `reslib.stacking.grouped` gives each weight, and so
    each input, a leading model dimension.
    """
    return f"(models, {dims})" if stacked else f"({dims})"


def require_input(
    module: torch.nn.Module,
    x: object,
    ndim: int | tuple[int, ...],
    size: tuple[int, int] | None = None,
    like: torch.Tensor | None = None,
    name: str = "x",
    layout: str = "",
) -> torch.Tensor:
    """What a module's `forward` checks first: a floating-point tensor of the shape it was built for.

    Cheap (attributes only, no values read, no device sync), so every `forward` in reslib can call
    it. Works on meta tensors and inside `torch.func.vmap` (where shapes are per model).

    Args:
        module: the module whose `forward` is checking, named in the message.
        ndim: the allowed number(s) of dimensions, batch axis included.
        size: (dim, n): `x.shape[dim]` must be `n` (the features or channels the module was built for).
        like: a parameter of the module: `x` must have its dtype and device.
        name: the argument's name in `forward`.
        layout: the expected layout in words, e.g. "(N, C, H, W)", for the message.

    Raises:
        TypeError: `x` is not a tensor, not floating point, or not `like`'s dtype.
        ValueError: the wrong number of dimensions or size, or not on `like`'s device.
    """
    where = f"{type(module).__name__}.forward: {name}"
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{where} must be a torch.Tensor, got {type(x).__name__}; "
            f"convert it with torch.as_tensor({name}, dtype=torch.float32)"
        )
    if not x.is_floating_point():
        raise TypeError(f"{where} must be a floating-point tensor, got dtype {x.dtype}; call {name}.float()")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if x.ndim not in allowed:
        dims = " or ".join(map(str, allowed))
        shape = f" {layout}" if layout else ""
        fix = (
            f"; add the batch axis with {name}[None]"
            if x.ndim + 1 in allowed
            else "; pass one batch, without extra axes"
            if x.ndim > max(allowed)
            else ""
        )
        raise ValueError(f"{where} must have {dims} dimensions{shape}, got shape {tuple(x.shape)}{fix}")
    if size is not None:
        dim, n = size
        if x.shape[dim] != n:
            raise ValueError(
                f"{where} must have size {n} in dimension {dim % x.ndim} (the size {type(module).__name__} "
                f"was built for), got shape {tuple(x.shape)}"
            )
    if like is not None:
        if x.dtype != like.dtype:
            cast = {torch.float32: ".float()", torch.float64: ".double()", torch.float16: ".half()"}
            call = cast.get(like.dtype, f".to({like.dtype})")
            raise TypeError(
                f"{where} has dtype {x.dtype}, but {type(module).__name__}'s weights are {like.dtype}; "
                f"call {name}{call} (or convert the module)"
            )
        if x.device != like.device:
            raise ValueError(
                f"{where} is on {x.device}, but {type(module).__name__}'s weights are on {like.device}; "
                f"call {name}.to({str(like.device)!r})"
            )
    return x


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:,.0f} min" if seconds < 7200 else f"{seconds / 3600:,.1f} h"


@typechecked
def require_work(
    given: dict, flops: float = 0.0, operations: float = 0.0, limit: float = WORK_LIMIT
) -> float:
    """Refuse, before starting, a call whose estimated run time passes `limit` seconds.

    Memory has `require_memory`; this is its twin for time. The estimate is
    `flops / FLOPS_PER_SECOND + operations * OPERATION_SECONDS`: the arithmetic, plus the fixed
    cost of each PyTorch operation a Python loop calls (which dominates for small tensors, such
    as a million steps of a tiny model). Callers count both from their arguments in closed form.

    Args:
        given: the arguments that set the work, by name, all named in the message.
        flops: floating-point operations the call would do.
        operations: PyTorch operations (module calls, kernel launches) it would issue.

    Returns:
        The estimate in seconds.

    Raises:
        ValueError: the estimate passes `limit`; names the arguments, the estimate and the limit.
    """
    flops = require_float("flops", flops, minimum=0.0)
    operations = require_float("operations", operations, minimum=0.0)
    limit = require_float("limit", limit, minimum=0.0, strict_minimum=True)
    seconds = float(flops) / FLOPS_PER_SECOND + float(operations) * OPERATION_SECONDS
    if seconds > limit:
        args = ", ".join(f"{k}={v!r}" for k, v in given.items())
        raise ValueError(
            f"{args} would run for about {_duration(seconds)} (about {float(flops):.2g} FLOPs and "
            f"{float(operations):.2g} PyTorch operations), past the limit of {limit:g} s"
            f"{' (reslib.guard.WORK_LIMIT)' if limit == WORK_LIMIT else ''}; use smaller sizes or fewer steps"
        )
    return seconds
