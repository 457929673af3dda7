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


def test_layers_replace_checks_the_replaced_field():
    for bad in (None, "zz"):
        with pytest.raises(TypeError, match=r"Layers: max_pool must be an nn.Module class"):
            layers_for(2)._replace(max_pool=bad)
    assert layers_for(2)._replace(conv=nn.Conv1d).conv is nn.Conv1d


def test_residual_add_refuses_non_float_tensors_and_mixed_devices_but_runs_on_meta():
    x = torch.zeros(2, 3)
    for name, call in (("x", lambda t: residual_add(t, x)), ("fx", lambda t: residual_add(x, t))):
        for dtype in (torch.complex64, torch.int64):
            with pytest.raises(TypeError, match=rf"got {name} of dtype {dtype}; call {name}\.float\(\)"):
                call(torch.zeros(2, 3, dtype=dtype))
        with pytest.raises(ValueError, match=rf"one device, got .*{name} on meta"):
            call(torch.zeros(2, 3, device="meta"))
    meta = torch.zeros(2, 3, device="meta")
    assert residual_add(meta, meta).shape == (2, 3)  # shapes only: how FLOPs are counted
    assert residual_add(x.half(), x.half()).dtype == torch.float16
