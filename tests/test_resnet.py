"""ResNet: torchvision layout and counts, CIFAR counts, stage shapes, zero-init, errors."""

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import reslib as rl
from reslib import resnet as R
from reslib.blocks import BasicBlock, Bottleneck
from reslib.preact import PreActBlock

# Expected keys and shapes, written from torchvision 0.20.0's own `torchvision/models/resnet.py`
# (downloaded with `pip download torchvision==0.20.0 --no-deps`, its ResNet class executed standalone
# on the meta device): `ResNet(BasicBlock, [2, 2, 2, 2])` and `ResNet(Bottleneck, [3, 4, 6, 3])`.
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "torchvision_resnet_state_dict.json").read_text())

# torchvision's published counts (1000 classes)
COUNTS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnet200": 64_673_832,
}


def meta(factory, **kw):
    with torch.device("meta"):  # no memory: shapes and counts only
        return factory(**kw)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_imagenet_parameter_counts(name):
    assert rl.costs.count_parameters(meta(getattr(R, name))) == COUNTS[name]


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_state_dict_keys_and_shapes_match_torchvision(name):
    ours = [[k, list(v.shape)] for k, v in meta(getattr(R, name)).state_dict().items()]
    assert ours == FIXTURE[name]["state_dict"]  # same keys, same order, same shapes
    assert rl.costs.count_parameters(meta(getattr(R, name))) == FIXTURE[name]["parameters"]


def test_torchvision_state_dict_loads_strictly_and_gives_same_output():
    tv = pytest.importorskip("torchvision.models")
    theirs = tv.resnet18(num_classes=10).eval()
    ours = R.resnet18(num_classes=10).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(ours(x), theirs(x))


@pytest.mark.parametrize(
    "depth, count", [(20, 0.27e6), (32, 0.46e6), (44, 0.66e6), (56, 0.85e6), (110, 1.7e6)]
)
def test_cifar_option_a_counts_match_he_et_al(depth, count):
    model = meta(R.cifar_resnet, depth=depth)
    n = rl.costs.count_parameters(model)
    assert round(n / 1e6, 2 if depth < 110 else 1) == round(count / 1e6, 2)
    # option A is parameter-free, so the plain twin has the same count; option B adds projections
    assert rl.costs.count_parameters(meta(R.cifar_resnet, depth=depth, plain=True)) == n
    b = rl.costs.count_parameters(meta(R.cifar_resnet, depth=depth, shortcut_type="B"))
    assert b == n + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)


def test_cifar_resnet_20_exact_count_and_stage_shapes():
    model = R.cifar_resnet(20).eval()
    assert rl.costs.count_parameters(model) == 269_722
    h = model.maxpool(model.relu(model.bn1(model.conv1(torch.zeros(2, 3, 32, 32)))))
    shapes = []
    for stage in model.stages():
        h = stage(h)
        shapes.append(tuple(h.shape))
    assert shapes == [(2, 16, 32, 32), (2, 32, 16, 16), (2, 64, 8, 8)]
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_resnet18_stage_shapes_on_meta():
    model = meta(R.resnet18)
    h = model.maxpool(model.conv1(torch.zeros(1, 3, 224, 224, device="meta")))
    assert tuple(h.shape) == (1, 64, 56, 56)
    for stage, want in zip(model.stages(), [(64, 56), (128, 28), (256, 14), (512, 7)], strict=True):
        h = stage(h)
        assert tuple(h.shape) == (1, want[0], want[1], want[1])


def test_one_dimensional_plain_and_residual_nets():
    x = torch.randn(4, 1, 40)
    for plain in (False, True):
        model = R.cifar_resnet(8, plain=plain, width=8, in_channels=1, dim=1)
        assert model(x).shape == (4, 10)
    assert all(b.downsample is None for s in model.stages() for b in s)  # plain: no skips at all


@pytest.mark.parametrize("name", list(R.ARCHITECTURES))
def test_stage_costs_equal_the_hooked_counts(name):
    block, layers = R.ARCHITECTURES[name]
    rows = rl.costs.stage_costs(block, layers)
    table = rl.costs.parameter_table(meta(R.ResNet, block=block, layers=layers), (1, 3, 224, 224), depth=1)
    by_name = {r.name: r for r in table.rows}
    for row in rows[1:-1]:
        assert row.params == by_name[row.name].parameters
        assert row.flops == by_name[row.name].flops
        assert (1, *row.shape) == by_name[row.name].output_shape
    assert sum(r.params for r in rows) == table.total_parameters
    assert sum(r.flops for r in rows) == table.total_flops


def test_resnet18_is_about_1_8_gmacs():
    rows = rl.costs.stage_costs(BasicBlock, [2, 2, 2, 2])
    assert round(sum(r.flops for r in rows) / 2e9, 2) == 1.81


def test_cifar_stage_costs_match_model():
    rows = rl.costs.stage_costs(
        BasicBlock, [3, 3, 3], (16, 32, 64), "cifar", 32, num_classes=10, shortcut_type="A"
    )
    assert sum(r.params for r in rows) == 269_722
    assert [r.shape for r in rows[1:-1]] == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]


