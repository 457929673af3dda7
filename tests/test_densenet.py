"""DenseNet: torchvision's names, shapes and parameter counts; DenseNet-BC; the closed forms."""

import json
from pathlib import Path

import pytest
import torch

import reslib as rl
from reslib.costs import count_parameters, densenet_parameter_count, saved_tensor_bytes
from reslib.densenet import (
    DenseBlock,
    DenseLayer,
    DenseNet,
    Transition,
    channel_plan,
    densenet121,
    densenet169,
    densenet201,
    densenet_bc,
)

# Keys and shapes of torchvision 0.20.0's densenet121().state_dict(), read from
# torchvision/models/densenet.py in the PyPI wheel (see "source" in the file).
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "densenet121_keys.json").read_text())


def test_densenet121_has_torchvisions_state_dict_keys_and_shapes_in_order():
    ours = [[k, list(v.shape)] for k, v in densenet121().state_dict().items()]
    assert ours == FIXTURE["keys"]
    assert count_parameters(densenet121()) == FIXTURE["parameters"] == 7_978_856


@pytest.mark.parametrize(
    "factory, count", [(densenet121, 7_978_856), (densenet169, 14_149_480), (densenet201, 20_013_928)]
)
def test_imagenet_densenets_have_torchvisions_parameter_counts(factory, count):
    with torch.device("meta"):
        model = factory()
    assert count_parameters(model) == count


def test_torchvision_state_dict_loads_strictly_and_outputs_agree():
    models = pytest.importorskip("torchvision.models")
    torch.manual_seed(0)
    theirs = models.densenet121().eval()
    ours = densenet121().eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x))


def test_densenet_bc_100_has_about_0_8_million_parameters_and_cifar_shapes():
    model = densenet_bc(100, 12, 10)
    assert count_parameters(model) == 769_162
    assert model.block_config == (16, 16, 16)
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 10)  # CIFAR would be 32x32


@pytest.mark.parametrize(
    "config",
    [
        dict(
            growth_rate=12, block_config=(16, 16, 16), num_init_features=24, num_classes=10, stem_type="cifar"
        ),
        dict(growth_rate=5, block_config=(2, 3), num_init_features=7, compression=0.3, bn_size=2),
        dict(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64),
    ],
)
def test_closed_form_parameter_count_matches_the_built_model(config):
    with torch.device("meta"):
        model = DenseNet(**config)
    assert densenet_parameter_count(**config) == count_parameters(model)


def test_channel_plan_is_k0_plus_l_k_and_transition_compresses():
    plan = channel_plan(12, (3, 2), 24, compression=0.5)
    assert plan[0].layer_inputs == (24, 36, 48) and plan[0].out == 60
    assert plan[0].after_transition == 30
    assert plan[1].layer_inputs == (30, 42) and plan[1].out == 54
    assert plan[1].after_transition is None


def test_dense_block_keeps_its_input_and_grows_by_k_per_layer():
    block = DenseBlock(3, 8, 4)
    x = torch.randn(2, 8, 5, 5)
    y = block(x)
    assert y.shape == (2, 20, 5, 5)
    torch.testing.assert_close(y[:, :8], x)
    assert [layer.in_channels for layer in block.values()] == [8, 12, 16]


def test_dense_layer_and_transition_shapes_and_names():
    layer = DenseLayer(10, 4)
    assert layer(torch.randn(1, 10, 6, 6)).shape == (1, 4, 6, 6)
    assert layer.conv1.out_channels == 16 and "10 -> +4" in repr(layer)
    t = Transition(10, 5)
    assert [name for name, _ in t.named_children()] == ["norm", "relu", "conv", "pool"]
    assert t(torch.randn(1, 10, 6, 6)).shape == (1, 5, 3, 3)


def test_one_dimensional_densenet_runs_on_signals():
    model = DenseNet(4, (2, 2), 8, num_classes=10, in_channels=1, stem_type="cifar", dim=1)
    assert model(torch.randn(3, 1, 40)).shape == (3, 10)
    assert isinstance(model.features.conv0, torch.nn.Conv1d)


def test_no_in_place_relus():
    assert not any(getattr(m, "inplace", False) for m in densenet121().modules())


def test_saved_tensor_bytes_grows_faster_than_linearly_in_dense_block_depth():
    x = torch.randn(1, 3, 16, 16)
    small = saved_tensor_bytes(densenet_bc(16, 4), x)
    large = saved_tensor_bytes(densenet_bc(28, 4), x)  # 2 -> 4 layers per block
    assert 0 < small < large
    assert large > 2 * small  # the concatenations each layer reads grow with depth


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(growth_rate=0), "growth_rate"),
        (dict(block_config=()), "block_config"),
        (dict(block_config=(2, 0)), "block_config"),
        (dict(compression=0.0), "compression"),
        (dict(compression=1.5), "compression"),
        (dict(stem_type="vgg"), "stem_type"),
        (dict(dim=3), "dim"),
        (dict(num_classes=0), "num_classes"),
    ],
)
def test_bad_arguments_raise_clear_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DenseNet(**{**dict(block_config=(2, 2), num_init_features=8), **kwargs})


@pytest.mark.parametrize("depth", [0, 99, 101, 7])
def test_densenet_bc_rejects_depths_that_are_not_6n_plus_4(depth):
    with pytest.raises(ValueError, match="6n \\+ 4"):
        densenet_bc(depth)


def test_densenet_bc_rejects_growth_rate_zero():
    with pytest.raises(ValueError, match="growth_rate"):
        densenet_bc(100, 0)


def test_module_is_registered():
    assert rl.densenet is not None and "densenet" in rl.__all__


# --- issue 25: a bound on the layers of a whole network, records that check their fields ---


def test_a_densenet_has_at_most_max_blocks_dense_layers_in_all():
    with pytest.raises(ValueError, match=r"block_config=\[500, 501\] has 1,001 dense layers in all, past"):
        channel_plan(4, [500, 501], 8)
    with pytest.raises(ValueError, match="1,001 dense layers"):
        DenseNet(4, [500, 501], 8)
    with pytest.raises(ValueError, match="1,001 dense layers"):
        densenet_parameter_count(4, [1] * 1001, 8)  # a loop per block: refused, not run
    with pytest.raises(ValueError, match=r"depth must be an int <= 2002"):
        densenet_bc(2008, 4)  # 3 blocks of 334 layers
    with torch.device("meta"):
        net = densenet_bc(2002, 4)  # the bound builds: 3 blocks of 333 layers
    assert count_parameters(net) == densenet_parameter_count(
        4, (333,) * 3, 8, stem_type="cifar", num_classes=10
    )
    assert channel_plan(4, [1000], 8)[0].layer_inputs[-1] == 8 + 999 * 4


def test_block_plans_check_their_fields():
    with pytest.raises(TypeError, match="BlockPlan: layer_inputs must be a list or tuple of ints"):
        rl.densenet.BlockPlan(1, None, 8, None)
    with pytest.raises(ValueError, match="BlockPlan: block must be an int >= 1, got 0"):
        rl.densenet.BlockPlan(0, (8,), 12, 6)
    assert rl.densenet.BlockPlan(1, (8, 12), 16, 8).after_transition == 8
