"""reslib.layers and reslib.inits: the 1-D/2-D layer choice, the residual add, the init names."""

import pytest
import torch
from torch import nn

from reslib.inits import INITS
from reslib.layers import STEM_TYPES, Layers, layers_for, residual_add


def test_layers_for_picks_1d_or_2d():
    assert layers_for(1).conv is nn.Conv1d and layers_for(1).batch_norm is nn.BatchNorm1d
    assert layers_for(2).conv is nn.Conv2d and layers_for(2).adaptive_avg_pool is nn.AdaptiveAvgPool2d
    with pytest.raises(ValueError, match="dim must be an int in"):
        layers_for(3)
    with pytest.raises(TypeError, match="dim must be an int"):
        layers_for(2.0)


def test_residual_add_explains_a_shape_mismatch():
    assert torch.equal(residual_add(torch.ones(2), torch.ones(2)), torch.full((2,), 2.0))
    with pytest.raises(ValueError, match="projection shortcut"):
        residual_add(torch.zeros(2, 256), torch.zeros(2, 64))


def test_inits_are_sigma_squared_times_fan_in():
    assert INITS == {"he": 2.0, "glorot": 1.0}


def test_layers_records_hold_module_classes_and_the_table_is_read_only():
    with pytest.raises(
        TypeError, match=r"Layers: batch_norm must be an nn.Module class .* got NoneType None"
    ):
        Layers(nn.Conv2d, None, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)
    with pytest.raises(TypeError, match="the class, not an instance"):
        Layers(nn.Conv2d(1, 1, 1), nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)
    assert Layers(*layers_for(1)) == layers_for(1) and layers_for(2).conv is nn.Conv2d
    with pytest.raises(TypeError):
        STEM_TYPES[0] = "tiny"
