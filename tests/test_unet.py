"""U-Net size traces (572 -> 388), same padding, skips, the stacked hourglass and its training loop."""

import math

import pytest
import torch

from reslib.hourglass import StackedHourglass, heatmap_loss
from reslib.train import fit
from reslib.unet import UNet, center_crop, segmentation_loss, unet_output_size, unet_shape_trace


def test_original_unet_maps_572_to_388_with_the_papers_crops():
    trace = unet_shape_trace(572, 4, "valid")
    assert trace.problem is None and trace.steps[-1].size == 388
    assert [r.size for r in trace.steps if r.stage in ("encoder", "bottleneck")] == [568, 280, 136, 64, 28]
    assert [r.crop for r in trace.steps if r.stage == "up"] == [8, 32, 80, 176]
    assert unet_output_size(572) == 388


def test_valid_unet_forward_agrees_with_the_trace_on_the_meta_device():
    model = UNet(1, 2, depth=4, base_channels=64, batch_norm=False)
    assert sum(p.numel() for p in model.parameters()) == 31_030_658
    out = model.to("meta")(torch.zeros(1, 1, 572, 572, device="meta"))
    assert out.shape == (1, 2, 388, 388)


@pytest.mark.parametrize("size, depth", [(188, 4), (92, 2), (30, 1), (44, 2)])
def test_small_valid_unets_match_the_trace(size, depth):
    model = UNet(1, 3, depth=depth, base_channels=2)
    assert model(torch.randn(1, 1, size, size)).shape[-1] == unet_output_size(size, depth)


@pytest.mark.parametrize("size", [16, 32, 48])
def test_same_padding_keeps_the_input_size(size):
    model = UNet(2, 3, depth=3, base_channels=4, padding="same")
    assert model(torch.randn(2, 2, size, size)).shape == (2, 3, size, size)


def test_unet_without_skips_has_narrower_decoder_and_same_output_shape():
    with_skips, without = UNet(1, 2, 2, 4, "same"), UNet(1, 2, 2, 4, "same", skips=False)
    assert sum(p.numel() for p in without.parameters()) < sum(p.numel() for p in with_skips.parameters())
    assert without(torch.randn(1, 1, 16, 16)).shape == (1, 2, 16, 16)


@pytest.mark.parametrize(
    "size, padding, match",
    [
        (570, "valid", "even size"),
        (100, "same", "even size"),
        (60, "valid", "at least 5 pixels"),
        (33, "same", "even size"),
    ],
)
def test_sizes_that_cannot_work_raise_value_errors_with_nearby_sizes(size, padding, match):
    with pytest.raises(ValueError, match=match):
        unet_output_size(size, 4, padding)
    trace = unet_shape_trace(size, 4, padding)
    assert trace.problem is not None and trace.steps[0].size == size


def test_error_message_suggests_sizes_that_work():
    with pytest.raises(ValueError, match="556 or 572"):
        unet_output_size(570)
    with pytest.raises(ValueError, match="96 or 112"):
        unet_output_size(100, 4, "same")


def test_forward_rejects_a_bad_size_before_running():
    with pytest.raises(ValueError, match="cannot take 30 pixels"):
        UNet(1, 2, depth=2, base_channels=2, padding="same")(torch.randn(1, 1, 30, 30))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(depth=0), "depth"),
        (dict(padding="reflect"), "padding"),
        (dict(base_channels=0), "base_channels"),
    ],
)
def test_bad_unet_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        UNet(1, 2, **kwargs)
    with pytest.raises(TypeError, match="int"):
        unet_shape_trace(57.2)
    with pytest.raises(TypeError, match="depth"):
        UNet(1, 2, depth=2.0)


def test_center_crop_takes_the_middle_and_rejects_odd_margins():
    x = torch.arange(36.0).reshape(1, 1, 6, 6)
    torch.testing.assert_close(center_crop(x, (2, 2)), x[..., 2:4, 2:4])
    with pytest.raises(ValueError, match="even number"):
        center_crop(x, (3, 3))


