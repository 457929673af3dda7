"""Counting what a network costs: parameters and floating-point operations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from reslib.validate import require_int, require_tensor, typechecked

__all__ = [
    "LayerRow",
    "ParameterTable",
    "count_flops",
    "count_parameters",
    "parameter_table",
    "saved_tensor_bytes",
]


@typechecked
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


@typechecked
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
    shape = _require_shape(input_shape)
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


def _require_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    if not isinstance(input_shape, (tuple, list, torch.Size)):
        raise TypeError(
            f"input_shape must be a tuple of ints (batch first), got "
            f"{type(input_shape).__name__} {input_shape!r}"
        )
    if not input_shape:
        raise ValueError("input_shape must not be empty: give the batch size first, e.g. (1, 40)")
    return tuple(require_int(f"input_shape[{i}]", s) for i, s in enumerate(input_shape))


@dataclass(frozen=True)
class LayerRow:
    """One module call: its name, type, output shape, parameters (its own and its children's) and FLOPs."""

    name: str
    kind: str
    depth: int
    output_shape: tuple[int, ...] | None
    parameters: int
    flops: int


@dataclass(frozen=True)
class ParameterTable:
    """A torchinfo-style table; `repr` prints it, `rows` holds the numbers.

    `total_parameters` counts every parameter once; `total_flops` is the whole forward pass
    (a multiply-add is 2 FLOPs; MACs = FLOPs / 2).
    """

    rows: list[LayerRow] = field(default_factory=list)
    total_parameters: int = 0
    total_flops: int = 0
    input_shape: tuple[int, ...] = ()

    def __repr__(self) -> str:
        head = f"{'layer (type)':<40}{'output shape':>22}{'param #':>14}{'FLOPs':>18}"
        lines = [head, "=" * len(head)]
        for r in self.rows:
            label = "  " * (r.depth - 1) + f"{r.name} ({r.kind})"
            shape = str(list(r.output_shape)) if r.output_shape is not None else "-"
            lines.append(f"{label:<40}{shape:>22}{r.parameters:>14,}{r.flops:>18,}")
        lines += [
            "=" * len(head),
            f"input {list(self.input_shape)}; total params: {self.total_parameters:,}; "
            f"total FLOPs: {self.total_flops:,} ({self.total_flops / 2e9:.3g} GMACs)",
        ]
        return "\n".join(lines)


@typechecked
def parameter_table(model: nn.Module, input_shape: Sequence[int], depth: int | None = None) -> ParameterTable:
    r"""Run one forward pass on zeros and tabulate every module call, in call order.

    Output shapes come from forward hooks; FLOPs from `torch.utils.flop_counter`
    (the counter's running total before and after each call, so a row includes its
    children). A conv costs $2 \cdot k^d C_{in} C_{out} \cdot \text{output positions}$
    FLOPs per example. Build big models under `torch.device("meta")` to count without
    allocating memory: the zeros go to the model's device.

    Args:
        model: any module (put in eval mode for the pass, then restored).
        input_shape: input shape with the batch dimension, e.g. `(1, 3, 224, 224)`.
        depth: `None` lists the leaf modules (as torchsummary does); an int lists every
            module whose qualified name has at most `depth` parts (1 = the model's children).

    Returns:
        A `ParameterTable`; a module called twice (a shared ReLU) appears twice.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    shape = _require_shape(input_shape)
    if depth is not None:
        require_int("depth", depth, fix="or None for the leaf modules")
    named = [(n, m) for n, m in model.named_modules() if n]
    if depth is None:
        chosen = [(n, m) for n, m in named if not list(m.children())]
    else:
        chosen = [(n, m) for n, m in named if n.count(".") < depth]
    rows: list[tuple[int, LayerRow]] = []
    counter = FlopCounterMode(display=False)
    starts: dict[int, list[tuple[int, int]]] = {}
    calls = [0]

    def pre_hook(module: nn.Module, args) -> None:
        starts.setdefault(id(module), []).append((calls[0], counter.get_total_flops()))
        calls[0] += 1

    def make_hook(name: str):
        def hook(module: nn.Module, args, output) -> None:
            call, start = starts[id(module)].pop()
            out = tuple(output.shape) if isinstance(output, torch.Tensor) else None
            rows.append(
                (
                    call,
                    LayerRow(
                        name,
                        type(module).__name__,
                        name.count(".") + 1,
                        out,
                        count_parameters(module),
                        int(counter.get_total_flops() - start),
                    ),
                )
            )

        return hook

    handles = []
    for name, module in chosen:
        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(make_hook(name)))
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            model(torch.zeros(shape, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    # post-hooks fire inner-first: list the rows in the order the calls started
    return ParameterTable(
        [row for _, row in sorted(rows, key=lambda r: r[0])],
        count_parameters(model),
        int(counter.get_total_flops()),
        shape,
    )


@typechecked
def saved_tensor_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of `model(x).sum()`.

    Each storage is counted once (a view shares its base's memory); parameters are excluded.
    """
    require_tensor("x", x, dtype="float")
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum()
    return sum(seen.values())
