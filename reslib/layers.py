"""The layers every model is built from: 1-D or 2-D layer classes, the residual add, the stems.

`layers_for(dim)` lets one block definition serve signals (`dim=1`, MNIST-1D) and images (`dim=2`);
`residual_add` is the skip connection $x + F(x)$ with an error that says what to do when the
shapes differ.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import NamedTuple

import torch
from torch import nn

from reslib.validate import require_int, typechecked

__all__ = ["STEM_TYPES", "Layers", "layers_for", "residual_add"]

# The two stems of the series' CNNs: "imagenet", a 7x7 stride-2 conv and a 3x3 stride-2 max pool
# (a 224-pixel image becomes 56 x 56), and "cifar", one 3x3 conv that keeps a 32-pixel image whole.
STEM_TYPES = ("imagenet", "cifar")


class _LayerClasses(NamedTuple):
    conv: type[nn.Module]
    batch_norm: type[nn.Module]
    max_pool: type[nn.Module]
    avg_pool: type[nn.Module]
    adaptive_avg_pool: type[nn.Module]


class Layers(_LayerClasses):
    """The layer classes for 1-D signals (`dim=1`) or 2-D images (`dim=2`).

    Raises:
        TypeError: on construction, a field that is not an `nn.Module` class.
    """

    __slots__ = ()

    def __new__(cls, *args: object, **kwargs: object) -> Layers:
        layers = super().__new__(cls, *args, **kwargs)
        for name, value in zip(layers._fields, layers, strict=True):
            if not (isinstance(value, type) and issubclass(value, nn.Module)):
                raise TypeError(
                    f"Layers: {name} must be an nn.Module class such as nn.Conv2d (the class, not an "
                    f"instance), got {type(value).__name__} {value!r}"
                )
        return layers

    @classmethod
    def _make(cls, iterable: object) -> Layers:
        """What `_replace` builds with: through `__new__`, so a replaced field is checked too."""
        return cls(*iterable)


_LAYERS = MappingProxyType(
    {
        1: Layers(nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d, nn.AvgPool1d, nn.AdaptiveAvgPool1d),
        2: Layers(nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d),
    }
)


@typechecked
def layers_for(dim: int) -> Layers:
    """`Conv1d`, `BatchNorm1d`, ... for `dim=1` (signals such as MNIST-1D); the 2-D ones for `dim=2`.

    Raises:
        TypeError: `dim` is not an int.
        ValueError: `dim` is not 1 or 2.
    """
    require_int("dim", dim, 1, 2, fix="use 1 for signals (N, C, L) or 2 for images (N, C, H, W)")
    return _LAYERS[dim]


@typechecked
def residual_add(x: torch.Tensor, fx: torch.Tensor) -> torch.Tensor:
    r"""The skip connection $x + F(x)$, with an error that says what to do when shapes differ.

    Only attributes are read (shape, dtype, device), so it costs nothing next to the add and works
    on meta tensors, which count FLOPs and trace diagrams.

    Raises:
        TypeError: `x` or `fx` is not a floating-point tensor (an integer or complex one).
        ValueError: when `F(x)` and `x` do not have the same shape, or are on different devices.
    """
    for name, t in (("x", x), ("fx", fx)):
        if not t.is_floating_point():
            raise TypeError(
                f"residual add needs floating-point tensors, got {name} of dtype {t.dtype}; "
                f"call {name}.float()"
            )
    if fx.shape != x.shape:
        raise ValueError(
            f"residual add needs equal shapes, got fx = F(x) {tuple(fx.shape)} and x {tuple(x.shape)}; "
            "make the branch keep the shape or add a projection shortcut (a linear map or 1x1 conv "
            "from x's channels to F(x)'s)"
        )
    if fx.device != x.device:
        raise ValueError(
            f"residual add needs x and fx = F(x) on one device, got x on {x.device} and fx on {fx.device}; "
            f"move one of them, e.g. fx.to({str(x.device)!r})"
        )
    return x + fx
