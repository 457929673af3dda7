"""The ground floor: one rule for bad arguments, the 1-D/2-D layer choice, the residual add."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import reslib as rl
from reslib.core import INITS, check_bool, check_choice, check_float, check_int, layers_for, residual_add


def test_check_int_accepts_ints_and_numpy_ints():
    assert check_int("depth", 3) == 3
    assert check_int("depth", np.int64(3)) == 3 and type(check_int("depth", np.int64(3))) is int
    assert check_int("lag", 0, minimum=0) == 0
    assert check_int("n", -5, minimum=None) == -5


@pytest.mark.parametrize("value", [2.0, np.float64(2.0), True, "2", None])
def test_check_int_wrong_type_is_a_type_error_naming_the_argument(value):
    with pytest.raises(TypeError, match="depth must be an int") as info:
        check_int("depth", value)
    assert repr(value) in str(info.value)


def test_check_int_suggests_the_int_for_a_whole_float():
    with pytest.raises(TypeError, match=r"use 2\b"):
        check_int("depth", 2.0)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (dict(value=0), ">= 1"),
        (dict(value=5, maximum=4), r"in \[1, 4\]"),
        (dict(value=5, minimum=None, maximum=4), "<= 4"),
    ],
)
def test_check_int_out_of_range_is_a_value_error_saying_what_is_expected(kwargs, expected):
    with pytest.raises(ValueError, match=expected):
        check_int("depth", **kwargs)


def test_check_int_appends_the_fix():
    with pytest.raises(ValueError, match="; use 20"):
        check_int("depth", 0, fix="use 20")


def test_check_float():
    assert check_float("lr", 1) == 1.0 and isinstance(check_float("lr", 1), float)
    with pytest.raises(TypeError, match="lr must be a number"):
        check_float("lr", "0.1")
    with pytest.raises(TypeError):
        check_float("lr", True)
    with pytest.raises(ValueError, match="> 0"):
        check_float("lr", 0.0, minimum=0.0, strict_minimum=True)
    with pytest.raises(ValueError, match="finite"):
        check_float("lr", math.nan)
    with pytest.raises(ValueError, match="<= 1"):
        check_float("momentum", 1.5, 0.0, 1.0)


def test_check_bool_and_choice():
    assert check_bool("residual", False) is False
    with pytest.raises(TypeError, match="residual must be True or False"):
        check_bool("residual", 1)
    assert check_choice("padding", "same", ("valid", "same")) == "same"
    with pytest.raises(ValueError, match="padding must be one of 'valid', 'same', got 'full'"):
        check_choice("padding", "full", ("valid", "same"))
    with pytest.raises(ValueError):  # 1 == True, but a bool is not the int option
        check_choice("dim", True, (1, 2))


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


def test_check_memory_names_the_argument_and_the_limit():
    assert rl.core.check_memory("width", 64, 2**20) == 2**20
    with pytest.raises(
        ValueError, match=r"width=100000 would allocate about 2,048 MiB, past the limit of 1,024"
    ):
        rl.core.check_memory("width", 10**5, 2**31)


def test_byte_cache_keeps_at_most_its_budget_and_drops_the_least_recent():
    calls = []

    @rl.core.byte_cache(100)
    def zeros(n):
        calls.append(n)
        return torch.zeros(n, dtype=torch.uint8)  # n bytes

    a = zeros(40)
    assert zeros(40) is a and calls == [40]
    zeros(50)
    zeros(40)  # most recent now: 50 is dropped first
    zeros(30)
    assert zeros.cache_bytes() == 70 and calls == [40, 50, 30]
    zeros(50)
    assert calls == [40, 50, 30, 50]
    big = zeros(500)  # larger than the whole budget: returned, never kept
    assert big.numel() == 500 and zeros.cache_bytes() <= 100
    zeros(500)
    assert calls[-2:] == [500, 500]
    zeros.cache_clear()
    assert zeros.cache_bytes() == 0
