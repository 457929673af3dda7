r"""Generated images of shapes for dense prediction: segmentation masks and keypoint heat maps.

Nothing is downloaded: every image is drawn from a seed with vectorised NumPy
(no loop over pixels). Discs and squares get random sizes, positions and grey
levels from the same range, so a pixel's brightness alone cannot tell which
shape it belongs to: a network has to look at the shape around it. A square's
side is its disc's diameter, so its corners reach $\sqrt 2$ times as far from
the centre as the disc's edge; `rotate=True` turns each square by a random
angle, which makes the two much harder to tell apart for a small network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from reslib.guard import require_work
from reslib.validate import (
    require_bool,
    require_float,
    require_int,
    require_memory,
    require_seed,
    require_tensor,
    typechecked,
)

__all__ = [
    "CLASSES",
    "KEYPOINTS",
    "KeypointData",
    "SegmentationData",
    "edge_band",
    "gaussian_heatmaps",
    "heatmap_argmax",
    "iou",
    "keypoints",
    "segmentation",
]

CLASSES = ("background", "disc", "square")
# edge_band's cost for require_work: "FLOPs" per pixel and kernel tap, fit to its run time on 2 cores
# (four 1-D max pools of 2 width + 1 taps: 0.4-0.8 s for a (20, 256, 256) mask with width 32)
_EDGE_BAND_FLOPS = 20
KEYPOINTS = ("disc centre", "square centre")


def _require_images(record: str, x: torch.Tensor, name: str, *others: tuple[str, torch.Tensor]) -> None:
    """`x` (N, C, H, W) floats; each other tensor has the same N, and the same H, W where it is a map."""
    require_tensor(f"{record}: {name}", x, ndim=4, dtype="float", fix="(N, C, H, W) images")
    for other, t in others:
        if len(t) != len(x) or (t.ndim >= 3 and other != "coords" and t.shape[-2:] != x.shape[-2:]):
            raise ValueError(
                f"{record}: {name} {tuple(x.shape)} and {other} {tuple(t.shape)} need the same N"
                + ("" if other == "coords" else " and the same H, W")
            )


@typechecked
@dataclass(frozen=True)
class SegmentationData:
    """Images and per-pixel labels.

    Shape:
        x: (N, 1, H, W) float32; mask: (N, H, W) int64 with values in 0..len(CLASSES)-1.
    """

    x: torch.Tensor
    mask: torch.Tensor

    def __post_init__(self) -> None:
        """Refuse, on construction, what would fail later (in `fit`, `iou` or a figure)."""
        require_tensor(
            "SegmentationData: mask", self.mask, ndim=3, dtype="label", fix="(N, H, W) class indices"
        )
        _require_images("SegmentationData", self.x, "x", ("mask", self.mask))

    def to(self, device: torch.device | str) -> SegmentationData:
        return SegmentationData(self.x.to(device), self.mask.to(device))

    def __len__(self) -> int:
        return len(self.x)


@typechecked
@dataclass(frozen=True)
class KeypointData:
    """Images, target heat maps and the keypoints' (row, col) coordinates.

    Shape:
        x: (N, 1, H, W); heatmaps: (N, K, H, W) in [0, 1]; coords: (N, K, 2) float32.
    """

    x: torch.Tensor
    heatmaps: torch.Tensor
    coords: torch.Tensor

    def __post_init__(self) -> None:
        """Refuse, on construction, what would fail later (in `fit`, `heatmap_argmax` or a figure)."""
        name = "KeypointData: heatmaps"
        require_tensor(name, self.heatmaps, ndim=4, dtype="float", fix="(N, K, H, W): one map per keypoint")
        require_tensor(
            "KeypointData: coords", self.coords, ndim=3, dtype="float", fix="(N, K, 2) of (row, col)"
        )
        if self.coords.shape[1:] != (self.heatmaps.shape[1], 2):
            raise ValueError(
                f"KeypointData: coords must have shape (N, K, 2) with K = {self.heatmaps.shape[1]} "
                f"(one (row, col) per heat map), got {tuple(self.coords.shape)}"
            )
        _require_images("KeypointData", self.x, "x", ("heatmaps", self.heatmaps), ("coords", self.coords))

    def to(self, device: torch.device | str) -> KeypointData:
        return KeypointData(self.x.to(device), self.heatmaps.to(device), self.coords.to(device))

    def __len__(self) -> int:
        return len(self.x)


def _draw(
    rng: np.random.Generator, n: int, size: int, kinds: np.ndarray, rotate: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one shape per column of `kinds` (0 = none, 1 = disc, 2 = square), later ones on top.

    A disc of radius r, or a square of side 2r (turned by a random angle if `rotate`).
    """
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)  # (H, W)
    image = np.zeros((n, size, size), np.float32)
    mask = np.zeros((n, size, size), np.int64)
    m = kinds.shape[1]
    f32 = lambda a: a.astype(np.float32)
    radius = f32(rng.uniform(0.12, 0.22, (n, m)) * size)
    centre = f32(rng.uniform(0.2, 0.8, (n, m, 2)) * size)
    angle = f32(rng.uniform(0, np.pi / 2, (n, m)) * rotate)  # drawn either way: same sizes and places
    grey = f32(rng.uniform(0.5, 1.0, (n, m)))
    for j in range(m):  # a few shapes, each drawn for all images at once
        dy = rows[None] - centre[:, j, 0, None, None]  # (N, H, W)
        dx = cols[None] - centre[:, j, 1, None, None]
        c, s = np.cos(angle[:, j])[:, None, None], np.sin(angle[:, j])[:, None, None]
        u, v = c * dx + s * dy, -s * dx + c * dy  # rotated coordinates
        r = radius[:, j, None, None]
        disc = dx**2 + dy**2 <= r**2
        square = np.maximum(np.abs(u), np.abs(v)) <= r  # side 2r: the disc's diameter
        kind = kinds[:, j, None, None]
        inside = ((kind == 1) & disc) | ((kind == 2) & square)  # kind 0: no shape
        image = np.where(inside, grey[:, j, None, None], image)
        mask = np.where(inside, kinds[:, j, None, None], mask)
    return image, mask, centre


