"""reslib.validate: the rules every public callable's arguments follow (types, values, tensors, devices)."""

from __future__ import annotations

import inspect
import math
import re
import time
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


def _transformer_args(n_out: int, norm_first: bool) -> tuple:
    blocks = nn.Sequential(*[rl.transformer.Block(8, 2, norm_first=norm_first) for _ in range(2)])
    return (10, 6, n_out, blocks, 8, norm_first)


# (class, arguments, keyword arguments): defaults, 1-D and 2-D, identity and projection shortcuts,
# options A and B, no norm, reslib's own BatchNorm, bottleneck sizes, every option that changes a count
_BLOCK_CASES = [
    ((8, 8), {}),
    ((8, 4, 2), {}),
    ((16, 4), {}),
    ((3, 5), dict(dim=1)),
    ((4, 8, 2), dict(shortcut_type="A", dim=1)),
    ((3, 5, 2), dict(plain=True, norm_layer=nn.Identity)),
    ((4, 4, 2), dict(norm_layer=rl.batchnorm.BatchNorm2d)),
]
_BLOCKS = [rl.blocks.BasicBlock, rl.blocks.Bottleneck, rl.preact.PreActBlock, rl.preact.PreActBottleneck]
SIZED_CASES = [
    *[(block, args, kwargs) for block in _BLOCKS for args, kwargs in _BLOCK_CASES],
    (rl.blocks.Bottleneck, (8, 4, 2), dict(stride_in_1x1=True)),
    (rl.resnet.ResNet, (rl.blocks.BasicBlock, [1, 1]), dict(widths=(4, 8), num_classes=3)),
    (rl.resnet.ResNet, (rl.blocks.BasicBlock, [2, 2, 2, 2]), {}),  # ResNet-18
    (rl.resnet.ResNet, (rl.blocks.Bottleneck, [3, 4, 6, 3]), {}),  # ResNet-50
    (rl.resnet.ResNet, (rl.blocks.Bottleneck, [2, 1]), dict(widths=(4, 8), dim=1, in_channels=1)),
    (
        rl.resnet.ResNet,
        (rl.blocks.BasicBlock, [3, 3, 3]),
        dict(widths=(16, 32, 64), stem_type="cifar", shortcut_type="A"),
    ),
    (
        rl.resnet.ResNet,
        (rl.preact.PreActBlock, [1, 2]),
        dict(widths=(4, 8), plain=True, norm_layer=nn.Identity),
    ),
    (rl.resnet.ResNet, (rl.preact.PreActBottleneck, [1, 1]), dict(widths=(4, 8), zero_init_residual=True)),
    (rl.densenet.DenseLayer, (8, 4), {}),
    (rl.densenet.DenseLayer, (5, 3, 2, 0.2, 1), {}),
    (rl.densenet.DenseBlock, (3, 8, 4), {}),
    (rl.densenet.DenseBlock, (4, 5, 3, 2, 0.0, 1), {}),
    (rl.densenet.Transition, (8, 4), {}),
    (rl.densenet.Transition, (9, 3, 1), {}),
    (rl.densenet.DenseNet, (), {}),  # DenseNet-121
    (rl.densenet.DenseNet, (4, (2, 3)), dict(num_init_features=8, num_classes=3)),
    (rl.densenet.DenseNet, (4, (2, 3, 1), 8), dict(compression=0.3, stem_type="cifar", dim=1, in_channels=1)),
    (rl.unet.UNet, (1, 3), {}),
    (rl.unet.UNet, (3, 2), dict(depth=2, base_channels=4, skips=False, batch_norm=False)),
    (rl.unet.UNet, (3, 2), dict(depth=1, base_channels=5, padding="same")),
    (rl.hourglass.Hourglass, (1, 8), {}),
    (rl.hourglass.Hourglass, (3, 16), {}),
    (rl.hourglass.Hourglass, (2, 12), {}),
    (rl.hourglass.StackedHourglass, (3, 2), {}),
    (rl.hourglass.StackedHourglass, (1, 4, 1, 8, 2), {}),
    (rl.attention.SelfAttention, (8, 2), {}),
    (rl.attention.FeedForward, (8, 12, "relu"), {}),
    (rl.transformer.Block, (8, 2), {}),
    (rl.transformer.Block, (8, 2, 5, False), {}),
    (rl.transformer.Transformer, _transformer_args(10, True), {}),
    (rl.transformer.Transformer, _transformer_args(3, False), {}),
    *[(rl.mlp.PlainLayer, (5, 6, "relu", norm), {}) for norm in (None, "batch", "layer", "group")],
    *[(rl.mlp.ResidualBlock, (6, "tanh", norm, 1.0), {}) for norm in (None, "batch", "layer", "group")],
    *[(rl.normfree.NormFreeBlock, (6, scheme), {}) for scheme in rl.normfree.SCHEMES],
    *[
        (bn, (5,), kwargs)
        for bn in (rl.batchnorm.BatchNorm1d, rl.batchnorm.BatchNorm2d)
        for kwargs in ({}, dict(affine=False), dict(track_running_stats=False))
    ],
]


def _values(module: nn.Module) -> int:
    return sum(t.numel() for t in (*module.parameters(), *module.buffers()))


