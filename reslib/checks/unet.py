"""Exercise checks for U-Nets: predicted sizes measured on a real network, per-class IoU, the edge band."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import torch

from reslib.checks.core import (
    CheckResult,
    WrongAnswer,
    compare,
    compare_value,
    preserved_rngs,
    read_answer,
    tiered_hint,
)
from reslib.language import tr
from reslib.scenes import edge_band, iou, segmentation
from reslib.unet import UNet
from reslib.validate import typechecked

__all__ = [
    "check_background_only_iou",
    "check_edge_band",
    "check_tile_size",
    "check_valid_output_size",
]

OUTPUT_DEPTH, OUTPUT_INPUT = 3, 300  # exercise 1: a valid U-Net of depth 3 on a 300x300 tile
TILE_DEPTH, TILE_OUTPUT = 4, 200  # exercise 2: the paper's depth, an output of at least 200x200


def _valid_unet(depth: int) -> UNet:
    """A valid U-Net of `depth` on the meta device: it runs shapes only, with no memory and no arithmetic."""
    return UNet(1, 1, depth=depth, base_channels=1, padding="valid", batch_norm=False).to("meta")


def _output_width(model: UNet, size: int) -> int:
    """The width `model` returns for a `size` x `size` input; ValueError (the network's own) if it refuses."""
    return int(model(torch.zeros(1, 1, size, size, device="meta")).shape[-1])


@typechecked
def check_valid_output_size(answer: Any) -> CheckResult:
    """Exercise (09): predict the output width of a valid U-Net of depth 3 for a 300x300 input.

    Measured: a `UNet(depth=3, padding="valid")` is run on a 300x300 image (on the meta device,
    so shapes only) and the width of what it returns is compared with the prediction.
    """
    return compare_value(
        "valid_output_size",
        answer,
        lambda: _output_width(_valid_unet(OUTPUT_DEPTH), OUTPUT_INPUT),
        (
            tr(
                "follow one side of the image down 3 levels, through the bottleneck and up 3 levels: "
                "what does each valid conv, each pool and each up-convolution do to the size? The "
                "U-Net drawing above does the same for depth 4 and 572."
            ),
            tr(
                "each level's two valid 3x3 convs take 4 pixels off; pooling halves; an up-conv doubles. "
                "Down: 300 -> 296 -> 148, then twice more; the bottleneck takes 4 off; then up three "
                "times: double, and take 4 off (the decoder's convs shrink the map too)."
            ),
        ),
        what=tr(
            "the width a valid U-Net of depth {depth} returns for {size} pixels",
            depth=OUTPUT_DEPTH,
            size=OUTPUT_INPUT,
        ),
    )


@typechecked
def check_tile_size(answer: Any) -> CheckResult:
    """Exercise (09): the smallest input a valid depth-4 U-Net takes whose output is at least 200 wide.

    Measured: every size from 1 up is offered to a real `UNet(depth=4, padding="valid")` on the
    meta device; the first one it accepts and maps to 200 pixels or more is the answer. An answer
    the network refuses is told why (the network's own error), not just "too high".
    """
    name = "tile_size"
    hint = (
        tr(
            "the network takes only some sizes (the explorer above shows which): list the sizes a valid "
            "depth-4 U-Net accepts near the paper's 572, and what each returns; how far apart are they?"
        ),
        tr(
            "572 -> 388, and the sizes that work are 16 apart, each giving an output 16 pixels smaller: "
            "step down from 572 by 16 until the output would drop below 200, and keep the last size above it."
        ),
    )
    try:
        answer = read_answer(answer)
    except WrongAnswer as exc:
        return CheckResult(name, False, str(exc))
    with preserved_rngs():  # building a network draws its initial weights: not from the notebook's RNG
        model = _valid_unet(TILE_DEPTH)
    if isinstance(answer, numbers.Integral) and not isinstance(answer, bool) and answer > 0:
        try:
            _output_width(model, int(answer))
        except ValueError as err:
            why = str(err).split("; ")[0]  # the network's reason, without its list of sizes that work
            message = tr("the network refuses it: {why}.", why=why)
            return CheckResult(name, False, f"{message} {tiered_hint(name, hint)}")

    def measure() -> int:
        for size in range(1, 4096):
            try:
                if _output_width(model, size) >= TILE_OUTPUT:
                    return size
            except ValueError:  # a size the network refuses: odd before a pool, or too small
                continue
        raise RuntimeError("no input size up to 4096 gives the output asked for")

    return compare_value(
        name,
        answer,
        measure,
        hint,
        what=tr(
            "the smallest input a valid depth-{depth} U-Net turns into at least {size} pixels",
            depth=TILE_DEPTH,
            size=TILE_OUTPUT,
        ),
    )


def _test_masks() -> torch.Tensor:
    """Notebook 09's test masks: 200 scenes of 32x32, seed 1, noise 0.2."""
    return segmentation(n=200, size=32, seed=1, noise=0.2).mask


@typechecked
def check_background_only_iou(answer: Any) -> CheckResult:
    """Exercise (09): the IoU per class [background, disc, square] of a network that says "background" always.

    Measured on notebook 09's test set: the all-background prediction is scored by `rl.scenes.iou`.
    A prediction within 0.03 of each measured IoU passes (the training set's pixel counts,
    printed in the notebook, are close enough to the test set's).
    """
    return compare_value(
        "background_only_iou",
        answer,
        lambda: iou(torch.zeros_like(_test_masks()), _test_masks(), 3),
        (
            tr(
                "for each class c, IoU = |predicted c and true c| / |predicted c or true c|. Which "
                "pixels are predicted background? Which are truly background? And for the disc class, "
                "how many pixels are predicted disc?"
            ),
            tr(
                "background: every pixel is predicted background, so the intersection is the true "
                "background and the union is every pixel: the IoU is background's share of the pixels "
                "(from the class counts printed in section 3). A class never predicted has an "
                "intersection of 0: its IoU is 0, however good the pixel accuracy looks."
            ),
        ),
        atol=0.03,
        what=tr("the IoU per class measured on the test set"),
    )


@typechecked
def check_edge_band(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Exercise (09): `fn(mask, width)`, the boolean band of pixels within `width` of a label change."""
    masks = segmentation(3, size=16, seed=3).mask
    cases = [(masks, 1), (masks, 2), (torch.tensor([[[0, 0, 1, 1, 1], [0, 0, 1, 1, 1]]]), 1)]
    return compare(
        "edge_band",
        fn,
        edge_band,
        cases,
        (
            tr(
                "a pixel is on an edge when the square of (2*width+1) pixels around it holds two "
                "different labels: compare the largest and the smallest label in that square."
            ),
            tr(
                "m = mask[:, None].float(); high = F.max_pool2d(m, 2*width+1, stride=1, padding=width); "
                "low = -F.max_pool2d(-m, same arguments); return (high != low)[:, 0]."
            ),
        ),
        atol=0.0,
        rtol=0.0,
    )