@typechecked
def segmentation(
    n: int = 1000, size: int = 32, seed: int = 0, shapes: int = 3, noise: float = 0.25, rotate: bool = False
) -> SegmentationData:
    r"""`n` noisy images with up to `shapes` discs and squares, and their masks (0 bg, 1 disc, 2 square).

    Pixel values are $x = g\,[\text{inside}] + \varepsilon$,
    $\varepsilon \sim \mathcal N(0, \text{noise}^2)$. Squares are axis-aligned unless `rotate`.
    """
    require_int("n", n)
    require_int("size", size, minimum=8, fix="a shape needs a few pixels")
    require_seed("seed", seed)
    require_float("noise", noise, 0.0, 10.0, fix="noise is the pixel noise's standard deviation")
    require_int("shapes", shapes, maximum=100)
    require_bool("rotate", rotate)
    require_memory("n" if n >= size else "size", n if n >= size else size, 64 * n * size * size)
    rng = np.random.default_rng(seed)
    kinds = rng.integers(1, 3, (n, shapes))
    kinds[:, 1:] *= rng.random((n, shapes - 1)) < 0.7  # some images have fewer shapes (0 = none)
    image, mask, _ = _draw(rng, n, size, kinds, rotate)
    x = image + noise * rng.standard_normal(image.shape).astype(np.float32)
    return SegmentationData(torch.from_numpy(x[:, None].copy()), torch.from_numpy(mask))


