"""reslib.argtypes (@typechecked) and reslib.tensors: the rules every public callable's arguments follow."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pytest
import torch
from torch import nn

import reslib as rl
from reslib.argtypes import MODULE_LIMIT, check_type, describe, matches, typechecked
from reslib.tensors import check_batch, check_tensor


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
def test_matches_follows_the_rules_of_reslib_core(value, annotation, ok):
    assert matches(value, annotation) is ok


def test_messages_name_the_argument_the_type_in_words_and_a_fix():
    with pytest.raises(TypeError, match=r"f: depth must be an int, got float 2.0 \(use 2\)"):
        check_type("depth", 2.0, int, "f")
    with pytest.raises(TypeError, match=r"layers\[1\] must be an int, got float 2.5"):
        check_type("layers", [1, 2.5], Sequence[int])
    with pytest.raises(TypeError, match="pass the class, not an instance"):
        check_type("norm_layer", nn.BatchNorm2d(4), Callable[[int], nn.Module] | None)
    with pytest.raises(TypeError, match="a number, without quotes"):
        check_type("lr", "0.1", float)
    with pytest.raises(TypeError, match=r"torch.tensor\(...\)"):
        check_type("x", [1.0, 2.0], torch.Tensor)
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


def test_a_module_too_large_is_refused_before_it_allocates():
    with pytest.raises(ValueError, match=r"BasicBlock\(in_channels=100000, planes=100000\) would hold about"):
        rl.blocks.BasicBlock(100_000, 100_000)
    with pytest.raises(ValueError, match="more than 2\\^63 bytes"):
        rl.blocks.BasicBlock(4, 10**12)
    assert MODULE_LIMIT == rl.core.MEMORY_LIMIT


def test_sizing_leaves_weights_and_the_rng_as_they_were():
    torch.manual_seed(0)
    a = rl.resnet.cifar_resnet(20)
    after_a = torch.get_rng_state()
    torch.manual_seed(0)
    with torch.device("meta"):
        rl.resnet.cifar_resnet(20)  # what the sizing does, spelled out: no draw from the CPU generator
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


def test_check_tensor_and_check_batch():
    x, y = torch.randn(4, 3), torch.arange(4)
    assert check_tensor("x", x, ndim=2, dtype="float") is x
    with pytest.raises(
        TypeError, match=r"x must hold a floating-point tensor, got dtype torch.int64 \(use x.float\(\)\)"
    ):
        check_tensor("x", y, dtype="float")
    with pytest.raises(ValueError, match="x must have 3 or 4 dimensions"):
        check_tensor("x", x, ndim=(3, 4))
    with pytest.raises(ValueError, match="x is empty"):
        check_tensor("x", x[:0])
    with pytest.raises(ValueError, match="dtype must be one of"):
        check_tensor("x", x, dtype="complex")
    assert check_batch(x, y) == (x, y)
    with pytest.raises(TypeError, match="y must hold integer labels"):
        check_batch(x, y.float())
    with pytest.raises(ValueError, match="the same N"):
        check_batch(x, y[:3])
