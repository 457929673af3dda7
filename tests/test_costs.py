import pytest
import torch
from torch import nn

import reslib as rl


def test_count_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2, bias=False))
    assert rl.costs.count_parameters(model) == 3 * 4 + 4 + 2 * 4 + 8
    model[0].weight.requires_grad_(False)
    assert rl.costs.count_parameters(model, trainable_only=True) == 4 + 8 + 8


def test_count_flops_of_linear_and_conv():
    assert rl.costs.count_flops(nn.Linear(40, 10), (1, 40)) == 2 * 40 * 10
    assert rl.costs.count_flops(nn.Linear(40, 10), (8, 40)) == 8 * 2 * 40 * 10
    # Conv1d: 2 * C_in * C_out * k * L_out
    conv = nn.Conv1d(3, 5, kernel_size=3, padding=1)
    assert rl.costs.count_flops(conv, (1, 3, 20)) == 2 * 3 * 5 * 3 * 20


def test_count_flops_of_an_mlp_and_mode_is_restored():
    model = rl.mlp.mlp(3, 16, 40, 10, norm="batch")
    model.train()
    assert rl.costs.count_flops(model, (1, 40)) == 2 * (40 * 16 + 2 * 16 * 16 + 16 * 10)
    assert model.training


@pytest.mark.parametrize(
    "shape, error",
    [((), ValueError), ((0, 40), ValueError), ((1, -2), ValueError), ((1.0, 40), TypeError), (40, TypeError)],
)
def test_count_flops_rejects_bad_shapes(shape, error):
    with pytest.raises(error, match="input_shape"):
        rl.costs.count_flops(nn.Linear(40, 10), shape)


def test_count_parameters_rejects_non_modules():
    with pytest.raises(TypeError, match="nn.Module"):
        rl.costs.count_parameters(torch.zeros(3))


# --- parameter_table, conv_cost, block_costs (notebook 06) -----------------------------------


def test_parameter_table_rows_in_call_order_with_shapes_params_and_flops():
    model = rl.blocks.Bottleneck(256, 64)
    table = rl.costs.parameter_table(model, (1, 256, 8, 8))
    names = [r.name for r in table.rows]
    assert names == ["conv1", "bn1", "relu", "conv2", "bn2", "relu", "conv3", "bn3", "relu"]
    assert [r.parameters for r in table.rows if r.kind == "Conv2d"] == [16_384, 36_864, 16_384]
    assert table.rows[0].output_shape == (1, 64, 8, 8) and table.rows[6].output_shape == (1, 256, 8, 8)
    assert [r.flops for r in table.rows if r.kind == "Conv2d"] == [
        2 * w * 64 for w in (16_384, 36_864, 16_384)
    ]
    assert table.total_parameters == 70_400  # convs + three BNs (2 per channel)
    assert table.total_flops == rl.costs.count_flops(model, (1, 256, 8, 8))
    text = repr(table)
    assert "conv2 (Conv2d)" in text and "70,400" in text and "[1, 256, 8, 8]" in text


def test_parameter_table_depth_lists_containers_with_their_childrens_totals():
    model = rl.resnet.cifar_resnet(8, width=4)
    table = rl.costs.parameter_table(model, (2, 3, 16, 16), depth=1)
    assert [r.name for r in table.rows] == [
        "conv1",
        "bn1",
        "relu",
        "maxpool",
        "layer1",
        "layer2",
        "layer3",
        "avgpool",
        "fc",
    ]
    assert sum(r.parameters for r in table.rows) == table.total_parameters
    assert sum(r.flops for r in table.rows) == table.total_flops
    nested = rl.costs.parameter_table(model, (2, 3, 16, 16), depth=2)
    assert "layer2.0" in [r.name for r in nested.rows] and nested.rows[5].depth == 2


def test_parameter_table_works_on_meta_and_restores_mode():
    with torch.device("meta"):
        model = rl.resnet.resnet18()
    model.train()
    table = rl.costs.parameter_table(model, (1, 3, 224, 224), depth=1)
    assert table.total_parameters == 11_689_512 and model.training
    assert table.rows[-1].output_shape == (1, 1000)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(model="not a module", input_shape=(1, 3)), TypeError),
        (dict(model=nn.Linear(3, 2), input_shape=(0, 3)), ValueError),
        (dict(model=nn.Linear(3, 2), input_shape=3), TypeError),
        (dict(model=nn.Linear(3, 2), input_shape=(1, 3), depth=0), ValueError),
    ],
)
def test_parameter_table_rejects_bad_input(kwargs, error):
    with pytest.raises(error, match="must be"):
        rl.costs.parameter_table(**kwargs)


def test_conv_cost_formula():
    assert rl.costs.conv_cost(3, 256, 64) == (147_456, 2 * 147_456)
    assert rl.costs.conv_cost(1, 256, 256, bias=True) == (65_792, 2 * 65_536)
    assert rl.costs.conv_cost(3, 64, 64, out_positions=56 * 56)[1] == 2 * 36_864 * 56 * 56
    assert rl.costs.conv_cost(5, 2, 3, dim=1) == (30, 60)
    conv = nn.Conv2d(32, 16, 3, padding=1, bias=True)
    params, flops = rl.costs.conv_cost(3, 32, 16, out_positions=10 * 10, bias=True)
    assert params == rl.costs.count_parameters(conv)
    assert flops == rl.costs.count_flops(conv, (1, 32, 10, 10))
    with pytest.raises(ValueError, match="kernel_size must be an int >= 1"):
        rl.costs.conv_cost(0, 3, 3)
    with pytest.raises(ValueError, match="dim must be"):
        rl.costs.conv_cost(3, 3, 3, dim=4)