def test_zero_init_makes_every_block_its_shortcut():
    model = R.cifar_resnet(20, zero_init_residual=True, shortcut_type="B").eval()
    with torch.no_grad():
        h = torch.relu(torch.randn(3, 16, 32, 32))
        for stage in model.stages():
            for block in stage:
                out = block(h)
                torch.testing.assert_close(out, torch.relu(block.shortcut(h)))
                h = out
    pre = R.cifar_resnet(8, block=PreActBlock, zero_init_residual=True, shortcut_type="B").eval()
    x = torch.randn(2, 16, 32, 32)
    block = pre.layer1[0]
    torch.testing.assert_close(block(x), x)


def test_zero_init_residual_false_is_not_identity():
    block = R.cifar_resnet(8).eval().layer1[0]
    x = torch.relu(torch.randn(2, 16, 8, 8))
    assert not torch.allclose(block(x), x)


def test_kaiming_fan_out_init():
    model = R.resnet18()
    w = model.layer4[1].conv2.weight  # 512 x 512 x 3 x 3: fan_out = 512 * 9
    assert abs(w.std().item() - (2 / (512 * 9)) ** 0.5) < 0.05 * (2 / (512 * 9)) ** 0.5
    assert torch.equal(model.bn1.weight, torch.ones(64))


def test_state_dict_order_and_repr():
    model = meta(R.resnet50)
    assert list(dict(model.named_children())) == [
        "conv1",
        "bn1",
        "relu",
        "maxpool",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "avgpool",
        "fc",
    ]
    assert "stem_type='imagenet', stages=4" in repr(model)


@pytest.mark.parametrize("depth", [19, 21, 2, 0])
def test_cifar_depth_must_be_6n_plus_2(depth):
    with pytest.raises(ValueError, match="6n \\+ 2"):
        R.cifar_resnet(depth)


@pytest.mark.parametrize("depth", [20.0, True, "20"])
def test_cifar_depth_must_be_an_int(depth):
    with pytest.raises(TypeError, match="depth must be an int"):
        R.cifar_resnet(depth)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="nearest valid depth is 20"):
        R.cifar_resnet(21)
    with pytest.raises(ValueError, match="stride must be an int in"):
        rl.blocks.BasicBlock(16, 16, stride=3)
    with pytest.raises(ValueError, match="one width per stage"):
        R.ResNet(BasicBlock, [2, 2], widths=(16,))
    with pytest.raises(ValueError, match="stem_type must be one of 'imagenet', 'cifar'"):
        R.ResNet(BasicBlock, [1], widths=(8,), stem_type="tiny")
    with pytest.raises(TypeError, match="Linear needs an int `expansion`"):
        R.ResNet(nn.Linear, [1], widths=(8,))
    with pytest.raises(ValueError, match="unsqueeze"):
        R.cifar_resnet(8, in_channels=1, dim=1)(torch.zeros(2, 40))
    with pytest.raises(TypeError, match="BasicBlock or Bottleneck"):
        rl.costs.stage_costs(PreActBlock, [1])
    with pytest.raises(ValueError, match="image_size"):
        rl.costs.stage_costs(Bottleneck, [1, 1, 1, 1], image_size=0)
    with pytest.raises(TypeError, match="image_size"):
        rl.costs.stage_costs(Bottleneck, [1, 1, 1, 1], image_size=224.0)


def test_mismatched_residual_add_says_how_to_fix():
    block = rl.blocks.BasicBlock(16, 32, shortcut_type="B")
    block.downsample = None  # break the projection: x (16 ch) + F(x) (32 ch)
    with pytest.raises(ValueError, match="projection shortcut"):
        block(torch.zeros(1, 16, 8, 8))


# --- stride placement: torchvision's v1.5 (stride on the 3x3) vs He et al.'s v1 (on the first 1x1) ---


def test_stride_in_1x1_moves_the_stride_keeps_the_parameters_and_recovers_the_papers_gmacs():
    v15, v1 = meta(R.resnet50), meta(R.resnet50, stride_in_1x1=True)
    assert rl.costs.count_parameters(v1) == COUNTS["resnet50"]
    assert [k for k in v1.state_dict()] == [k for k in v15.state_dict()]  # same layout
    block = v1.layer2[0]
    assert block.conv1.stride == (2, 2) and block.conv2.stride == (1, 1)
    assert v15.layer2[0].conv1.stride == (1, 1) and v15.layer2[0].conv2.stride == (2, 2)
    assert "stride_in_1x1=True" in repr(block) and "stride_in_1x1" not in repr(v15.layer2[0])
    # He et al. (2016a) Table 1: 3.8, 7.6, 11.3 x 10^9 multiply-adds
    for name, paper in [("ResNet-50", 3.8), ("ResNet-101", 7.6), ("ResNet-152", 11.3)]:
        block_cls, layers = R.ARCHITECTURES[name]
        gmacs = {
            s: sum(r.flops for r in rl.costs.stage_costs(block_cls, layers, stride_in_1x1=s)) / 2e9
            for s in (False, True)
        }
        assert abs(gmacs[True] - paper) < 0.07 < gmacs[False] - paper, (name, gmacs)