@typechecked
def gaussian_heatmaps(coords: torch.Tensor, size: int, sigma: float = 1.5) -> torch.Tensor:
    r"""Heat maps $h(p) = \exp(-\lVert p - c\rVert^2 / 2\sigma^2)$ peaking at each (row, col) in `coords`.

    Shape:
        coords (N, K, 2) -> (N, K, size, size)
    """
    require_tensor("coords", coords, dtype="float", finite=True, fix="(N, K, 2) of (row, col)")
    if coords.ndim != 3 or coords.shape[-1] != 2:
        raise ValueError(f"coords must have shape (N, K, 2) of (row, col), got {tuple(coords.shape)}")
    require_int("size", size)
    require_memory("size", size, 8 * coords.numel() * size * size)
    require_float("sigma", sigma, minimum=0.0, strict_minimum=True, fix="sigma is the peak's width in pixels")
    grid = torch.arange(size, dtype=torch.float32, device=coords.device)
    dy = (grid[:, None] - coords[..., 0, None, None]) ** 2  # (N, K, H, 1)
    dx = (grid[None, :] - coords[..., 1, None, None]) ** 2  # (N, K, 1, W)
    return torch.exp(-(dy + dx) / (2 * sigma**2))


@typechecked
def keypoints(
    n: int = 1000,
    size: int = 32,
    seed: int = 0,
    sigma: float = 1.5,
    noise: float = 0.25,
    rotate: bool = False,
) -> KeypointData:
    """`n` images with one disc and one square; targets are heat maps at the two centres.

    Channel 0 marks the disc's centre, channel 1 the square's (`KEYPOINTS`): the network
    has to recognise which shape is which, not just find blobs. Squares are axis-aligned
    unless `rotate`.
    """
    require_int("n", n)
    require_int("size", size, minimum=8, fix="a shape needs a few pixels")
    require_memory("n" if n >= size else "size", n if n >= size else size, 64 * n * size * size)
    require_seed("seed", seed)
    require_float("noise", noise, 0.0, 10.0, fix="noise is the pixel noise's standard deviation")
    require_float("sigma", sigma, minimum=0.0, strict_minimum=True)
    require_bool("rotate", rotate)
    rng = np.random.default_rng(seed)
    kinds = np.tile(np.array([[1, 2]]), (n, 1))
    swap = rng.random(n) < 0.5  # which of the two is drawn on top
    kinds[swap] = kinds[swap, ::-1]
    image, _, centre = _draw(rng, n, size, kinds, rotate)
    order = np.argsort(kinds, axis=1)  # column of the disc first, then of the square
    coords = np.take_along_axis(centre, order[..., None], axis=1).astype(np.float32)
    x = image + noise * rng.standard_normal(image.shape).astype(np.float32)
    coords_t = torch.from_numpy(coords)
    return KeypointData(
        torch.from_numpy(x[:, None].copy()), gaussian_heatmaps(coords_t, size, sigma), coords_t
    )


