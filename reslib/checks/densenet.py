"""Exercise checks for DenseNets: predictions of what a built network measures.

Each check takes the learner's *number* and compares it with a measurement of the real module
(`compare_value`): the channels a dense block and its transition hand on, found by a forward
pass; the parameters of DenseNet-BC at two growth rates, counted on the built models.
"""

from __future__ import annotations

import torch

from reslib.checks.core import CheckResult, compare_value
from reslib.costs import count_parameters
from reslib.densenet import DenseNet, densenet_bc
from reslib.validate import typechecked

__all__ = [
    "check_channels_after_transition",
    "check_growth_rate_factor",
]


def _channels_after_transition() -> int:
    """Channels entering block 2 of a DenseNet (k = 12, k0 = 25, 5 layers, theta = 0.5): measured."""
    model = DenseNet(12, (5, 5), 25, compression=0.5, num_classes=10, stem_type="cifar").eval()
    f = model.features
    with torch.no_grad():
        h = f.transition1(f.denseblock1(f.conv0(torch.zeros(1, 3, 8, 8))))  # (1, C, 4, 4)
    return h.shape[1]


@typechecked
def check_channels_after_transition(answer: object) -> CheckResult:
    """Exercise (08): the channels that leave the first transition (k = 12, k0 = 25, 5 layers, theta 0.5)."""
    return compare_value(
        "channels_after_transition",
        answer,
        _channels_after_transition,
        (
            "the dense block keeps its input and every layer's output: what does it return? "
            "The transition keeps a fraction theta of that, rounded down.",
            "the block returns 25 + 5 * 12 channels (the input survives as the first 25); the "
            "transition's 1x1 conv maps them to floor(0.5 * that).",
        ),
        what="the channels a forward pass through block 1 and transition 1 returns",
    )


def _growth_rate_factor() -> float:
    """Parameters of DenseNet-BC-100 at k = 24 over those at k = 12, both counted on built models."""
    with torch.device("meta"):  # shapes only: counting needs no memory for the weights
        small, large = densenet_bc(100, 12), densenet_bc(100, 24)
    return count_parameters(large) / count_parameters(small)


@typechecked
def check_growth_rate_factor(answer: object) -> CheckResult:
    """Exercise (08): how many times more parameters DenseNet-BC-100 has with k = 24 than with k = 12."""
    return compare_value(
        "growth_rate_factor",
        answer,
        _growth_rate_factor,
        (
            "which weights grow with k? The 3x3 conv maps 4k to k channels; the 1x1 conv reads c "
            "channels and writes 4k, and c itself (2k + l*k) grows with k.",
            "the large terms are products of two widths that both double: each grows about 2 * 2 "
            "times. Only BN and the classifier grow linearly, pulling the factor a little below that.",
        ),
        rtol=0.1,
        what="the ratio of the two parameter counts (within 10 %)",
    )