def test_stacked_hourglass_returns_one_heat_map_per_stack_and_adds_skips():
    model = StackedHourglass(1, num_keypoints=3, num_stacks=3, channels=8, order=2)
    out = model(torch.randn(2, 1, 16, 16))
    assert len(out) == 3 and all(h.shape == (2, 3, 16, 16) for h in out)
    assert "num_stacks=3" in repr(model)
    assert not any(getattr(m, "inplace", False) for m in model.modules())


@pytest.mark.parametrize(
    "kwargs, match", [(dict(channels=6), "multiple of 4"), (dict(num_stacks=0), "num_stacks")]
)
def test_stacked_hourglass_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StackedHourglass(1, 2, **kwargs)


def test_stacked_hourglass_rejects_sizes_not_divisible_by_two_to_the_order():
    with pytest.raises(ValueError, match="divisible by 8"):
        StackedHourglass(1, 2, order=3, channels=8)(torch.randn(1, 1, 20, 20))


def _fit(model, x, target, loss_fn, epochs, **kwargs):
    kwargs = dict(lr=1e-2, optimizer="adam", progress=False) | kwargs
    return fit(model, (x, target), epochs, loss_fn=loss_fn, **kwargs)


def test_fit_lowers_the_loss_for_segmentation_and_heat_maps():
    torch.manual_seed(0)
    x = torch.randn(8, 1, 8, 8)
    mask = (x[:, 0] > 0).long()
    history = _fit(UNet(1, 2, 1, 4, "same"), x, mask, segmentation_loss, 6, batch_size=8)
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.train_error == [] and history.test_loss == []  # no error rate for dense tasks
    heat = torch.rand(8, 2, 8, 8)
    history = _fit(StackedHourglass(1, 2, 2, 8, 1), x, heat, heatmap_loss, 4, batch_size=8)
    assert history.train_loss[-1] < history.train_loss[0]


def test_segmentation_loss_crops_targets_for_a_valid_unet_and_fit_rejects_bad_input():
    x, mask = torch.randn(4, 1, 30, 30), torch.zeros(4, 30, 30, dtype=torch.long)
    assert _fit(UNet(1, 2, 1, 2), x, mask, segmentation_loss, 1).epochs == 1
    with pytest.raises(ValueError, match="epochs"):
        _fit(UNet(1, 2, 1, 2), x, mask, segmentation_loss, 0)
    with pytest.raises(ValueError, match="same length"):
        _fit(UNet(1, 2, 1, 2), x, mask[:2], segmentation_loss, 1)


def test_segmentation_loss_weighs_each_pixel_by_its_class():
    torch.manual_seed(0)
    logits, mask = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
    weight = torch.tensor([0.5, 2.0, 1.0])
    per_pixel = torch.nn.functional.cross_entropy(logits, mask, reduction="none")  # (2, 4, 4)
    w = weight[mask]
    torch.testing.assert_close(
        segmentation_loss(logits, mask, weight=weight), (w * per_pixel).sum() / w.sum()
    )
    torch.testing.assert_close(segmentation_loss(logits, mask, weight=torch.ones(3)), per_pixel.mean())
    with pytest.raises(ValueError, match="weight has 2 entries"):
        segmentation_loss(logits, mask, weight=torch.ones(2))


def test_heatmap_loss_is_the_pixel_cross_entropy_summed_over_stacks():
    target = torch.zeros(1, 1, 2, 2)
    target[0, 0, 0, 0] = 3.0  # normalised to a one-hot distribution over the 4 pixels
    flat = torch.zeros(1, 1, 2, 2)  # uniform softmax: -log(1/4) per stack
    torch.testing.assert_close(heatmap_loss([flat, flat], target), torch.tensor(2 * math.log(4)))


# --- issue 25: a bound on the residual modules of a stacked hourglass, trace records check fields ---