@pytest.mark.parametrize(
    "cls, args, kwargs", SIZED_CASES, ids=lambda v: v.__name__ if isinstance(v, type) else None
)
def test_a_size_formula_is_the_modules_true_count(cls, args, kwargs):
    with torch.device("meta"):  # shapes only: ResNet-50 and the U-Net are counted without memory
        module = cls(*args, **kwargs)
    assert cls.weight_count(*args, **kwargs) == _values(module)


def test_a_norm_the_formula_does_not_know_is_counted_as_batchnorm_an_upper_bound():
    def group_norm(channels: int) -> nn.Module:
        return nn.GroupNorm(1, channels)  # 2 C values, where BatchNorm holds 4 C + 1

    for cls, args in [(rl.blocks.BasicBlock, (16, 16)), (rl.preact.PreActBottleneck, (16, 8, 2))]:
        actual = _values(cls(*args, norm_layer=group_norm))
        assert actual < cls.weight_count(*args, norm_layer=group_norm) <= 1.1 * actual


def test_a_learners_block_in_a_resnet_is_estimated():
    class Mine(nn.Module):  # no formula of its own: ResNet estimates it as a BasicBlock with a projection
        expansion = 1

        def __init__(
            self, in_channels, planes, stride=1, norm_layer=None, shortcut_type="B", plain=False, dim=2
        ):
            super().__init__()
            self.inner = rl.blocks.BasicBlock(
                in_channels, planes, stride, norm_layer, shortcut_type, plain, dim
            )

        def zero_init_last(self) -> None:
            self.inner.zero_init_last()

    actual = _values(rl.resnet.ResNet(Mine, [2, 2], widths=(8, 16)))
    assert actual <= rl.resnet.ResNet.weight_count(Mine, [2, 2], widths=(8, 16)) <= 1.1 * actual


def test_every_public_module_class_with_weights_has_a_formula():
    takes_built_modules_or_holds_none = {
        rl.mlp.MLP,
        rl.paths.RandomSkip,
        rl.paths.ShortPathTraining,
        rl.blocks.PadShortcut,
        rl.blocks.BlockBase,
        rl.stacking.GroupedLinear,  # these hold the stacked tensors they are given, no parameters
        rl.stacking.GroupedBatchNorm,
        rl.stacking.GroupedLayerNorm,
        rl.stacking.GroupedEmbedding,
    }
    public = {
        obj
        for module in vars(rl).values()
        if inspect.ismodule(module) and module.__name__.startswith("reslib.")
        for obj in (getattr(module, name) for name in getattr(module, "__all__", ()))
        if isinstance(obj, type) and issubclass(obj, nn.Module)
    }
    missing = {
        c.__name__ for c in public - takes_built_modules_or_holds_none if "weight_count" not in vars(c)
    }
    assert not missing, f"give these a @sized formula: {sorted(missing)}"
    assert {cls for cls, _, _ in SIZED_CASES} == public - takes_built_modules_or_holds_none


def _replace_ints(value: object, new: int) -> object:
    if isinstance(value, dict):
        return {k: _replace_ints(v, new) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_replace_ints(v, new) for v in value)
    return new if isinstance(value, int) and not isinstance(value, bool) else value


@pytest.mark.parametrize("absurd", [10**12, -1, 0])
def test_a_formula_is_instant_for_absurd_sizes(absurd):
    # the formula runs before __init__ checks the values: it must give a number at once for any int
    for cls, args, kwargs in SIZED_CASES:
        start = time.perf_counter()
        assert isinstance(
            cls.weight_count(*_replace_ints(args, absurd), **_replace_ints(kwargs, absurd)), int
        )
        assert time.perf_counter() - start < 0.05, cls.__name__


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


@pytest.mark.parametrize("seed", [0, 1, 2**63 - 1, np.int64(7)])
def test_require_seed_takes_every_seed_torch_can(seed):
    assert rl.validate.require_seed("seed", seed) == int(seed)
    torch.Generator().manual_seed(rl.validate.require_seed("seed", seed))  # and torch agrees


@pytest.mark.parametrize(
    "seed, error, says",
    [
        (-1, ValueError, "seed must be an int in [0, 9223372036854775807], got -1; any integer"),
        (2**63, ValueError, "2**63 - 1"),
        (1.0, TypeError, "seed must be an int"),
        ("0", TypeError, "seed must be an int"),
        (True, TypeError, "seed must be an int"),
    ],
)
def test_require_seed_names_the_argument_and_the_fix(seed, error, says):
    with pytest.raises(error, match=re.escape(says)):
        rl.validate.require_seed("seed", seed)


def test_require_array_returns_the_array_it_was_given():
    values = np.arange(6.0).reshape(2, 3)
    assert rl.validate.require_array("values", values, 2) is values


@pytest.mark.parametrize(
    "value, ndim",
    [([1.0, 2.0], 1), (torch.ones(3), 1), (np.ones(3), 2), (np.ones((0,)), 1), (np.float64(1.0), 1)],
    ids=["list", "tensor", "wrong ndim", "empty", "numpy scalar"],
)
def test_require_array_refuses_what_a_record_cannot_hold(value, ndim):
    with pytest.raises(TypeError, match=rf"values must be a non-empty {ndim}-D numpy array.*np\.asarray"):
        rl.validate.require_array("values", value, ndim)


def test_require_array_refuses_a_bad_ndim():
    with pytest.raises(ValueError, match="ndim"):
        rl.validate.require_array("values", np.ones(3), 0)
