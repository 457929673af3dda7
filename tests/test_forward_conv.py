"""Every conv module's `forward` checks its input first (reslib.guard.require_input), and still runs
where the series runs it: in `nn.Sequential`, on the meta device, and stacked under `torch.func.vmap`.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

import reslib as rl
from reslib.blocks import BasicBlock, Bottleneck, PadShortcut
from reslib.densenet import DenseBlock, DenseLayer, DenseNet, Transition
from reslib.hourglass import Hourglass, StackedHourglass
from reslib.preact import PreActBlock, PreActBottleneck
from reslib.resnet import ResNet, cifar_resnet
from reslib.unet import DoubleConv, UNet

# (name, build the module, its input's shape): every nn.Module class of the conv topics
MODULES = [
    ("BasicBlock", lambda: BasicBlock(8, 16, stride=2), (2, 8, 8, 8)),
    ("BasicBlock", lambda: BasicBlock(8, 8, dim=1), (2, 8, 10)),
    ("BasicBlock", lambda: BasicBlock(8, 16, stride=2, shortcut_type="A"), (2, 8, 8, 8)),
    ("Bottleneck", lambda: Bottleneck(16, 4), (2, 16, 6, 6)),
    ("PreActBlock", lambda: PreActBlock(8, 8), (2, 8, 6, 6)),
    ("PreActBottleneck", lambda: PreActBottleneck(8, 4, stride=2, dim=1), (2, 8, 12)),
    ("PadShortcut", lambda: PadShortcut(4, 8, 2), (2, 4, 6, 6)),
    ("ResNet", lambda: cifar_resnet(8, width=4), (2, 3, 8, 8)),
    ("ResNet", lambda: cifar_resnet(8, width=4, in_channels=1, dim=1), (2, 1, 40)),
    ("DenseLayer", lambda: DenseLayer(8, 4), (2, 8, 5, 5)),
    ("DenseBlock", lambda: DenseBlock(2, 8, 4, dim=1), (2, 8, 7)),
    ("Transition", lambda: Transition(8, 4), (2, 8, 6, 6)),
    ("DenseNet", lambda: DenseNet(4, (2, 2), 8, num_classes=3, stem_type="cifar"), (2, 3, 8, 8)),
    ("UNet", lambda: UNet(1, 3, depth=2, base_channels=4, padding="same"), (2, 1, 8, 8)),
    ("DoubleConv", lambda: DoubleConv(2, 4, padding=1, batch_norm=True), (2, 2, 6, 6)),
    ("Hourglass", lambda: Hourglass(2, 8), (2, 8, 8, 8)),
    ("StackedHourglass", lambda: StackedHourglass(1, 2, channels=8, order=2), (2, 1, 8, 8)),
]
IDS = [f"{name}-{len(shape)}d" for name, _, shape in MODULES]


def _run(module: nn.Module, x: object) -> object:
    with torch.no_grad():
        return module.eval()(x)


def _first(out: object) -> torch.Tensor:
    return out[-1] if isinstance(out, list) else out  # StackedHourglass: one heat map per stack


@pytest.mark.parametrize("name, make, shape", MODULES, ids=IDS)
def test_a_good_input_runs_and_a_wrong_dtype_is_named_with_its_fix(name, make, shape):
    module = make()
    assert _first(_run(module, torch.randn(shape))).shape[0] == shape[0]
    with pytest.raises(TypeError, match=rf"{name}\.forward: x must be a floating-point tensor.*x\.float\(\)"):
        _run(module, torch.zeros(shape, dtype=torch.long))
    with pytest.raises(TypeError, match=rf"{name}\.forward: x must be a torch\.Tensor, got list"):
        _run(module, torch.zeros(shape).tolist())
    if name != "PadShortcut":  # no weights: any floating dtype pads
        with pytest.raises(
            TypeError, match=rf"{name}\.forward: x has dtype torch\.float64.*call x\.float\(\)"
        ):
            _run(module, torch.zeros(shape, dtype=torch.float64))
        assert _first(_run(module.double(), torch.randn(shape, dtype=torch.float64))).dtype == torch.float64


@pytest.mark.parametrize("name, make, shape", MODULES, ids=IDS)
def test_a_wrong_shape_is_named_before_any_layer_runs(name, make, shape):
    module = make()
    with pytest.raises(ValueError, match=rf"{name}\.forward: x must have {len(shape)} dimensions.*x\[None\]"):
        _run(module, torch.randn(shape[1:]))  # one example, no batch axis
    with pytest.raises(
        ValueError, match=rf"{name}\.forward: x must have {len(shape)} dimensions.*extra axes"
    ):
        _run(module, torch.randn(*shape, 2))  # one axis too many (PadShortcut returned a wrong shape)
    wrong = (shape[0], shape[1] + 1, *shape[2:])
    with pytest.raises(ValueError, match=rf"{name}\.forward: x must have size {shape[1]} in dimension 1"):
        _run(module, torch.randn(wrong))


@pytest.mark.parametrize("name, make, shape", MODULES, ids=IDS)
def test_meta_tracing_runs_and_another_device_is_named(name, make, shape):
    module = make()
    cpu = _first(_run(module, torch.randn(shape)))
    if name != "PadShortcut":
        with pytest.raises(ValueError, match=rf"{name}\.forward: x is on meta.*x\.to\('cpu'\)"):
            _run(module, torch.zeros(shape, device="meta"))
    meta = _first(_run(module.to("meta"), torch.zeros(shape, device="meta")))
    assert meta.device.type == "meta" and meta.shape == cpu.shape


def test_the_series_input_mistake_of_signals_without_a_channel_axis_says_unsqueeze():
    with pytest.raises(
        ValueError, match=r"ResNet\.forward: x must have 3 dimensions \(N, 1, L\).*unsqueeze\(1\)"
    ):
        cifar_resnet(8, width=4, in_channels=1, dim=1)(torch.zeros(5, 40))
    with pytest.raises(ValueError, match=r"add the batch axis with x\[None\]"):  # one example: its batch axis
        cifar_resnet(8, width=4, in_channels=3)(torch.zeros(3, 32, 32))


def test_blocks_compose_in_sequential_and_the_error_names_the_block_that_refused():
    stage = nn.Sequential(BasicBlock(8, 16, stride=2), PreActBlock(16, 16), Bottleneck(16, 4))
    assert stage(torch.randn(2, 8, 8, 8)).shape == (2, 16, 4, 4)
    mixed = nn.Sequential(BasicBlock(8, 16), BasicBlock(8, 8))  # the second block reads 16 channels
    with pytest.raises(ValueError, match=r"BasicBlock\.forward: x must have size 8 in dimension 1"):
        mixed(torch.randn(2, 8, 4, 4))
    block = BasicBlock(8, 16, stride=2)
    with pytest.raises(ValueError, match=r"BasicBlock\.forward: x must have size 8"):
        block.shortcut(torch.randn(2, 16, 4, 4))  # the public skip path checks too


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: BasicBlock(4, 8, stride=2, shortcut_type="A"), (3, 4, 6, 6)),
        (lambda: PreActBottleneck(8, 2), (3, 8, 5, 5)),
        (lambda: DenseBlock(2, 4, 2), (3, 4, 5, 5)),
        (lambda: cifar_resnet(8, width=4, in_channels=1, dim=1), (3, 1, 40)),
        (lambda: UNet(1, 2, depth=1, base_channels=2, padding="same"), (3, 1, 4, 4)),
    ],
)
def test_models_stacked_with_vmap_give_each_models_own_output(make, shape):
    torch.manual_seed(0)
    models = [make().eval() for _ in range(3)]
    params, buffers = stack_module_state(models)
    base = make().to("meta")
    x = torch.randn(shape)

    def one(p: dict, b: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(base.eval(), (p, b), (x,))

    with torch.no_grad():
        stacked = vmap(one, in_dims=(0, 0, None))(params, buffers, x)
        for i, model in enumerate(models):
            torch.testing.assert_close(stacked[i], model(x), atol=1e-5, rtol=1e-4)


def test_pad_shortcut_refuses_a_huge_output_before_allocating_and_runs_the_notebooks_call():
    pad = PadShortcut(4, 10**8, 2)  # builds: it holds no weights
    with pytest.raises(ValueError, match=r"out_channels=100000000.*past the limit of 1,024 MiB"):
        pad(torch.zeros(1, 4, 8, 8))  # 1 x 10^8 x 4 x 4 floats: 6.4 GB
    assert pad(torch.zeros(1, 4, 8, 8, device="meta")).shape == (1, 10**8, 4, 4)  # meta holds nothing
    y = PadShortcut(16, 32, stride=2)(torch.randn(1, 16, 32, 32))  # notebook 07
    assert y.shape == (1, 32, 16, 16)
    limit = rl.validate.MEMORY_LIMIT // 4  # floats: an output just past the limit is refused
    with pytest.raises(ValueError, match="past the limit"):
        PadShortcut(1, limit // 4 + 1, 1)(torch.zeros(1, 1, 2, 2))


def test_a_hourglass_names_a_size_it_cannot_halve():
    with pytest.raises(ValueError, match=r"Hourglass\.forward: an hourglass of order 2 .* divisible by 4"):
        Hourglass(2, 8)(torch.randn(1, 8, 6, 6))
    with pytest.raises(ValueError, match=r"StackedHourglass\.forward: .* divisible by 4, got \(8, 6\)"):
        StackedHourglass(1, 2, channels=8, order=2)(torch.randn(1, 1, 8, 6))


def test_the_forward_check_does_not_read_values():
    # meta tensors hold no values: a check that read one would fail here
    with torch.device("meta"):
        model = ResNet(BasicBlock, [1, 1], widths=(4, 8), stem_type="cifar", num_classes=2)
    assert model(torch.zeros(2, 3, 8, 8, device="meta")).shape == (2, 2)


def test_hourglass_size_errors_name_x():
    with pytest.raises(
        ValueError, match=r"Hourglass\.forward: .* x's height and width must be divisible by 2"
    ):
        Hourglass(1, 4)(torch.zeros(1, 4, 8, 9))


def test_an_hourglass_whose_width_its_modules_cannot_keep_is_refused_when_built():
    with pytest.raises(ValueError, match="channels must be a positive multiple of 4"):
        rl.hourglass.Hourglass(2, 6)  # each residual module returns 4 channels: forward could never run


def test_a_pad_shortcut_that_could_never_run_is_refused_when_built():
    with pytest.raises(ValueError, match="out_channels=1000000000000 would allocate"):
        PadShortcut(4, 10**12, 2)  # one example of one pixel would pass MEMORY_LIMIT: no deferred bomb
    assert PadShortcut(4, 10**8, 2).out_channels == 10**8  # 400 MB for a 1x1 example: forward decides
