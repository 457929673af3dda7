"""Generated shapes: deterministic, labelled correctly, heat maps peak at the keypoints; IoU."""

import pytest
import torch

import reslib as rl
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


# --- issue 25: NaN and out-of-range labels never become a number; records check their fields ---


def test_heatmap_argmax_refuses_a_map_without_a_maximum():
    with pytest.raises(ValueError, match="heatmaps holds NaN or infinity"):
        heatmap_argmax(torch.full((1, 2, 4, 4), float("nan")))  # was (0, 0)
    h = torch.zeros(1, 1, 4, 4)
    h[0, 0, 2, 1] = float("inf")
    with pytest.raises(ValueError, match="heatmaps holds NaN"):
        heatmap_argmax(h)


@pytest.mark.parametrize(
    "pred, target, match",
    [
        (
            lambda m: m + 7,
            lambda m: m,
            r"pred must hold class indices in \[0, 3\).*from 7 to 9; or pass num_classes=10",
        ),
        (
            lambda m: m,
            lambda m: m - 1,
            r"target must hold class indices in \[0, 3\).*from -1 to 1; class indices",
        ),
        (lambda m: m, lambda m: m.clamp(max=1), r"pred must hold class indices in \[0, 2\)"),
    ],
)
def test_iou_refuses_labels_outside_the_classes_naming_the_argument(pred, target, match):
    mask = segmentation(4, size=16, seed=0).mask  # labels 0, 1, 2
    with pytest.raises(ValueError, match=match):
        iou(pred(mask), target(mask), 3 if "3" in match else 2)


def test_iou_refuses_nan_logits_and_counts_as_the_one_hot_formula():
    with pytest.raises(ValueError, match="pred holds NaN"):
        iou(torch.full((1, 3, 2, 2), float("nan")), torch.zeros(1, 2, 2).long())
    torch.manual_seed(0)
    pred, target = torch.randint(0, 4, (3, 9, 7)), torch.randint(0, 4, (3, 9, 7))
    p, t = pred.reshape(1, -1) == torch.arange(5)[:, None], target.reshape(1, -1) == torch.arange(5)[:, None]
    inter, union = (p & t).sum(1).float(), (p | t).sum(1).float()
    expected = torch.where(union > 0, inter / union.clamp(min=1), torch.nan)  # the former formula
    torch.testing.assert_close(iou(pred, target, 5), expected, equal_nan=True)
    assert iou(pred.to(torch.uint8), target.int(), 5).isnan().tolist() == [False] * 4 + [True]


def test_edge_band_is_the_square_neighbourhood_and_refuses_a_call_that_would_run_for_minutes():
    mask = segmentation(6, size=24, seed=1).mask
    for width in (1, 3, 7):
        m, k = mask[:, None].float(), 2 * width + 1
        square = torch.nn.functional.max_pool2d(m, k, stride=1, padding=width)  # the former 2-D pool
        low = -torch.nn.functional.max_pool2d(-m, k, stride=1, padding=width)
        assert torch.equal(edge_band(mask, width), (square != low)[:, 0])
    big = torch.zeros(8, 2048, 2048, dtype=torch.uint8)  # 32 MiB of labels; width 1000: minutes
    with pytest.raises(ValueError, match=r"mask.shape=\(8, 2048, 2048\), width=1000 would run for about"):
        edge_band(big, 1000)
    assert edge_band(big, 3).shape == big.shape  # the notebook's widths are 1 and 3


def test_records_check_their_fields_on_construction():
    data = segmentation(3, size=16)
    with pytest.raises(TypeError, match="SegmentationData: x must be a torch.Tensor, got NoneType"):
        rl.scenes.SegmentationData(None, data.mask)
    with pytest.raises(TypeError, match="SegmentationData: mask must hold integer labels"):
        rl.scenes.SegmentationData(data.x, data.mask.float())
    with pytest.raises(ValueError, match=r"SegmentationData: x \(3, 1, 16, 16\) and mask \(2, 16, 16\)"):
        rl.scenes.SegmentationData(data.x, data.mask[:2])
    with pytest.raises(ValueError, match="SegmentationData: x must have 4 dimensions"):
        rl.scenes.SegmentationData(data.x[:, 0], data.mask)
    kp = keypoints(3, size=16)
    with pytest.raises(ValueError, match=r"KeypointData: coords must have shape \(N, K, 2\) with K = 2"):
        rl.scenes.KeypointData(kp.x, kp.heatmaps, kp.coords[:, :1])
    with pytest.raises(ValueError, match=r"KeypointData: x \(3, 1, 16, 16\) and heatmaps \(3, 2, 8, 8\)"):
        rl.scenes.KeypointData(kp.x, kp.heatmaps[..., :8, :8], kp.coords)
    with pytest.raises(TypeError, match="KeypointData: heatmaps must be a torch.Tensor"):
        rl.scenes.KeypointData(kp.x, [1.0], kp.coords)
    assert "SegmentationData" in repr(data.to("cpu")) and len(kp.to("cpu")) == 3


def test_seeds_take_any_64_bit_value_and_refuse_2_to_the_63():
    assert len(segmentation(2, size=8, seed=2**63 - 1)) == len(keypoints(2, size=8, seed=2**63 - 1)) == 2
    for make in (segmentation, keypoints):
        with pytest.raises(ValueError, match=r"seed must be an int in \[0, 9223372036854775807\]"):
            make(2, size=8, seed=2**63)
    with pytest.raises(ValueError, match="coords holds NaN"):
        gaussian_heatmaps(torch.full((1, 1, 2), float("nan")), 8)


def test_the_scene_tables_are_read_only():
    with pytest.raises(TypeError):
        rl.scenes.CLASSES[0] = "sky"
    with pytest.raises(TypeError):
        rl.scenes.KEYPOINTS[0] = "corner"


def test_scene_functions_refuse_complex_coords_and_meta_masks_with_the_argument_named():
    with pytest.raises(TypeError, match="coords must hold"):
        gaussian_heatmaps(torch.zeros(1, 2, 2, dtype=torch.complex64), 8)
    with pytest.raises(ValueError, match="mask is on the meta device"):
        edge_band(torch.zeros(1, 8, 8, dtype=torch.long, device="meta"))
    labels = torch.zeros(1, 4, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="target is on the meta device"):
        iou(labels, labels.to("meta"))
    with pytest.raises(ValueError, match="pred is on meta but target is on cpu"):
        iou(labels.to("meta"), labels)
    assert edge_band(torch.zeros(1, 8, 9, dtype=torch.long)).shape == (1, 8, 9)  # any width has edges
