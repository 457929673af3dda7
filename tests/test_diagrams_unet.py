"""The U-Net and stacked-hourglass diagrams: valid SVG, and every number on them is the module's."""

import re
import xml.etree.ElementTree as ET

import pytest
import torch

import reslib as rl
from reslib.viz.diagram import trace


def _unet(depth=4, padding="valid", skips=True, base=2):
    return rl.unet.UNet(1, 2, depth=depth, base_channels=base, padding=padding, skips=skips, batch_norm=False)


def test_the_paper_unet_is_drawn_572_at_the_top_left_and_388_at_the_output():
    model = _unet()
    d = rl.viz.unet_diagram(model, 572)
    ET.fromstring(d.to_svg())
    out = model(torch.zeros(1, 1, 572, 572))
    assert out.shape[-1] == 388
    texts = d.texts()
    assert "input 1×572×572" in texts and "output 2×388×388" in texts
    assert texts[0].endswith("572×572 → 388×388")


def test_every_skip_says_the_crop_the_forward_pass_makes():
    model = _unet()
    calls = {c.name: c for c in trace(model, torch.zeros(1, 1, 572, 572))}
    skips = [t for t in rl.viz.unet_diagram(model, 572).texts() if t.startswith("copy")]
    want = [
        f"copy and crop {calls[f'down.{i}'].output[-1]}×{calls[f'down.{i}'].output[-1]} → "
        f"{calls[f'upconv.{i}'].output[-1]}×{calls[f'upconv.{i}'].output[-1]}"
        for i in reversed(range(4))
    ]
    assert skips == want
    assert skips[-1] == "copy and crop 568×568 → 392×392"  # fig. 1 of the paper, top level


def test_the_channels_on_each_level_are_the_modules():
    model = _unet(base=4)
    texts = rl.viz.unet_diagram(model, 572).texts()
    for i, down in enumerate(model.down):
        assert f"Conv 3×3, {down[0].in_channels}→{down[0].out_channels}→{down[2].out_channels}" in texts, i
    assert "Conv 3×3, 32→64→64" in texts  # the bottleneck: 4 * 2^3 -> 4 * 2^4
    assert f"Up-conv 2×2, 64→32 → {56}×{56}" in texts


def test_same_padding_keeps_the_size_and_crops_nothing():
    model = _unet(depth=3, padding="same")
    texts = rl.viz.unet_diagram(model, 32).texts()
    assert "input 1×32×32" in texts and "output 2×32×32" in texts
    assert not any("crop" in t for t in texts)
    assert [t for t in texts if t.startswith("copy")] == ["copy 8×8", "copy 16×16", "copy 32×32"]


def test_a_deeper_unet_draws_more_levels_and_no_skips_draws_none():
    count = lambda d: sum(t.startswith("MaxPool") for t in d.texts())
    assert count(rl.viz.unet_diagram(_unet(depth=2), 188)) == 2
    assert count(rl.viz.unet_diagram(_unet(depth=4), 572)) == 4
    plain = rl.viz.unet_diagram(_unet(depth=2, skips=False), 188).texts()
    assert "C" not in plain and plain.count("no skip") == 2


def test_a_meta_model_is_traced_on_meta_without_memory():
    model = rl.unet.UNet(1, 2, depth=4, base_channels=64, batch_norm=False).to("meta")
    assert "Conv 3×3, 512→1024→1024" in rl.viz.unet_diagram(model, 572).texts()


def test_bad_unet_arguments_name_themselves():
    with pytest.raises(TypeError, match="model"):
        rl.viz.unet_diagram(torch.nn.Linear(2, 2), 572)
    with pytest.raises(TypeError, match="input_size"):
        rl.viz.unet_diagram(_unet(), 572.0)
    with pytest.raises(ValueError, match="input_size"):
        rl.viz.unet_diagram(_unet(), 570)
    with pytest.raises(ValueError, match="input_size"):
        rl.viz.unet_diagram(_unet(), 0)


def _hourglass(stacks=2, order=2, keypoints=2):
    return rl.hourglass.StackedHourglass(
        1, num_keypoints=keypoints, num_stacks=stacks, channels=8, order=order
    )


def test_the_hourglass_diagram_parses_and_marks_one_heat_map_output_per_stack():
    for stacks in (1, 2, 3):
        model = _hourglass(stacks=stacks, keypoints=3)
        d = rl.viz.hourglass_diagram(model, 16)
        ET.fromstring(d.to_svg())
        outputs = model(torch.zeros(1, 1, 16, 16))
        heat = [t for t in d.texts() if t.startswith("heat maps")]
        assert len(heat) == len(outputs) == stacks
        assert all(
            t == f"heat maps 3×{o.shape[-2]}×{o.shape[-1]}" for t, o in zip(heat, outputs, strict=True)
        )
        assert sum(t.startswith("stack ") and "loss" in t for t in d.texts()) == stacks
        assert sum(t.startswith("hourglass ") for t in d.texts()) == stacks


def test_each_hourglass_draws_a_skip_at_every_resolution_with_the_traced_sizes():
    model = _hourglass(stacks=2, order=3)
    texts = rl.viz.hourglass_diagram(model, 32).texts()
    assert texts.count("MaxPool → R") == 3 * 2 and texts.count("+") == 3 * 2 + 1  # adds, and one merge
    for a, b in (("32×32", "16×16"), ("16×16", "8×8"), ("8×8", "4×4")):
        assert texts.count(f"{a} → {b}") == 2 and texts.count(f"{b} → {a}") == 2
    assert re.search(r"PreActBottleneck 8→2→2→8", " ".join(texts))
    assert texts.count("R") == (3 + 1) * 2  # a skip module per resolution and the innermost one


def test_bad_hourglass_arguments_name_themselves():
    with pytest.raises(TypeError, match="model"):
        rl.viz.hourglass_diagram(_unet(), 24)
    with pytest.raises(ValueError, match="input_size"):
        rl.viz.hourglass_diagram(_hourglass(order=2), 18)
    with pytest.raises(TypeError, match="input_size"):
        rl.viz.hourglass_diagram(_hourglass(), "24")


def test_an_input_too_large_to_trace_is_refused_before_anything_runs():
    with pytest.raises(ValueError, match="input_size"):
        rl.viz.unet_diagram(_unet(), 10**6)
    with pytest.raises(ValueError, match="input_size"):
        rl.viz.hourglass_diagram(_hourglass(), 4096)


def test_a_tile_whose_traced_pass_would_not_fit_in_memory_is_refused_before_it_runs():
    import reslib as rl

    model = rl.unet.UNet(
        1, 2, 4, 2
    )  # 4096 px: about 2.5 GB at the trace's peak (it crashed under a 2 GB cap)
    with pytest.raises(ValueError, match="input_size=4092 would allocate"):
        rl.viz.unet_diagram(model, 4092)
    assert rl.viz.unet_diagram(rl.unet.UNet(1, 2, 4, 2).to("meta"), 4092) is not None  # shapes only: free
