"""One rule for bad arguments in the model topics: a wrong type is a TypeError, a wrong value a ValueError.

One row per (callable, bad keyword arguments, expected exception, a word the message must contain).
A float `2.0` where a count is expected is a wrong *type*; 0 or an unknown option is a wrong *value*.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import reslib as rl
from reslib.blocks import BasicBlock, Bottleneck, make_stage
from reslib.costs import (
    block_costs,
    conv_cost,
    count_flops,
    densenet_parameter_count,
    parameter_table,
    stage_costs,
)
from reslib.densenet import DenseNet, channel_plan, densenet121, densenet_bc
from reslib.hourglass import StackedHourglass
from reslib.preact import PreActBlock, PreActBottleneck
from reslib.resnet import ResNet, cifar_resnet, resnet18, resnet50
from reslib.train import evaluate, fit
from reslib.unet import UNet, unet_output_size, unet_shape_trace


def _data() -> rl.data.TensorData:
    x, y = torch.randn(8, 4), torch.arange(8) % 2
    return rl.data.TensorData(x, y, x, y, 2)


def _fit(**kwargs):
    return fit(nn.Linear(4, 2), _data(), **(dict(epochs=1, lr=0.1, progress=False) | kwargs))


def _evaluate(**kwargs):
    data = _data()
    return evaluate(nn.Linear(4, 2), data.x_test, data.y_test, **kwargs)


MLP = dict(depth=2, width=4, in_features=3, out_features=2)
BLOCK = dict(in_channels=8, planes=8)
STAGE = dict(block=BasicBlock, in_channels=8, planes=8, num_blocks=1)
RESNET = dict(block=BasicBlock, layers=[1], widths=(8,), stem_type="cifar")
COSTS = dict(block=BasicBlock, layers=[2, 2, 2, 2])
PLAN = dict(growth_rate=4, block_config=(2, 2), num_init_features=8)
UNET = dict(in_channels=1, num_classes=2, depth=2, base_channels=4)
CONV = dict(kernel_size=3, in_channels=4, out_channels=4)
BLOCK_COSTS = dict(channels=64, planes=16, size=8)
TABLE = dict(model=nn.Linear(3, 2), input_shape=(1, 3))

ROWS = [
    # reslib.mlp
    (rl.mlp.mlp, MLP | dict(depth=2.0), TypeError, "depth"),
    (rl.mlp.mlp, MLP | dict(width=0), ValueError, "width"),
    (rl.mlp.mlp, MLP | dict(init="xavier"), ValueError, "glorot"),
    (rl.mlp.mlp, MLP | dict(residual=1), TypeError, "residual"),
    (rl.mlp.mlp, MLP | dict(residual=True, residual_scale=0.0), ValueError, "residual_scale"),
    # reslib.blocks: the four blocks and make_stage
    *[
        (block, BLOCK | dict(planes=8.0), TypeError, "planes")
        for block in (BasicBlock, Bottleneck, PreActBlock, PreActBottleneck)
    ],
    *[
        (block, BLOCK | dict(stride=3), ValueError, "stride")
        for block in (BasicBlock, Bottleneck, PreActBlock, PreActBottleneck)
    ],
    (BasicBlock, BLOCK | dict(stride=2.0), TypeError, "stride"),
    (Bottleneck, BLOCK | dict(shortcut_type=None), TypeError, "shortcut_type"),
    (PreActBlock, BLOCK | dict(dim=3), ValueError, "dim"),
    (PreActBottleneck, BLOCK | dict(plain=None), TypeError, "plain"),
    (make_stage, STAGE | dict(num_blocks=2.0), TypeError, "num_blocks"),
    (make_stage, STAGE | dict(num_blocks=0), ValueError, "num_blocks"),
    (make_stage, STAGE | dict(block=nn.Conv2d), TypeError, "expansion"),
    # reslib.resnet
    (ResNet, RESNET | dict(num_classes=10.0), TypeError, "num_classes"),
    (ResNet, RESNET | dict(in_channels=0), ValueError, "in_channels"),
    (ResNet, RESNET | dict(stem_type="tiny"), ValueError, "stem_type"),
    (ResNet, RESNET | dict(layers=[1.0]), TypeError, "layers"),
    (ResNet, RESNET | dict(dim=2.0), TypeError, "dim"),
    (ResNet, RESNET | dict(layers=[600, 401], widths=(4, 8)), ValueError, "1,001 blocks in all"),
    (ResNet, RESNET | dict(layers=[1, 0], widths=(4, 8)), ValueError, "layers[1]"),
    (resnet18, dict(num_classes=1000.0), TypeError, "num_classes"),
    (resnet18, dict(stem_type="cifar", shortcut_type="C"), ValueError, "shortcut_type"),
    (resnet50, dict(in_channels=3.0), TypeError, "in_channels"),
    (resnet50, dict(num_classes=0), ValueError, "num_classes"),
    (cifar_resnet, dict(depth=20.0), TypeError, "depth"),
    (cifar_resnet, dict(depth=21), ValueError, "nearest valid depth is 20"),
    (cifar_resnet, dict(depth=20, width=16.0), TypeError, "width"),
    (cifar_resnet, dict(depth=20, shortcut_type="C"), ValueError, "shortcut_type"),
    (cifar_resnet, dict(depth=2006), ValueError, "depth"),
    (stage_costs, COSTS | dict(image_size=224.0), TypeError, "image_size"),
    (stage_costs, COSTS | dict(image_size=0), ValueError, "image_size"),
    (stage_costs, COSTS | dict(stem_type="tiny"), ValueError, "stem_type"),
    (stage_costs, COSTS | dict(layers=[1] * 1001, widths=[8] * 1001), ValueError, "layers"),
    # reslib.densenet
    (DenseNet, PLAN | dict(growth_rate=4.0), TypeError, "growth_rate"),
    (DenseNet, PLAN | dict(block_config=(2, 0)), ValueError, "block_config[1]"),
    (DenseNet, PLAN | dict(bn_size=4.0), TypeError, "bn_size"),
    (DenseNet, PLAN | dict(compression=0.0), ValueError, "compression"),
    (DenseNet, PLAN | dict(stem_type="vgg"), ValueError, "stem_type"),
    (densenet121, dict(num_classes=10.0), TypeError, "num_classes"),
    (densenet121, dict(drop_rate=2.0), ValueError, "drop_rate"),
    (densenet_bc, dict(depth=100.0), TypeError, "depth"),
    (densenet_bc, dict(depth=99), ValueError, "nearest valid depth is 100"),
    (densenet_bc, dict(growth_rate=0), ValueError, "growth_rate"),
    (densenet_bc, dict(depth=2008), ValueError, "depth"),
    (DenseNet, PLAN | dict(block_config=(500, 501)), ValueError, "block_config"),
    (channel_plan, PLAN | dict(num_init_features=8.0), TypeError, "num_init_features"),
    (channel_plan, PLAN | dict(block_config=()), ValueError, "block_config"),
    (channel_plan, PLAN | dict(block_config="22"), TypeError, "block_config"),
    (channel_plan, PLAN | dict(compression="half"), TypeError, "compression"),
    (densenet_parameter_count, PLAN | dict(bn_size=2.0), TypeError, "bn_size"),
    (densenet_parameter_count, PLAN | dict(num_classes=0), ValueError, "num_classes"),
    # reslib.unet
    (UNet, UNET | dict(depth=2.0), TypeError, "depth"),
    (UNet, UNET | dict(base_channels=0), ValueError, "base_channels"),
    (UNet, UNET | dict(padding="reflect"), ValueError, "padding"),
    (UNet, UNET | dict(skips="yes"), TypeError, "skips"),
    (unet_output_size, dict(size=572.0), TypeError, "size"),
    (unet_output_size, dict(size=570), ValueError, "556 or 572"),
    (unet_shape_trace, dict(size=572, depth=4.0), TypeError, "depth"),
    (unet_shape_trace, dict(size=0), ValueError, "size"),
    # reslib.hourglass
    (StackedHourglass, dict(in_channels=1, num_keypoints=2.0), TypeError, "num_keypoints"),
    (StackedHourglass, dict(in_channels=1, num_keypoints=2, num_stacks=0), ValueError, "num_stacks"),
    (StackedHourglass, dict(in_channels=1, num_keypoints=2, channels=6), ValueError, "multiple of 4"),
    (StackedHourglass, dict(in_channels=1, num_keypoints=2, order=2.0), TypeError, "order"),
    (StackedHourglass, dict(in_channels=1, num_keypoints=2, num_stacks=91), ValueError, "num_stacks=91"),
    # reslib.costs
    (conv_cost, CONV | dict(kernel_size=3.0), TypeError, "kernel_size"),
    (conv_cost, CONV | dict(out_positions=0), ValueError, "out_positions"),
    (conv_cost, CONV | dict(dim=4), ValueError, "dim"),
    (block_costs, BLOCK_COSTS | dict(size=8.0), TypeError, "size"),
    (block_costs, BLOCK_COSTS | dict(planes=0), ValueError, "planes"),
    (parameter_table, TABLE | dict(depth=1.0), TypeError, "depth"),
    (parameter_table, TABLE | dict(input_shape=(0, 3)), ValueError, "input_shape[0]"),
    (count_flops, dict(model=nn.Linear(3, 2), input_shape=(1.0, 3)), TypeError, "input_shape[0]"),
    (count_flops, dict(model=nn.Linear(3, 2), input_shape=(1, -3)), ValueError, "input_shape[1]"),
    (count_flops, dict(model=nn.Linear(3, 2), input_shape=(10**9, 3)), ValueError, "input_shape"),
    # reslib.train
    (_fit, dict(epochs=2.0), TypeError, "epochs"),
    (_fit, dict(epochs=0), ValueError, "epochs"),
    (_fit, dict(batch_size=10.0), TypeError, "batch_size"),
    (_fit, dict(lr=0.0), ValueError, "lr"),
    (_fit, dict(lr="0.1"), TypeError, "lr"),
    (_fit, dict(optimizer="rmsprop"), ValueError, "optimizer"),
    (_fit, dict(seed=1.0), TypeError, "seed"),
    (_evaluate, dict(batch_size=100.0), TypeError, "batch_size"),
    (_evaluate, dict(batch_size=0), ValueError, "batch_size"),
]


def _id(row: tuple) -> str:
    fn, kwargs, error, _ = row
    bad = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k not in ("block", "model"))
    return f"{fn.__name__}-{error.__name__}-{bad}"


@pytest.mark.parametrize("fn, kwargs, error, word", ROWS, ids=[_id(r) for r in ROWS])
def test_bad_argument_raises_the_right_error_and_names_it(fn, kwargs, error, word):
    with pytest.raises(error) as info:
        fn(**kwargs)
    assert word in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "fn", sorted({row[0] for row in ROWS}, key=lambda f: f.__name__), ids=lambda f: f.__name__
)
def test_every_callable_has_a_type_row_and_a_value_row(fn):
    errors = {error for f, _, error, _ in ROWS if f is fn}
    assert errors == {TypeError, ValueError}, fn.__name__
