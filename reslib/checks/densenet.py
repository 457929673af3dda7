"""Exercise checks for DenseNets: channels inside a dense block, transition parameters."""

from __future__ import annotations

from collections.abc import Callable

from reslib.checks.core import CheckResult, compare
from reslib.costs import count_parameters
from reslib.densenet import DenseBlock, Transition
from reslib.validate import typechecked

__all__ = [
    "check_dense_block_channels",
    "check_transition_parameters",
]


@typechecked
def check_dense_block_channels(fn: Callable[[int, int, int], list[int]]) -> CheckResult:
    """Exercise (08): `fn(k0, k, num_layers)` lists the input channels of every layer, then the output."""
    cases = [(24, 12, 16), (64, 32, 6), (5, 1, 3), (8, 4, 1)]

    def reference(k0: int, k: int, n: int) -> list[int]:
        block = DenseBlock(n, k0, k)
        return [layer.in_channels for layer in block.values()] + [block.out_channels]

    return compare(
        "dense_block_channels",
        fn,
        reference,
        cases,
        (
            "each layer reads everything before it and adds k channels; the list has one entry "
            "per layer and one more for the block's output.",
            "layer l (counting from 0) reads k0 + l*k channels; the block outputs all of them "
            "concatenated, k0 + num_layers*k (one more entry than there are layers).",
        ),
        atol=0.0,
        rtol=0.0,
    )


@typechecked
def check_transition_parameters(fn: Callable[[int, float], int]) -> CheckResult:
    """Exercise (08): `fn(m, theta)`, parameters of a transition from m channels, compression theta."""
    cases = [(256, 0.5), (512, 0.5), (330, 0.5), (100, 1.0), (99, 0.3)]

    def reference(m: int, theta: float) -> int:
        return count_parameters(Transition(m, max(1, int(theta * m))))

    return compare(
        "transition_parameters",
        fn,
        reference,
        cases,
        (
            "add up the three parts: BN over m channels, a bias-free 1x1 conv, the average pool; "
            "how many output channels does the conv have?",
            "BN has 2 parameters per input channel (scale and shift); the 1x1 conv maps m to "
            "floor(theta*m) channels with no bias, m * floor(theta*m); pooling has none.",
        ),
        atol=0.0,
        rtol=0.0,
    )