def test_stride_in_1x1_closed_form_equals_the_hooked_count():
    model = meta(R.resnet101, stride_in_1x1=True)
    table = rl.costs.parameter_table(model, (1, 3, 224, 224), depth=1)
    rows = rl.costs.stage_costs(Bottleneck, [3, 4, 23, 3], stride_in_1x1=True)
    hooked = {r.name: r for r in table.rows}
    for r in rows[1:-1]:
        assert (r.params, r.flops) == (hooked[r.name].parameters, hooked[r.name].flops)
    y = Bottleneck(16, 8, stride=2, stride_in_1x1=True)(torch.randn(2, 16, 9, 9))
    assert y.shape == (2, 32, 5, 5)


def test_stride_in_1x1_bad_arguments():
    with pytest.raises(TypeError, match="stride_in_1x1 must be True or False, got int 1"):
        Bottleneck(16, 8, stride_in_1x1=1)
    with pytest.raises(ValueError, match="stride_in_1x1 moves a Bottleneck's stride.*BasicBlock"):
        R.resnet18(stride_in_1x1=True)
    with pytest.raises(TypeError, match="stride_in_1x1"):
        R.resnet50(stride_in_1x1="yes")
    with pytest.raises(ValueError, match="Bottleneck blocks only"):
        rl.costs.stage_costs(BasicBlock, [2, 2, 2, 2], stride_in_1x1=True)
    with pytest.raises(TypeError, match="stride_in_1x1"):
        rl.costs.stage_costs(Bottleneck, [3, 4, 6, 3], stride_in_1x1=None)


def test_layer_responses_hook_every_block_norm_and_match_a_direct_computation():
    torch.manual_seed(0)
    net = rl.resnet.cifar_resnet(8, width=4, in_channels=1, dim=1, shortcut_type="B").train()
    x = torch.randn(16, 1, 40)
    stds = rl.resnet.layer_responses(net, x)
    assert len(stds) == 6 and net.training  # bn1, bn2 of 3 blocks, not the projections; mode restored
    net.eval()
    with torch.no_grad():
        h = net.conv1(x)
        h = net.relu(net.bn1(h))
        block = net.layer1[0]
        expected = block.bn1(block.conv1(h)).std().item()
    assert stds[0] == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="no BatchNorm"):
        rl.resnet.layer_responses(
            rl.resnet.cifar_resnet(8, width=4, norm_layer=nn.Identity), torch.randn(2, 3, 8, 8)
        )


# --- issue 25: a read-only table, a bound on the blocks of a whole network ---


def test_architectures_is_read_only_and_every_use_still_works():
    with pytest.raises(TypeError):
        R.ARCHITECTURES["ResNet-18"] = (Bottleneck, (1, 1, 1, 1))
    with pytest.raises(TypeError):
        del R.ARCHITECTURES["ResNet-50"]
    assert R.ARCHITECTURES["ResNet-50"] == (Bottleneck, (3, 4, 6, 3))  # as notebook 07 reads it
    assert [name for name, (block, layers) in R.ARCHITECTURES.items()][0] == "ResNet-18"
    assert dict(R.ARCHITECTURES)["ResNet-200"][1] == (3, 24, 36, 3) and len(R.ARCHITECTURES) == 6
    assert rl.costs.count_parameters(meta(R.resnet18)) == COUNTS["resnet18"]  # the factories read it
    assert len(rl.viz.resnet.network_costs("ResNet-152")) == 6  # stem, 4 stages, head: the explorer


def test_a_resnet_has_at_most_max_blocks_blocks_in_all():
    with pytest.raises(
        ValueError, match=r"layers=\[600, 401\] has 1,001 blocks in all, past .*MAX_BLOCKS = 1,000"
    ):
        R.ResNet(BasicBlock, [600, 401], widths=(4, 8), stem_type="cifar")
    with pytest.raises(ValueError, match=r"layers\[1\] must be an int in \[1, 1000\], got 0"):
        R.ResNet(BasicBlock, [1, 0], widths=(4, 8))
    with pytest.raises(ValueError, match=r"depth must be an int in \[1, 2000\], got 2006"):
        R.cifar_resnet(2006)  # 6 * 334 + 2: 1,002 blocks
    assert len(list(meta(R.cifar_resnet, depth=2000).modules())) > 1000  # the bound itself builds
    assert len(meta(R.cifar_resnet, depth=1202).layer3) == 200  # He et al.'s deepest CIFAR net


def test_layer_responses_refuse_nan_inputs():
    model = R.cifar_resnet(8, width=4)
    with pytest.raises(ValueError, match="x holds NaN or infinity"):
        R.layer_responses(model, torch.full((2, 3, 8, 8), float("nan")))  # NaN stds otherwise
    assert len(R.layer_responses(model, torch.randn(2, 3, 8, 8))) == 6
