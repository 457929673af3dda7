"""Exercise checks for ResNets: a broken block to fix, bottleneck parameters, stage shapes, option A."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from reslib.blocks import BasicBlock, Bottleneck, PadShortcut
from reslib.checks.core import CheckResult, WrongAnswer, compare, compare_value
from reslib.checks.grading import case_seed
from reslib.costs import count_parameters, stage_costs
from reslib.language import tr
from reslib.resnet import cifar_resnet
from reslib.runtime import local_seed
from reslib.validate import typechecked

__all__ = [
    "check_bottleneck_parameters",
    "check_cifar_parameter_count",
    "check_first_bottleneck_parameters",
    "check_fixed_block",
    "check_pad_shortcut",
    "check_stage_shapes",
]


def _shortcut_given_back(
    cls: Callable[..., nn.Module], in_channels: int, mid: int, out: int, x: torch.Tensor
):
    """Run the learner's block on x; return max |block(x) - ReLU(shortcut(x))| with the branch switched off.

    On the way, everything a fixed block must be is checked, and a `WrongAnswer` says what is not:
    it runs (a RuntimeError from the addition goes back to the learner as it is), keeps the map's
    size, returns the channels it planned (x's own, or `out_channels` through a projection), has a
    `shortcut` that maps x to that shape (the identity wherever x already has that shape), and
    really adds its branch: with the last norm (or conv) of the branch zeroed, F(x) = 0 and the
    block must give back ReLU(shortcut(x)); with it, the block must differ from that.
    """
    with local_seed(case_seed(0)):  # the same weights on every run, the notebook's RNG untouched
        block = cls(in_channels, mid, out)
    if not isinstance(block, nn.Module):
        raise WrongAnswer(
            tr(
                "FixedBlock({in_channels}, {mid}, {out}) gave a {kind}, not an nn.Module",
                in_channels=in_channels,
                mid=mid,
                out=out,
                kind=type(block).__name__,
            )
        )
    block.eval()  # batch norm with its running statistics: a fixed function of x
    with torch.no_grad():
        y = block(x)  # a RuntimeError here is the error the broken block raised: reported as it is
        if not isinstance(y, torch.Tensor) or y.dim() != 4:
            raise WrongAnswer(
                tr("forward returned {kind}, expected a tensor (N, C, H, W)", kind=type(y).__name__)
            )
        if y.shape[0] != x.shape[0] or y.shape[2:] != x.shape[2:]:
            raise WrongAnswer(
                tr(
                    "x {x_shape} gave {y_shape}: keep the batch and the map (padding=1, stride 1)",
                    x_shape=tuple(x.shape),
                    y_shape=tuple(y.shape),
                )
            )
        if y.shape[1] not in (in_channels, out):
            raise WrongAnswer(
                tr(
                    "FixedBlock({in_channels}, {mid}, {out}) returned {channels} channels; a fix returns "
                    "x's {in_channels} (the branch comes back to in_channels) or the planned {out} "
                    "(projection)",
                    in_channels=in_channels,
                    mid=mid,
                    out=out,
                    channels=y.shape[1],
                )
            )
        shortcut = getattr(block, "shortcut", None)
        if not isinstance(shortcut, nn.Module):
            raise WrongAnswer(tr("name the skip path self.shortcut: nn.Identity(), or a projection module"))
        s = shortcut(x)
        if s.shape != y.shape:
            raise WrongAnswer(
                tr(
                    "self.shortcut(x) has shape {s_shape} but the block returns {y_shape}: "
                    "the shortcut must bring x to F(x)'s shape",
                    s_shape=tuple(s.shape),
                    y_shape=tuple(y.shape),
                )
            )
        if y.shape[1] == in_channels and not torch.equal(s, x):
            raise WrongAnswer(
                tr(
                    "with {in_channels} channels in and out, x can be added as it is: make self.shortcut the "
                    "identity (a projection there costs weights and makes the skip one more layer)",
                    in_channels=in_channels,
                )
            )
        names = [n for n in ("bn2", "conv2") if isinstance(getattr(block, n, None), nn.Module)]
        last = getattr(block, names[0]) if names else None
        if last is None or not any(True for _ in last.parameters()):
            raise WrongAnswer(tr("keep the branch's layer names from BrokenBlock (conv1, bn1, conv2, bn2)"))
        expected = torch.relu(s)
        if (y - expected).abs().max() < 1e-4:
            raise WrongAnswer(tr("the output is ReLU(shortcut(x)) alone: the branch F(x) never reaches it"))
        for p in last.parameters():
            p.zero_()  # F(x) = 0: the last BN now outputs 0 (or the last conv does)
        diff = (block(x) - expected).abs().max()
        if diff > 1e-4:
            raise WrongAnswer(
                tr(
                    "with F(x) switched off ({layer} zeroed) the block must give back "
                    "ReLU(self.shortcut(x)), but it is off by {diff:.3g}: "
                    "forward must return ReLU(F(x) + self.shortcut(x))",
                    layer=names[0],
                    diff=diff,
                )
            )
        return diff


@typechecked
def check_fixed_block(cls: Callable[..., nn.Module]) -> CheckResult:
    """Exercise (06): `cls(in_channels, mid_channels, out_channels)` is notebook 06's broken block, fixed.

    The block is run on x with `in_channels` channels for the broken case (256, 64, 64), a case that
    needs no projection (64, 16, 64) and a small one (32, 8, 16); see `_shortcut_given_back` for
    what each case must show. Either fix passes: a branch that returns to x's channels (identity
    shortcut), or `out_channels` with a projection shortcut. An addition that still fails is
    reported with PyTorch's own RuntimeError.
    """
    with local_seed(case_seed(5)):  # the inputs, drawn without moving the notebook's RNG
        cases = [(c, m, o, torch.randn(2, c, 6, 6)) for c, m, o in [(256, 64, 64), (64, 16, 64), (32, 8, 16)]]
    return compare(
        "fixed block",
        lambda c, m, o, x: _shortcut_given_back(cls, c, m, o, x),
        lambda c, m, o, x: torch.zeros(()),
        cases,
        (
            tr(
                "read the error: which two tensors does the + try to add, and how many channels does each "
                "have? Either the branch must end with x's channels, or x must be brought to the branch's."
            ),
            tr(
                "keep conv1/bn1/conv2/bn2, add self.shortcut = nn.Identity() when in_channels == "
                "out_channels, else nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), "
                "nn.BatchNorm2d(out_channels)); forward: return self.relu(fx + self.shortcut(x))."
            ),
        ),
        atol=1e-6,
        rtol=0.0,
    )


@typechecked
def check_first_bottleneck_parameters(answer: Any) -> CheckResult:
    """Exercise (06): predict the parameters of `Bottleneck(256, 128, stride=2)`; the check counts them."""
    return compare_value(
        "first bottleneck parameters",
        answer,
        lambda: count_parameters(Bottleneck(256, 128, stride=2)),
        (
            tr(
                "the block's output has 4 x 128 channels, its input 256, and its map is halved: x cannot be "
                "added as it is. What does the shortcut need, and how many weights does that cost?"
            ),
            tr(
                "three convs (1x1 256->128, 3x3 128->128, 1x1 128->512), a BN after each (2 per channel), "
                "and on the shortcut a strided 1x1 conv 256->512 with its own BN; the stride "
                "adds no weights."
            ),
        ),
        what="rl.costs.count_parameters(rl.blocks.Bottleneck(256, 128, stride=2))",
    )


@typechecked
def check_bottleneck_parameters(fn: Callable[[int, int], int]) -> CheckResult:
    """Exercise (06): `fn(in_channels, planes)` = parameters of `Bottleneck(in_channels, planes)` with BN."""
    cases = [(256, 64), (64, 64), (1024, 256), (512, 128), (16, 4)]
    return compare(
        "bottleneck parameters",
        fn,
        lambda c, p: count_parameters(Bottleneck(c, p)),
        cases,
        (
            tr(
                "list the block's convs and norms with their channels; do not forget the shortcut "
                "when the input does not already have 4 * planes channels."
            ),
            tr(
                "three convs (1x1 C->p, 3x3 p->p, 1x1 p->4p), a BN with 2 parameters per channel "
                "after each, and a 1x1 projection (C * 4p) + BN (2 * 4p) on the shortcut when C != 4p."
            ),
        ),
        solved_by=(Bottleneck,),  # the exercise asks for the count without building it
    )


@typechecked
def check_stage_shapes(fn: Callable[[int, str], list]) -> CheckResult:
    """Exercise (07): `fn(image_size, block)` = output shapes (C, H, W) of layer1..layer4 of ResNet-18/50."""
    blocks = {"basic": (BasicBlock, [2, 2, 2, 2]), "bottleneck": (Bottleneck, [3, 4, 6, 3])}

    def reference(size: int, block: str) -> list:
        b, layers = blocks[block]
        return [r.shape for r in stage_costs(b, layers, image_size=size)[1:-1]]

    cases = [(224, "basic"), (224, "bottleneck"), (160, "basic"), (64, "bottleneck"), (97, "basic")]
    return compare(
        "stage shapes",
        fn,
        reference,
        cases,
        (
            tr("count the stride-2 steps before layer1 and between the stages; odd sizes round up."),
            tr(
                "the stem halves the size twice (7x7/2 conv, 3x3/2 max-pool, padding keeps "
                "ceil(size/2)); layer2..4 halve it again; channels are 64, 128, 256, 512 "
                "times the block's expansion (1 basic, 4 bottleneck)."
            ),
        ),
    )


@typechecked
def check_cifar_parameter_count(fn: Callable[[int], int]) -> CheckResult:
    """Exercise (07): `fn(depth)` = parameters of `cifar_resnet(depth)` (option A, 10 classes)."""
    cases = [(8,), (20,), (32,), (56,), (110,)]
    return compare(
        "CIFAR ResNet parameters",
        fn,
        lambda d: count_parameters(cifar_resnet(d)),
        cases,
        (
            tr("sum stem + three stages of n blocks + fc; which parts have no parameters?"),
            tr(
                "n = (depth - 2) / 6 basic blocks per stage; each block has two 3x3 convs and two "
                "BNs; option A shortcuts have no parameters; add the 3x3 3->16 stem conv + BN "
                "and the 64->10 fc with its bias."
            ),
        ),
        solved_by=(cifar_resnet,),  # the exercise asks for the count without building it
    )


@typechecked
def check_pad_shortcut(fn: Callable[[torch.Tensor, int, int], torch.Tensor]) -> CheckResult:
    """Exercise (07): `fn(x, out_channels, stride)` = option A's shortcut of a (N, C, H, W) tensor x.

    The reference is `reslib.blocks.PadShortcut(C, out_channels, stride)`.
    """
    with local_seed(case_seed(7)):  # the cases, drawn without moving the notebook's RNG
        shapes = [((2, 16, 8, 8), 32, 2), ((1, 3, 5, 5), 8, 2), ((2, 4, 6, 6), 4, 1), ((1, 8, 7, 4), 24, 2)]
        cases = [(torch.randn(shape), out, stride) for shape, out, stride in shapes]
    return compare(
        "option-A shortcut",
        fn,
        lambda x, out, stride: PadShortcut(x.shape[1], out, stride)(x),
        cases,
        (
            tr(
                "two steps: keep every stride-th position along H and W (odd sizes round up), then "
                "append out_channels - C channels of zeros after the existing ones."
            ),
            tr(
                "x[:, :, ::stride, ::stride], then torch.cat with x.new_zeros(N, out_channels - C, H', W') "
                "along dim=1 (or F.pad(x, (0, 0, 0, 0, 0, out_channels - C)))."
            ),
        ),
        atol=0.0,
        rtol=0.0,
        solved_by=(PadShortcut,),
    )
