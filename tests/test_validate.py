"""reslib.validate: the rules every public callable's arguments follow (types, values, tensors, devices)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pytest
import torch
from torch import nn

import reslib as rl
from reslib.validate import (
    MODULE_LIMIT,
    describe,
    matches,
    require_batch,
    require_bool,
    require_choice,
    require_float,
    require_int,
    require_tensor,
    require_type,
    typechecked,
)


@pytest.mark.parametrize(
    "value, annotation, ok",
    [
        (3, int, True),
        (np.int64(3), int, True),
        (True, int, False),  # a bool is never a count
        (3.0, int, False),
        (3, float, True),  # an int is a number
        (np.float32(0.5), float, True),
        (True, float, False),
        (np.bool_(True), bool, True),
        (1, bool, False),
        (None, int | None, True),
        ("a", str, True),
        ([1, 2], Sequence[int], True),
        ((1, 2.0), Sequence[int], False),
        ("ab", Sequence[str], False),  # a string is not a list of strings
        ((1, 2), tuple[int, int], True),
        ((1, 2, 3), tuple[int, int], False),
        ({"a": 1.0}, Mapping[str, float], True),
        ({"a": "x"}, Mapping[str, float], False),
        (nn.BatchNorm2d, type[nn.Module], True),
        (nn.BatchNorm2d(4), type[nn.Module], False),
        (nn.BatchNorm2d, Callable[[int], nn.Module], True),
        (nn.BatchNorm2d(4), Callable[[int], nn.Module], False),  # an instance where a factory goes
        (lambda c: nn.GroupNorm(2, c), Callable[[int], nn.Module], True),
        (nn.Linear(2, 2), Callable[[torch.Tensor], torch.Tensor], True),  # a module is a function
        (torch.zeros(2), torch.Tensor, True),
        ([0.0, 1.0], torch.Tensor, False),
    ],
)
def test_matches_follows_the_value_rules(value, annotation, ok):
    assert matches(value, annotation) is ok


def test_messages_name_the_argument_the_type_in_words_and_a_fix():
    with pytest.raises(TypeError, match=r"f: depth must be an int, got float 2.0 \(use 2\)"):
        require_type("depth", 2.0, int, "f")
    with pytest.raises(TypeError, match=r"layers\[1\] must be an int, got float 2.5"):
        require_type("layers", [1, 2.5], Sequence[int])
    with pytest.raises(TypeError, match="pass the class, not an instance"):
        require_type("norm_layer", nn.BatchNorm2d(4), Callable[[int], nn.Module] | None)
    with pytest.raises(TypeError, match="a number, without quotes"):
        require_type("lr", "0.1", float)
    with pytest.raises(TypeError, match=r"torch.tensor\(...\)"):
        require_type("x", [1.0, 2.0], torch.Tensor)
    assert describe(Sequence[int] | None) == "a list or tuple of ints, or None"
    assert describe(nn.Module) == "an nn.Module"


def test_a_decorated_function_checks_what_callers_pass_not_its_defaults():
    @typechecked
    def stack(depth: int, widths: Sequence[int] = (4, 8), scale: float = 1) -> int:
        return depth

    assert stack(2) == 2 and stack(np.int64(2), widths=[1]) == 2
    with pytest.raises(TypeError, match="stack: depth must be an int, got bool True"):
        stack(True)
    with pytest.raises(TypeError, match="stack: scale must be a number"):
        stack(2, scale="big")


def test_a_module_too_large_is_refused_before_it_allocates(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("a layer was built: the formula must refuse first")

    monkeypatch.setattr(nn.Conv2d, "__init__", never)  # no build at all, on any device
    with pytest.raises(ValueError, match=r"BasicBlock\(in_channels=100000, planes=100000\) would hold about"):
        rl.blocks.BasicBlock(100_000, 100_000)
    with pytest.raises(ValueError, match="more than 2\\^63 bytes"):
        rl.blocks.BasicBlock(4, 10**12)
    with pytest.raises(ValueError, match=r"ResNet\(layers=\[2, 2\], widths=\[65536, 65536\]\) would hold"):
        rl.resnet.ResNet(rl.blocks.BasicBlock, [2, 2], widths=[2**16, 2**16])
    assert MODULE_LIMIT == rl.validate.MEMORY_LIMIT


def test_types_are_checked_before_the_formula_and_values_after_it():
    with pytest.raises(TypeError, match="BasicBlock: planes must be an int, got str"):
        rl.blocks.BasicBlock(4, "8")  # the formula would have failed on the string
    with pytest.raises(ValueError, match="planes must be an int >= 1, got -1"):
        rl.blocks.BasicBlock(4, -1)  # a negative count passes the formula; the body says what is wrong
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'planes'"):
        rl.blocks.BasicBlock(4)  # arguments that do not fit: Python's own message


def test_building_twice_from_one_seed_gives_the_same_weights_and_rng_state():
    torch.manual_seed(0)
    a = rl.resnet.cifar_resnet(20)
    after_a = torch.get_rng_state()
    torch.manual_seed(0)
    b = rl.resnet.cifar_resnet(20)
    assert torch.equal(after_a, torch.get_rng_state())
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_a_subclass_with_its_own_arguments_is_built_as_written():
    class Wide(rl.blocks.BasicBlock):  # a learner's block: its own signature, not BasicBlock's
        def __init__(self, channels: int):
            super().__init__(channels, channels, stride=1)

    assert Wide(8)(torch.zeros(1, 8, 4, 4)).shape == (1, 8, 4, 4)
    with pytest.raises(ValueError, match=r"BasicBlock\(in_channels=100000, planes=100000, stride=1\) would"):
        Wide(100_000)  # sized by the arguments it gives its parent


def test_require_tensor_and_require_batch():
    x, y = torch.randn(4, 3), torch.arange(4)
    assert require_tensor("x", x, ndim=2, dtype="float") is x
    with pytest.raises(
        TypeError, match=r"x must hold a floating-point tensor, got dtype torch.int64 \(use x.float\(\)\)"
    ):
        require_tensor("x", y, dtype="float")
    with pytest.raises(ValueError, match="x must have 3 or 4 dimensions"):
        require_tensor("x", x, ndim=(3, 4))
    with pytest.raises(ValueError, match="x is empty"):
        require_tensor("x", x[:0])
    with pytest.raises(ValueError, match="dtype must be one of"):
        require_tensor("x", x, dtype="complex")
    assert require_batch(x, y) == (x, y)
    with pytest.raises(TypeError, match="y must hold integer labels"):
        require_batch(x, y.float())
    with pytest.raises(ValueError, match="the same N"):
        require_batch(x, y[:3])


def test_require_int_accepts_ints_and_numpy_ints():
    assert require_int("depth", 3) == 3
    assert require_int("depth", np.int64(3)) == 3 and type(require_int("depth", np.int64(3))) is int
    assert require_int("lag", 0, minimum=0) == 0
    assert require_int("n", -5, minimum=None) == -5


@pytest.mark.parametrize("value", [2.0, np.float64(2.0), True, "2", None])
def test_require_int_wrong_type_is_a_type_error_naming_the_argument(value):
    with pytest.raises(TypeError, match="depth must be an int") as info:
        require_int("depth", value)
    assert repr(value) in str(info.value)


def test_require_int_suggests_the_int_for_a_whole_float():
    with pytest.raises(TypeError, match=r"use 2\b"):
        require_int("depth", 2.0)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (dict(value=0), ">= 1"),
        (dict(value=5, maximum=4), r"in \[1, 4\]"),
        (dict(value=5, minimum=None, maximum=4), "<= 4"),
    ],
)
def test_require_int_out_of_range_is_a_value_error_saying_what_is_expected(kwargs, expected):
    with pytest.raises(ValueError, match=expected):
        require_int("depth", **kwargs)


def test_require_int_appends_the_fix():
    with pytest.raises(ValueError, match="; use 20"):
        require_int("depth", 0, fix="use 20")


def test_require_float():
    assert require_float("lr", 1) == 1.0 and isinstance(require_float("lr", 1), float)
    with pytest.raises(TypeError, match="lr must be a number"):
        require_float("lr", "0.1")
    with pytest.raises(TypeError):
        require_float("lr", True)
    with pytest.raises(ValueError, match="> 0"):
        require_float("lr", 0.0, minimum=0.0, strict_minimum=True)
    with pytest.raises(ValueError, match="finite"):
        require_float("lr", math.nan)
    with pytest.raises(ValueError, match="<= 1"):
        require_float("momentum", 1.5, 0.0, 1.0)


def test_require_bool_and_choice():
    assert require_bool("residual", False) is False
    with pytest.raises(TypeError, match="residual must be True or False"):
        require_bool("residual", 1)
    assert require_choice("padding", "same", ("valid", "same")) == "same"
    with pytest.raises(ValueError, match="padding must be one of 'valid', 'same', got 'full'"):
        require_choice("padding", "full", ("valid", "same"))
    with pytest.raises(ValueError):  # 1 == True, but a bool is not the int option
        require_choice("dim", True, (1, 2))


def test_require_memory_names_the_argument_and_the_limit():
    assert rl.validate.require_memory("width", 64, 2**20) == 2**20
    with pytest.raises(
        ValueError, match=r"width=100000 would allocate about 2,048 MiB, past the limit of 1,024"
    ):
        rl.validate.require_memory("width", 10**5, 2**31)
