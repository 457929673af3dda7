"""The block and ResNet diagrams: valid SVG, and every number on them read from the module they draw."""

import re
import xml.etree.ElementTree as ET

import pytest
import torch
from torch import nn

import reslib as rl


def _conv_labels(texts: list[str]) -> list[tuple[int, int]]:
    """(in, out) channels of every conv label on a drawing, in the order drawn."""
    return [tuple(map(int, m.groups())) for t in texts if (m := re.match(r"Conv \S+, (\d+)→(\d+)", t))]


def _convs(module: nn.Module, calls=None) -> list[tuple[int, int]]:
    """(in, out) channels of the module's convs in the order a forward pass calls them."""
    calls = calls or rl.viz.trace(module, torch.zeros(1, module.in_channels, 8, 8))
    return [(c.module.in_channels, c.module.out_channels) for c in calls if isinstance(c.module, nn.Conv2d)]


BLOCKS = [
    lambda: rl.blocks.BasicBlock(64, 64),
    lambda: rl.blocks.Bottleneck(256, 64),
    lambda: rl.blocks.BasicBlock(16, 32, stride=2),
    lambda: rl.blocks.BasicBlock(16, 32, stride=2, shortcut_type="A"),
    lambda: rl.preact.PreActBlock(16, 16),
    lambda: rl.preact.PreActBottleneck(64, 32, stride=2),
]


@pytest.mark.parametrize("make", BLOCKS)
def test_a_block_diagram_is_svg_and_its_conv_labels_are_the_modules_convs_in_call_order(make):
    block = make()
    d = rl.viz.block_diagram(block, 16)
    root = ET.fromstring(d.to_svg())
    assert root.tag.endswith("svg")
    texts = d.texts()
    # the branch's convs and then the shortcut's, each with its own channels, as the trace calls them
    assert sorted(_conv_labels(texts)) == sorted(_convs(block))
    assert texts[1] == f"input {block.in_channels}×16×16"
    out = block.eval()(torch.zeros(1, block.in_channels, 16, 16))
    assert texts[-1] == f"output {rl.viz.shape_label(out.shape)}"
    assert texts.count("+") == 1


def test_the_bottleneck_shows_256_64_64_256_and_an_identity_shortcut():
    texts = rl.viz.block_diagram(rl.blocks.Bottleneck(256, 64), 56).texts()
    assert _conv_labels(texts) == [(256, 64), (64, 64), (64, 256)]
    assert "identity" in texts and "Bottleneck(256, 64)" in texts


def test_post_activation_ends_with_relu_after_the_add_and_pre_activation_with_the_add():
    post = rl.viz.block_diagram(rl.blocks.BasicBlock(16, 16), 8).texts()
    pre = rl.viz.block_diagram(rl.preact.PreActBlock(16, 16), 8).texts()
    # post: conv, BN, ReLU, conv, BN, +, ReLU; pre: BN, ReLU, conv, BN, ReLU, conv, + (and nothing after)
    layers = lambda texts: [t for t in texts if t.split()[0] in ("Conv", "BatchNorm", "ReLU", "+")]
    assert [t.split()[0] for t in layers(post)] == [
        "Conv",
        "BatchNorm",
        "ReLU",
        "Conv",
        "BatchNorm",
        "+",
        "ReLU",
    ]
    assert [t.split()[0] for t in layers(pre)] == [
        "BatchNorm",
        "ReLU",
        "Conv",
        "BatchNorm",
        "ReLU",
        "Conv",
        "+",
    ]


def test_the_order_is_the_call_order_not_the_attribute_order():
    block = rl.preact.PreActBlock(8, 8)
    assert list(dict(block.named_children()))[:2] == ["bn1", "conv1"]
    # relu is defined last but called first after bn1: the drawing follows the call
    texts = rl.viz.block_diagram(block, 8).texts()
    assert texts.index("ReLU") < texts.index("Conv 3×3, 8→8")


def test_the_shortcut_is_drawn_from_downsample():
    b = rl.viz.block_diagram(rl.blocks.BasicBlock(16, 32, stride=2), 8).texts()
    a = rl.viz.block_diagram(rl.blocks.BasicBlock(16, 32, stride=2, shortcut_type="A"), 8).texts()
    assert "Conv 1×1, 16→32, /2" in b and "identity" not in b
    assert "zero-pad 16→32, /2" in a and not any(t.startswith("Conv 1×1") for t in a)


def test_a_plain_block_has_no_addition():
    texts = rl.viz.block_diagram(rl.blocks.BasicBlock(8, 8, plain=True), 8).texts()
    assert "+" not in texts and "identity" not in texts
    assert _conv_labels(texts) == [(8, 8), (8, 8)]


def test_changing_the_width_changes_the_drawing():
    narrow = rl.viz.block_diagram(rl.blocks.Bottleneck(256, 64), 14).texts()
    wide = rl.viz.block_diagram(rl.blocks.Bottleneck(256, 128), 14).texts()
    assert _conv_labels(wide) == [(256, 128), (128, 128), (128, 512), (256, 512)]
    assert narrow != wide and "output 512×14×14" in wide


