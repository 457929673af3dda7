"""Generated shapes: deterministic, labelled correctly, heat maps peak at the keypoints; IoU."""

import pytest
import torch

from reslib.scenes import CLASSES, edge_band, gaussian_heatmaps, heatmap_argmax, iou, keypoints, segmentation


def test_segmentation_is_deterministic_from_the_seed_and_has_all_classes():
    a, b, c = segmentation(50, 24, seed=3), segmentation(50, 24, seed=3), segmentation(50, 24, seed=4)
    torch.testing.assert_close(a.x, b.x)
    assert torch.equal(a.mask, b.mask) and not torch.equal(a.mask, c.mask)
    assert a.x.shape == (50, 1, 24, 24) and a.mask.shape == (50, 24, 24) and a.mask.dtype == torch.int64
    assert set(a.mask.unique().tolist()) == set(range(len(CLASSES))) and len(a) == 50


def test_masks_mark_the_bright_pixels_when_there_is_no_noise():
    d = segmentation(20, 32, seed=0, noise=0.0)
    assert torch.equal(d.mask > 0, d.x[:, 0] > 0)
    assert d.x[:, 0][d.mask > 0].min() >= 0.5  # grey levels in [0.5, 1]


def test_discs_and_squares_share_the_same_brightness_range():
    d = segmentation(300, 32, seed=1, noise=0.0)
    disc, square = d.x[:, 0][d.mask == 1], d.x[:, 0][d.mask == 2]
    assert abs(disc.mean() - square.mean()) < 0.05


def test_squares_are_axis_aligned_with_the_discs_diameter_unless_rotated():
    d = segmentation(200, 32, seed=0, shapes=1, noise=0.0)  # one shape per image: nothing on top
    square = d.mask == 2  # (N, H, W)
    rows, cols = square.any(2).sum(1), square.any(1).sum(1)  # height and width of each square's box
    filled = square.sum((1, 2))
    some = filled > 0
    assert torch.equal(filled[some], (rows * cols)[some])  # the square fills its box: axis-aligned
    turned = segmentation(200, 32, seed=0, shapes=1, noise=0.0, rotate=True).mask == 2
    box = turned.any(2).sum(1) * turned.any(1).sum(1)
    assert (turned.sum((1, 2)) < 0.9 * box).float().mean() > 0.5  # most turned squares do not
    disc = (d.mask == 1).sum((1, 2)).float()
    ratio = filled[some].float().mean() / disc[disc > 0].mean()
    assert 1.1 < ratio < 1.45  # side 2r against radius r: 4/pi = 1.27 in area, up to sampling


def test_keypoint_heat_maps_peak_at_the_shape_centres():
    d = keypoints(30, 32, seed=2, noise=0.0)
    assert d.heatmaps.shape == (30, 2, 32, 32) and d.coords.shape == (30, 2, 2)
    assert (heatmap_argmax(d.heatmaps) - d.coords).abs().max() <= 0.5
    rows, cols = d.coords[:, 0].round().long().T  # the disc's centre lies inside a drawn shape
    assert (d.x[torch.arange(30), 0, rows, cols] > 0).all()


def test_gaussian_heatmaps_value_one_at_the_centre():
    h = gaussian_heatmaps(torch.tensor([[[3.0, 5.0]]]), 8, sigma=1.0)
    assert h[0, 0, 3, 5] == 1.0 and h[0, 0, 3, 6] == pytest.approx(torch.exp(torch.tensor(-0.5)).item())


def test_heatmap_argmax_returns_row_and_column():
    h = torch.zeros(1, 2, 4, 5)
    h[0, 0, 1, 3] = 1
    h[0, 1, 3, 0] = 2
    assert heatmap_argmax(h).tolist() == [[[1.0, 3.0], [3.0, 0.0]]]


def test_iou_per_class_and_from_logits():
    target = torch.tensor([[[0, 1], [1, 2]]])
    pred = torch.tensor([[[0, 1], [2, 2]]])
    torch.testing.assert_close(iou(pred, target), torch.tensor([1.0, 0.5, 0.5]))
    logits = torch.nn.functional.one_hot(pred, 3).permute(0, 3, 1, 2).float()
    torch.testing.assert_close(iou(logits, target), iou(pred, target))
    assert torch.isnan(iou(torch.zeros(1, 2, 2).long(), torch.zeros(1, 2, 2).long())[1])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: segmentation(0), "n must"),
        (lambda: segmentation(5, size=4), "size"),
        (lambda: segmentation(5, seed=-1), "seed"),
        (lambda: segmentation(5, shapes=0), "shapes"),
        (lambda: segmentation(5, noise=-1.0), "noise"),
        (lambda: keypoints(5, size=2), "size"),
        (lambda: gaussian_heatmaps(torch.zeros(2, 2), 8), "coords"),
        (lambda: gaussian_heatmaps(torch.zeros(1, 1, 2), 8, sigma=0), "sigma"),
        (lambda: heatmap_argmax(torch.zeros(2, 2)), "heatmaps"),
        (lambda: iou(torch.zeros(1, 2, 2).long(), torch.zeros(1, 3, 3).long()), "same shape"),
        (lambda: edge_band(torch.zeros(4, 4).long()), "mask must have shape"),
        (lambda: edge_band(torch.zeros(1, 4, 4).long(), width=0), "width"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_data_moves_between_devices():
    assert segmentation(2).to("cpu").x.device.type == "cpu"
    assert keypoints(2).to("cpu").heatmaps.device.type == "cpu" and len(keypoints(2)) == 2


def test_edge_band_marks_pixels_next_to_a_label_change():
    mask = torch.tensor([[[0, 0, 0, 1, 1, 1]] * 3])  # (1, 3, 6): one vertical edge between columns 2 and 3
    assert edge_band(mask, 1)[0, 0].tolist() == [False, False, True, True, False, False]
    assert edge_band(mask, 2)[0, 1].tolist() == [False, True, True, True, True, False]
    assert not edge_band(torch.zeros(2, 5, 5).long()).any()  # the image border is not an edge
    band = edge_band(segmentation(4, size=16, seed=2).mask)
    assert band.dtype == torch.bool and band.shape == (4, 16, 16) and 0 < band.float().mean() < 0.5


def test_edge_band_rejects_a_non_tensor_and_a_float_width():
    with pytest.raises(TypeError, match="mask must be a torch.Tensor"):
        edge_band([[0, 1]])
    with pytest.raises(TypeError, match="width"):
        edge_band(torch.zeros(1, 4, 4).long(), width=1.5)