def test_stacked_hourglass_has_at_most_max_blocks_residual_modules():
    import time

    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"num_stacks=1000, order=3 would build 11,001 residual modules"):
        StackedHourglass(1, 2, num_stacks=1000)  # 11,001 modules, about a millisecond each
    assert time.perf_counter() - start < 0.5
    with pytest.raises(ValueError, match="1,002 residual modules"):
        StackedHourglass(1, 2, num_stacks=91, channels=4, order=3)  # 1 + 91 * 11
    with torch.device("meta"):
        model = StackedHourglass(1, 2, num_stacks=90, channels=4, order=3)  # 991: the bound builds
        paper = StackedHourglass(3, 16, num_stacks=8, channels=8, order=4)  # Newell et al.'s 8 of order 4
    assert len(model.hourglasses) == 90 and len(paper.hourglasses) == 8


def test_trace_records_check_their_fields():
    import reslib as rl

    with pytest.raises(ValueError, match="TraceStep: stage must be one of 'input', 'encoder'"):
        rl.unet.TraceStep("middle", 0, 32, 0)
    with pytest.raises(TypeError, match="TraceStep: size must be an int"):
        rl.unet.TraceStep("input", 0, 32.0, 0)
    with pytest.raises(TypeError, match="ShapeTrace: steps must be a list or tuple of TraceSteps"):
        rl.unet.ShapeTrace(None, None)
    assert unet_shape_trace(572).steps[-1] == rl.unet.TraceStep("decoder", 0, 388, 0)


def test_unet_and_hourglass_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"UNet\.forward: x of shape \(1, 1, 188, 189\) .* cannot take 189"):
        UNet(1, 2, 4, 1)(torch.zeros(1, 1, 188, 189))
    x = torch.zeros(1, 4, 8, 9)
    with pytest.raises(ValueError, match=r"cannot centre-crop x of height and width \(8, 9\)"):
        center_crop(x, (4, 4))
    with pytest.raises(ValueError, match="center_crop: x must have at least 2 dimensions"):
        center_crop(torch.zeros(5), (1, 1))
    assert center_crop(torch.zeros(2, 1, 4, 8, 8), (4, 4)).shape == (2, 1, 4, 4, 4)  # leading axes kept
    mask = torch.zeros(2, 16, 16, dtype=torch.long)
    with pytest.raises(
        ValueError, match=r"logits of height and width \(16, 17\) cannot .* mask of \(16, 16\)"
    ):
        segmentation_loss(torch.zeros(2, 3, 16, 17), mask)
    with pytest.raises(ValueError, match="logits is on meta but mask is on cpu"):
        segmentation_loss(torch.zeros(2, 3, 16, 16, device="meta"), mask)
    with pytest.raises(ValueError, match=r"heatmaps\[0\] is on cpu but target is on meta"):
        heatmap_loss([torch.zeros(1, 2, 4, 4)], torch.zeros(1, 2, 4, 4, device="meta"))


def test_residual_module_bound_is_the_bottleneck_own_weight_limit():
    from reslib.hourglass import residual_module
    from reslib.preact import PreActBottleneck
    from reslib.validate import MODULE_LIMIT

    def fits(c):
        return PreActBottleneck.weight_count(c, c // 4) * 4 <= MODULE_LIMIT

    top = max(c for c in range(15_000, 17_000, 4) if fits(c))  # the largest multiple of 4 allowed
    with pytest.raises(ValueError, match=f"channels={top + 4} would allocate"):
        residual_module(top + 4)  # past the bound: refused by residual_module, naming channels
    with torch.device("meta"):  # at the bound: built (on meta, so the test allocates nothing)
        assert residual_module(top).conv1.in_channels == top
    assert residual_module(8).conv3.out_channels == 8
    # not a multiple of 4: a projection too, counted, so residual_module refuses it itself
    with pytest.raises(ValueError, match="channels=14654 would allocate"):
        residual_module(14654)