def test_tracing_leaves_the_block_as_it_was():
    block = rl.blocks.BasicBlock(8, 16, stride=2).train()
    state = {k: v.clone() for k, v in block.state_dict().items()}
    rl.viz.block_diagram(block, 8)
    assert block.training and "shortcut" not in vars(block)
    assert all(torch.equal(v, block.state_dict()[k]) for k, v in state.items())
    assert block._forward_pre_hooks == {} and block.conv1._forward_pre_hooks == {}


def _stage_sizes(texts: list[str]) -> list[str]:
    """The size on the arrow out of each stage: an arrow's label is drawn just after the box it enters.

    The arrow out of a stage enters the next stage's box (label, sub-label, then the arrow's size)
    or, after the last stage, the pooling box (label, then the size).
    """
    stages = [i for i, t in enumerate(texts) if t.startswith("layer") and ":" in t]
    return [texts[i + 2] for i in stages[1:]] + [texts[texts.index("Global AvgPool") + 1]]


@pytest.mark.parametrize(
    "make, size",
    [
        (lambda: rl.resnet.resnet18(), 224),
        (lambda: rl.resnet.resnet50(), 160),
        (lambda: rl.resnet.cifar_resnet(20), 32),
        (lambda: rl.resnet.cifar_resnet(8, width=8, in_channels=1, dim=1), 40),
    ],
)
def test_a_resnet_diagram_shows_each_stages_blocks_channels_stride_and_real_output_size(make, size):
    with torch.device("meta"):
        model = make()
    d = rl.viz.resnet_diagram(model, size)
    ET.fromstring(d.to_svg())
    texts = d.texts()
    # a real forward pass, stage by stage, on real (CPU) weights: the sizes must agree
    real = make().eval()
    h = torch.zeros(1, real.conv1.in_channels, *([size] * real.dim))
    h = real.maxpool(real.relu(real.bn1(real.conv1(h))))
    sizes = []
    for i, stage in enumerate(real.stages()):
        h = stage(h)
        sizes.append(rl.viz.shape_label(h.shape))
        first = stage[0]
        label = f"layer{i + 1}: {type(first).__name__} ×{len(stage)}"
        sub = texts[texts.index(label) + 1]
        assert sub.startswith(f"{h.shape[1]} channels, stride {first.stride}, ")
    assert _stage_sizes(texts) == sizes
    assert f"Linear {real.fc.in_features}→{real.fc.out_features}" in texts


def test_a_meta_model_is_drawn_like_a_real_one():
    with torch.device("meta"):
        meta = rl.resnet.resnet18()
    assert (
        rl.viz.resnet_diagram(meta, 224).to_svg() == rl.viz.resnet_diagram(rl.resnet.resnet18(), 224).to_svg()
    )


def test_changing_depth_width_or_input_size_changes_the_resnet_drawing():
    base = rl.viz.resnet_diagram(rl.resnet.cifar_resnet(20), 32).texts()
    deeper = rl.viz.resnet_diagram(rl.resnet.cifar_resnet(32), 32).texts()
    wider = rl.viz.resnet_diagram(rl.resnet.cifar_resnet(20, width=32), 32).texts()
    larger = rl.viz.resnet_diagram(rl.resnet.cifar_resnet(20), 64).texts()
    assert "layer1: BasicBlock ×3" in base and "layer1: BasicBlock ×5" in deeper
    assert "ResNet, 20 weight layers" in base and "ResNet, 32 weight layers" in deeper
    assert _stage_sizes(base) == ["16×32×32", "32×16×16", "64×8×8"]
    assert _stage_sizes(wider) == ["32×32×32", "64×16×16", "128×8×8"]
    assert _stage_sizes(larger) == ["16×64×64", "32×32×32", "64×16×16"]


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda: rl.viz.block_diagram(nn.Conv2d(3, 3, 3), 8), TypeError, "block"),
        (lambda: rl.viz.block_diagram(rl.blocks.BasicBlock(8, 8), 0), ValueError, "input_size"),
        (lambda: rl.viz.block_diagram(rl.blocks.BasicBlock(8, 8), 10**12), ValueError, "input_size"),
        (lambda: rl.viz.block_diagram(rl.blocks.BasicBlock(8, 8), 8.0), TypeError, "input_size"),
        (lambda: rl.viz.block_diagram(rl.blocks.BasicBlock(8, 8), 8, title=3), TypeError, "title"),
        (lambda: rl.viz.resnet_diagram(rl.blocks.BasicBlock(8, 8), 8), TypeError, "model"),
        (lambda: rl.viz.resnet_diagram(rl.resnet.cifar_resnet(8), -1), ValueError, "input_size"),
        (lambda: rl.viz.resnet_diagram(rl.resnet.cifar_resnet(8), "32"), TypeError, "input_size"),
    ],
)
def test_bad_arguments_raise_the_right_error_naming_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()
