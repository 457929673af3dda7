"""Counting what a network costs: parameters and floating-point operations."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_flops", "count_parameters"]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    r"""The number of scalar parameters, $\sum_p \mathrm{numel}(p)$.

    Buffers, such as batch norm's running statistics, are not parameters and are not counted.

    Args:
        model: any module.
        trainable_only: count only parameters with `requires_grad=True`.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    r"""Floating-point operations of one forward pass on a zero input of `input_shape`.

    Counted by `torch.utils.flop_counter.FlopCounterMode`, which counts matrix
    products and convolutions: a multiply-add is 2 FLOPs, so a linear layer
    costs $2 \cdot N \cdot C_{in} \cdot C_{out}$; element-wise ops
    (activations, BN, adds) are not counted. MACs = FLOPs / 2.

    Args:
        model: any module; run in eval mode for the count, then restored.
        input_shape: the input's shape including the batch dimension, e.g. `(1, 40)`.
    """
    shape = tuple(input_shape)
    if not shape or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(f"input_shape must be a tuple of positive ints (batch first), got {shape}")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(shape, device=device))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())