def test_block_costs_reproduce_he_et_al_figure_5():
    basic = rl.costs.block_costs(64, 64, 56).basic
    bottleneck = rl.costs.block_costs(256, 64, 56).bottleneck
    assert sum(r.params for r in basic) == 73_728
    assert sum(r.params for r in bottleneck) == 69_632
    assert [r.shape for r in bottleneck] == ["1x1, 256->64", "3x3, 64->64", "1x1, 64->256"]
    equal = rl.costs.block_costs(512, 128, 14)
    ratio = sum(r.params for r in equal.basic) / sum(r.params for r in equal.bottleneck)
    assert round(ratio, 2) == 16.94  # two 3x3 convs at 512 channels vs 1x1-3x3-1x1 at width 128
    one_conv = equal.basic[0].params / sum(r.params for r in equal.bottleneck)
    assert round(one_conv, 2) == 8.47  # "about 8x": one 512-channel 3x3 conv vs a whole bottleneck
    with pytest.raises(ValueError, match="planes must be an int >= 1"):
        rl.costs.block_costs(64, 0, 8)


# --- issue 25: closed forms take no time, big inputs are refused before allocating, records check ---


@pytest.mark.parametrize("block", [rl.blocks.BasicBlock, rl.blocks.Bottleneck])
@pytest.mark.parametrize("shortcut_type", ["A", "B"])
def test_stage_costs_grow_linearly_in_the_blocks_of_a_stage(block, shortcut_type):
    from reslib.costs import stage_costs

    one, two, many = (
        stage_costs(block, [n] * 3, (8, 16, 32), "cifar", 32, shortcut_type=shortcut_type)
        for n in (1, 2, 10**9)
    )
    for a, b, c in zip(one[1:-1], two[1:-1], many[1:-1], strict=True):
        per_block = b.params - a.params, b.flops - a.flops  # each block after the first is the same
        assert per_block[0] > 0 and c.params == a.params + (10**9 - 1) * per_block[0]
        assert c.flops == a.flops + (10**9 - 1) * per_block[1] and c.blocks == 10**9 and c.shape == a.shape


def test_stage_costs_of_a_billion_blocks_take_no_time_and_a_thousand_and_one_stages_are_refused():
    import time

    from reslib.costs import stage_costs

    start = time.perf_counter()
    rows = stage_costs(rl.blocks.BasicBlock, [10**9] * 4)  # hung: it looped over every block
    assert time.perf_counter() - start < 0.5 and rows[1].blocks == 10**9
    with pytest.raises(
        ValueError, match=r"layers must name at most reslib.validate.MAX_BLOCKS = 1,000 stages"
    ):
        stage_costs(rl.blocks.BasicBlock, [1] * 1001, widths=[8] * 1001)
    assert len(stage_costs(rl.blocks.BasicBlock, [1] * 1000, widths=[8] * 1000)) == 1002


def test_count_flops_and_parameter_table_refuse_an_input_past_the_memory_limit_but_not_on_meta():
    with pytest.raises(ValueError, match=r"input_shape=\(100000, 3, 64, 64\) would allocate about 4,688 MiB"):
        rl.costs.count_flops(nn.Conv2d(3, 4, 3), (100_000, 3, 64, 64))
    with pytest.raises(ValueError, match="input_shape"):
        rl.costs.parameter_table(nn.Conv2d(3, 4, 3), (100_000, 3, 64, 64))
    with torch.device("meta"):
        conv = nn.Conv2d(3, 4, 3)
    assert (
        rl.costs.count_flops(conv, (100_000, 3, 64, 64)) == 2 * 27 * 4 * 62 * 62 * 100_000
    )  # meta: shapes only


def test_cost_records_check_their_fields_and_print():
    with pytest.raises(
        TypeError, match="ParameterTable: rows must be a list or tuple of LayerRows, got NoneType"
    ):
        rl.costs.ParameterTable(None)
    with pytest.raises(TypeError, match="StageCost: blocks must be an int, got float 1.5"):
        rl.costs.StageCost("layer1", (8, 4, 4), 1.5, 10, 20)
    with pytest.raises(TypeError, match="ConvCost: params must be an int"):
        rl.costs.ConvCost("conv1", "3x3, 8->8", "576", 0)
    with pytest.raises(TypeError, match="BlockCosts: basic must be a list or tuple of ConvCosts"):
        rl.costs.BlockCosts(None, ())
    with pytest.raises(TypeError, match="LayerRow: output_shape"):
        rl.costs.LayerRow("fc", "Linear", 1, "(1, 2)", 8, 12)
    table = rl.costs.parameter_table(nn.Sequential(nn.Linear(3, 2)), (1, 3))
    assert "total params: 8" in repr(table) and isinstance(table.rows[0], rl.costs.LayerRow)


def test_saved_tensor_bytes_refuses_nan_and_meta_inputs():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    assert rl.costs.saved_tensor_bytes(model, torch.ones(2, 3)) > 0
    for bad in (torch.tensor([[float("nan"), 0.0, 0.0]]), torch.full((1, 3), float("inf"))):
        with pytest.raises(ValueError, match="x holds NaN or infinity"):
            rl.costs.saved_tensor_bytes(model, bad)
    with pytest.raises(ValueError, match="x is on the meta device"):
        rl.costs.saved_tensor_bytes(model, torch.ones(2, 3, device="meta"))
