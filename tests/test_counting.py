import pytest
import torch
from torch import nn

import reslib as rl


def test_count_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2, bias=False))
    assert rl.counting.count_parameters(model) == 3 * 4 + 4 + 2 * 4 + 8
    model[0].weight.requires_grad_(False)
    assert rl.counting.count_parameters(model, trainable_only=True) == 4 + 8 + 8


def test_count_flops_of_linear_and_conv():
    assert rl.counting.count_flops(nn.Linear(40, 10), (1, 40)) == 2 * 40 * 10
    assert rl.counting.count_flops(nn.Linear(40, 10), (8, 40)) == 8 * 2 * 40 * 10
    # Conv1d: 2 * C_in * C_out * k * L_out
    conv = nn.Conv1d(3, 5, kernel_size=3, padding=1)
    assert rl.counting.count_flops(conv, (1, 3, 20)) == 2 * 3 * 5 * 3 * 20


def test_count_flops_of_an_mlp_and_mode_is_restored():
    model = rl.mlp.mlp(3, 16, 40, 10, norm="batch")
    model.train()
    assert rl.counting.count_flops(model, (1, 40)) == 2 * (40 * 16 + 2 * 16 * 16 + 16 * 10)
    assert model.training


@pytest.mark.parametrize("shape", [(), (0, 40), (1, -2), (1.0, 40)])
def test_count_flops_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match="input_shape"):
        rl.counting.count_flops(nn.Linear(40, 10), shape)


def test_count_parameters_rejects_non_modules():
    with pytest.raises(TypeError, match="nn.Module"):
        rl.counting.count_parameters(torch.zeros(3))
