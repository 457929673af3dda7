"""Exercise checks for DenseNets: predictions of what a built network measures, and a block to build.

Two checks take the learner's *number* and compare it with a measurement of the real module
(`compare_value`): the channels a dense block and its transition hand on, found by a forward
pass; the parameters of DenseNet-BC at two growth rates, counted on the built models. The third
takes the learner's dense block, loads `reslib`'s weights into it and compares the outputs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from reslib.checks.core import CheckResult, WrongAnswer, compare, compare_value
from reslib.checks.grading import case_seed
from reslib.costs import count_parameters
from reslib.densenet import DenseBlock, DenseNet, densenet_bc
from reslib.language import tr
from reslib.runtime import local_seed
from reslib.validate import typechecked

__all__ = [
    "check_channels_after_transition",
    "check_growth_rate_factor",
    "check_my_dense_block",
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
            tr(
                "the dense block keeps its input and every layer's output: what does it return? "
                "The transition keeps a fraction theta of that, rounded down."
            ),
            tr(
                "the block returns 25 + 5 * 12 channels (the input survives as the first 25); the "
                "transition's 1x1 conv maps them to floor(0.5 * that)."
            ),
        ),
        what=tr("the channels a forward pass through block 1 and transition 1 returns"),
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
            tr(
                "which weights grow with k? The 3x3 conv maps 4k to k channels; the 1x1 conv reads c "
                "channels and writes 4k, and c itself (2k + l*k) grows with k."
            ),
            tr(
                "the large terms are products of two widths that both double: each grows about 2 * 2 "
                "times. Only BN and the classifier grow linearly, pulling the factor a little below that."
            ),
        ),
        rtol=0.1,
        what=tr("the ratio of the two parameter counts (within 10 %)"),
    )


def _dense_block_case(num_layers: int, k0: int, k: int) -> tuple[DenseBlock, torch.Tensor]:
    """The reference `DenseBlock` for one case and its input, the same every call; the RNG left untouched."""
    with local_seed(case_seed(k0)):
        return DenseBlock(num_layers, k0, k).eval(), torch.randn(2, k0, 5, 4)  # x: (N, k0, H, W)


def _reference_dense_block(num_layers: int, k0: int, k: int) -> torch.Tensor:
    reference, x = _dense_block_case(num_layers, k0, k)
    with torch.no_grad():
        return reference(x)


def _run_dense_block(
    make: Callable[[int, int, int], nn.Module], num_layers: int, k0: int, k: int
) -> torch.Tensor:
    """The eval-mode output of `make(num_layers, k0, k)` with `DenseBlock`'s weights loaded."""
    reference, x = _dense_block_case(num_layers, k0, k)
    with local_seed(case_seed(0)):
        block = make(num_layers, k0, k)
    if not isinstance(block, nn.Module):
        raise WrongAnswer(
            tr("MyDenseBlock(...) should build an nn.Module, got a {kind}", kind=type(block).__name__)
        )
    layers = getattr(block, "layers", None)
    if not isinstance(layers, nn.ModuleList) or len(layers) != num_layers:
        if isinstance(layers, nn.ModuleList):
            message = tr(
                "self.layers should be an nn.ModuleList of {n} DenseLayers, got {count} entries",
                n=num_layers,
                count=len(layers),
            )
        else:
            message = tr(
                "self.layers should be an nn.ModuleList of {n} DenseLayers, got a {kind}",
                n=num_layers,
                kind=type(layers).__name__,
            )
        raise WrongAnswer(message)
    for i, (mine, theirs) in enumerate(zip(layers, reference.values(), strict=True)):
        reads = getattr(getattr(mine, "norm1", None), "num_features", None)
        if reads != theirs.norm1.num_features:
            raise WrongAnswer(
                tr(
                    "layer {i} of {n} (k0 = {k0}, k = {k}) is built to read {reads} channels; "
                    "count the channels the concatenation in front of it holds",
                    i=i + 1,
                    n=num_layers,
                    k0=k0,
                    k=k,
                    reads=reads,
                )
            )
        mine.load_state_dict(theirs.state_dict())
    with torch.no_grad():
        return block.eval()(x)


@typechecked
def check_my_dense_block(cls: Callable[[int, int, int], nn.Module]) -> CheckResult:
    """Exercise (08): `cls(num_layers, in_channels, growth_rate)` builds a working dense block.

    Its `self.layers` is an `nn.ModuleList` of `rl.densenet.DenseLayer`s; `reslib`'s `DenseBlock`
    weights are loaded into them, and the eval-mode outputs must agree (shape and values),
    including the block's input, which must come back untouched as the first k0 channels.
    """
    cases = [(4, 24, 12), (3, 5, 2), (1, 8, 4), (6, 16, 8)]
    return compare(
        "my_dense_block",
        lambda n, k0, k: _run_dense_block(cls, n, k0, k),
        _reference_dense_block,
        cases,
        (
            tr(
                "layer l (from 0) reads everything concatenated before it, so build it for that many "
                "channels; forward keeps a list [x, out_1, ...], runs each layer on their concatenation, "
                "and returns all of them concatenated along dim 1."
            ),
            tr(
                "__init__: self.layers = nn.ModuleList(rl.densenet.DenseLayer(in_channels + i * growth_rate, "
                "growth_rate) for i in range(num_layers)); forward: features = [x]; for each layer "
                "features.append(layer(torch.cat(features, 1))); return torch.cat(features, 1)."
            ),
        ),
        atol=1e-6,
        rtol=1e-5,
    )