@typechecked
def heatmap_argmax(heatmaps: torch.Tensor) -> torch.Tensor:
    """The (row, col) of each heat map's maximum: the predicted keypoint.

    Shape:
        (N, K, H, W) -> (N, K, 2) float32
    """
    require_tensor("heatmaps", heatmaps, dtype="float", finite=True, fix="a NaN map has no maximum")
    if heatmaps.ndim != 4:
        raise ValueError(f"heatmaps must have shape (N, K, H, W), got {tuple(heatmaps.shape)}")
    w = heatmaps.shape[-1]
    flat = heatmaps.flatten(2).argmax(-1)  # (N, K)
    return torch.stack([flat // w, flat % w], -1).float()


@typechecked
def iou(pred: torch.Tensor, target: torch.Tensor, num_classes: int = len(CLASSES)) -> torch.Tensor:
    r"""Intersection over union per class, $|P_c \cap T_c| / |P_c \cup T_c|$, over all pixels.

    Args:
        pred: predicted labels shaped like `target`, or logits with a class axis 1 (then argmax over it).
        target: true labels: a mask (N, H, W), or any shape (the pixels of an edge band, flattened).

    Returns:
        (num_classes,) float tensor; NaN for a class absent from both.
    """
    require_tensor("target", target, dtype="label", finite=True, fix="class indices, e.g. a mask (N, H, W)")
    require_tensor("pred", pred, fix="labels shaped like target, or logits (N, C, H, W)")
    if pred.device != target.device:  # also a meta pred: it holds no labels to count
        raise ValueError(
            f"pred is on {pred.device} but target is on {target.device}; "
            f"move one, e.g. pred.to({str(target.device)!r})"
        )
    require_int("num_classes", num_classes, maximum=10_000)
    if pred.ndim == target.ndim + 1:  # logits: the class axis is 1
        if pred.shape[1] != num_classes:
            raise ValueError(
                f"pred {tuple(pred.shape)} has one axis more than target {tuple(target.shape)}, so it reads "
                f"as logits, but its {pred.shape[1]} channels are not num_classes={num_classes}"
            )
        require_tensor("pred", pred, finite=True, fix="logits with NaN have no largest class")
        pred = pred.argmax(1)
    require_tensor("pred", pred, dtype="label", fix="labels shaped like target, or logits (N, C, H, W)")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target need the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    for name, labels in (("pred", pred), ("target", target)):
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= num_classes:
            fix = "class indices start at 0" if low < 0 else f"or pass num_classes={high + 1}"
            raise ValueError(
                f"{name} must hold class indices in [0, {num_classes}) (num_classes={num_classes}), "
                f"got values from {low} to {high}; {fix}"
            )
    p, t = pred.reshape(-1).long(), target.reshape(-1).long()  # counted per class: O(pixels) memory
    inter = torch.bincount(t[p == t], minlength=num_classes).float()
    union = (
        torch.bincount(p, minlength=num_classes) + torch.bincount(t, minlength=num_classes)
    ).float() - inter
    return torch.where(union > 0, inter / union.clamp(min=1), torch.nan)


@typechecked
def edge_band(mask: torch.Tensor, width: int = 1) -> torch.Tensor:
    r"""The pixels within `width` pixels of a label change: $\max_{N(p)} y \ne \min_{N(p)} y$.

    $N(p)$ is the $(2w+1) \times (2w+1)$ square around pixel $p$; with `width=1` the band is two
    pixels wide, one on each side of every edge. Pixels past the image border do not count.

    Shape:
        (N, H, W) integer labels -> (N, H, W) bool
    """
    require_tensor("mask", mask, dtype="label", finite=True, fix="a mask (N, H, W) of class indices")
    if mask.ndim != 3:
        raise ValueError(
            f"mask must have shape (N, H, W), got {tuple(mask.shape)}; index one image as mask[None]"
        )
    fix = "the band reaches width pixels from each edge (1: a 2-pixel band)"
    require_int(
        "width", width, maximum=max(mask.shape[-2:], default=1), fix=fix + "; at most the mask's size"
    )
    k = 2 * width + 1
    # two square maxima, each as a column maximum then a row maximum: k comparisons per pixel each way
    given = {"mask.shape": tuple(mask.shape), "width": width}
    require_memory("sizes", given, 16 * mask.numel())  # float copies of the mask: 4 bytes a pixel each
    require_work(given, flops=_EDGE_BAND_FLOPS * mask.numel() * k)
    m = mask[:, None].float()  # (N, 1, H, W)
    high = _square_max(m, width)  # neighbourhood maximum; the border pads with -inf
    low = -_square_max(-m, width)  # neighbourhood minimum
    return (high != low)[:, 0]


def _square_max(m: torch.Tensor, width: int) -> torch.Tensor:
    """The maximum over the (2 width + 1)^2 square around each pixel: max over columns, then rows."""
    k = 2 * width + 1
    m = F.max_pool2d(m, (k, 1), stride=1, padding=(width, 0))
    return F.max_pool2d(m, (1, k), stride=1, padding=(0, width))
