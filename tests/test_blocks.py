import pytest
import torch
from torch import nn

import reslib as rl
from reslib.blocks import BasicBlock, Bottleneck, PadShortcut, make_stage
from reslib.preact import PreActBlock, PreActBottleneck

ALL = [BasicBlock, Bottleneck, PreActBlock, PreActBottleneck]


def n_params(m):
    return rl.costs.count_parameters(m)


def test_torchvision_names_and_counts():
    b = Bottleneck(256, 64)  # identity shortcut: 256 = 4 * 64
    assert b.downsample is None
    assert n_params(b) == 70_400  # 69,632 conv weights + 2*(64+64+256) BN scales and offsets
    keys = list(b.state_dict())
    assert keys[:2] == ["conv1.weight", "bn1.weight"] and "bn3.running_var" in keys
    basic = BasicBlock(64, 128, stride=2)
    assert [k for k in basic.state_dict() if k.startswith("downsample")][:2] == [
        "downsample.0.weight",
        "downsample.1.weight",
    ]
    assert n_params(BasicBlock(64, 64)) == 2 * 9 * 64 * 64 + 4 * 64


@pytest.mark.parametrize("block", ALL)
@pytest.mark.parametrize("stride", [1, 2])
def test_shapes_2d_and_1d(block, stride):
    b = block(16, 8, stride=stride)
    y = b(torch.randn(2, 16, 8, 8))
    assert y.shape == (2, 8 * block.expansion, 8 // stride, 8 // stride)
    b1 = block(16, 8, stride=stride, dim=1)
    assert b1(torch.randn(2, 16, 10)).shape == (2, 8 * block.expansion, 10 // stride)


@pytest.mark.parametrize("block", ALL)
def test_zero_init_last_makes_the_block_its_shortcut(block):
    b = block(32, 32 // block.expansion).eval()
    b.zero_init_last()
    x = torch.randn(2, 32, 5, 5)
    want = x if block in (PreActBlock, PreActBottleneck) else torch.relu(x)
    torch.testing.assert_close(b(x), want)


def test_option_a_is_parameter_free_and_pads_zeros():
    a = BasicBlock(16, 32, stride=2, shortcut_type="A")
    assert isinstance(a.downsample, PadShortcut)
    assert n_params(a) == n_params(BasicBlock(16, 32, stride=2, plain=True))
    x = torch.randn(1, 16, 4, 4)
    y = a.downsample(x)
    assert y.shape == (1, 32, 2, 2) and torch.equal(y[:, 16:], torch.zeros(1, 16, 2, 2))
    torch.testing.assert_close(y[:, :16], x[:, :, ::2, ::2])


def test_plain_block_has_no_skip():
    b = BasicBlock(8, 8, plain=True, norm_layer=nn.Identity)
    assert b.downsample is None and "plain=True" in repr(b)
    with pytest.raises(ValueError, match="has no shortcut"):
        b.shortcut(torch.randn(2, 8, 3, 3))
    b.zero_init_last()
    assert torch.equal(b(torch.randn(2, 8, 3, 3)), torch.zeros(2, 8, 3, 3))


def test_make_stage_is_pure():
    stage, out = make_stage(Bottleneck, 64, 64, 3)
    assert out == 256 and len(stage) == 3 and stage[0].downsample is not None
    assert all(b.downsample is None for b in stage[1:])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(in_channels=8, planes=8, stride=3), r"stride must be an int in \[1, 2\], got 3; 1 keeps"),
        (dict(in_channels=8, planes=0), "planes must be an int >= 1"),
        (dict(in_channels=8, planes=8, shortcut_type="C"), "shortcut_type must be one of 'A', 'B'"),
        (dict(in_channels=8, planes=8, dim=3), r"dim must be an int in \[1, 2\]"),
    ],
)
def test_bad_arguments_say_how_to_fix(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BasicBlock(**kwargs)


def test_mismatched_add_says_add_a_projection():
    b = BasicBlock(16, 8, shortcut_type="B")
    b.downsample = None  # the seed-001 bug: a 16-channel x and an 8-channel F(x)
    with pytest.raises(ValueError, match="projection shortcut"):
        b(torch.randn(1, 16, 4, 4))
    with pytest.raises(ValueError, match="zero padding can only add"):
        PadShortcut(16, 8, 1)
    with pytest.raises(TypeError, match="Linear needs an int `expansion`"):
        make_stage(nn.Linear, 8, 8, 1)
    with pytest.raises(TypeError, match="the class, not an instance"):
        make_stage(BasicBlock(8, 8), 8, 8, 1)


class LearnersBlock(nn.Module):
    """A learner's own block: x + conv(relu(x)), with just what make_stage needs."""

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, planes, 3, stride=stride, padding=1)

    def forward(self, x):
        return x + self.conv(torch.relu(x))

    def zero_init_last(self):
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)


def test_make_stage_and_resnet_stage_a_learners_own_block():
    stage, out = make_stage(LearnersBlock, 8, 8, 3)
    assert out == 8 and len(stage) == 3 and all(isinstance(b, LearnersBlock) for b in stage)
    x = torch.randn(2, 8, 5, 5)
    assert stage(x).shape == x.shape

    class Staged(LearnersBlock):  # ResNet passes its block options as keywords
        def __init__(self, in_channels, planes, stride=1, **options):
            super().__init__(in_channels, planes, stride)

    model = rl.resnet.ResNet(
        Staged, [2], widths=(8,), stem_type="cifar", num_classes=3, zero_init_residual=True
    )
    assert all(torch.equal(b.conv.weight, torch.zeros_like(b.conv.weight)) for b in model.layer1)
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 3)


def test_missing_zero_init_last_is_named():
    class NoZero(nn.Module):
        expansion = 1

    with pytest.raises(TypeError, match="NoZero needs a `zero_init_last\\(\\)` method"):
        make_stage(NoZero, 8, 8, 1)


# --- reslib.preact.shortcut_gradients: He et al. (2016b)'s scaled-shortcut argument ---


def test_shortcut_gradients_follow_lambda_to_the_l_along_a_bare_shortcut_path():
    from reslib.preact import shortcut_gradients

    for lam in (0.5, 1.0, 1.2):
        r = shortcut_gradients(10, lam, branch_scale=0.0)
        assert r.depth == 10 and len(r.norms) == 11 and r.norms[-1] == 1.0
        want = torch.tensor([lam ** (10 - l) for l in range(11)], dtype=torch.float64)
        torch.testing.assert_close(torch.tensor(r.norms, dtype=torch.float64), want, rtol=1e-5, atol=0)
    small = shortcut_gradients(40, 0.5)  # a small branch (alpha = 0.1) changes little
    assert 0.49 < small.per_block < 0.53 and small.at_input < 1e-10
    assert 0.8 < shortcut_gradients(40, 1.0).at_input < 1.6


def test_shortcut_gradients_equal_rl_mlp_with_shortcut_scale_and_leave_the_rng_alone():
    from torch.nn import functional as F

    from reslib.preact import shortcut_gradients

    before = torch.get_rng_state()
    r = shortcut_gradients(6, 0.5, branch_scale=1.0, width=8, batch_size=5, seed=3)
    assert torch.equal(torch.get_rng_state(), before)
    with torch.random.fork_rng(devices=[]):  # the same network, built by rl.mlp with shortcut_scale
        torch.manual_seed(3)
        model = rl.mlp.mlp(6, 8, 8, 10, residual=True, shortcut_scale=0.5)
        x, y = torch.randn(5, 8), torch.randint(0, 10, (5,))
    states = [model.stem(x)]
    for block in model.blocks:
        states.append(block(states[-1]))
    grads = torch.autograd.grad(F.cross_entropy(model.head(states[-1]), y), states)
    norms = torch.stack([g.double().norm() for g in grads])
    torch.testing.assert_close(
        torch.tensor(r.norms, dtype=torch.float64), norms / norms[-1], rtol=1e-5, atol=0
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(depth=4.0, shortcut_scale=1.0), TypeError, "depth"),
        (dict(depth=0, shortcut_scale=1.0), ValueError, "depth"),
        (dict(depth=4, shortcut_scale="1"), TypeError, "shortcut_scale"),
        (dict(depth=4, shortcut_scale=-0.5), ValueError, "shortcut_scale"),
        (dict(depth=4, shortcut_scale=1.0, branch_scale=-1.0), ValueError, "branch_scale"),
        (dict(depth=4, shortcut_scale=1.0, width=0), ValueError, "width"),
        (dict(depth=4, shortcut_scale=1.0, batch_size=2.5), TypeError, "batch_size"),
    ],
)
def test_shortcut_gradients_reject_bad_arguments(kwargs, error, match):
    from reslib.preact import shortcut_gradients

    with pytest.raises(error, match=match):
        shortcut_gradients(**kwargs)


def test_shortcut_gradients_restore_the_thread_count():
    from reslib.preact import shortcut_gradients

    threads = torch.get_num_threads()
    shortcut_gradients(3, 1.0)
    assert torch.get_num_threads() == threads


def test_shortcut_gradients_refuses_huge_sizes_and_keeps_its_cache_small():
    from reslib.preact import _network, shortcut_gradients

    with pytest.raises(ValueError, match=r"width=100000 would allocate .* past the limit of 1,024 MiB"):
        shortcut_gradients(2, 1.0, width=10**5)
    with pytest.raises(ValueError, match=r"depth=1000000 would allocate"):
        shortcut_gradients(10**6, 1.0)
    _network.cache_clear()
    shortcut_gradients(2, 1.0, width=2048, batch_size=4)  # 34 MB of weights: computed, not kept
    assert _network.cache_bytes() == 0
    shortcut_gradients(2, 1.0)  # the notebook's size is kept
    assert 0 < _network.cache_bytes() <= 32 * 2**20


def test_shortcut_gradients_take_any_64_bit_seed_and_check_their_record():
    from reslib.preact import ShortcutGradients, shortcut_gradients

    assert shortcut_gradients(2, 1.0, width=4, batch_size=4, seed=2**63 - 1).depth == 2
    with pytest.raises(
        ValueError, match=r"seed must be an int in \[0, 9223372036854775807\], got 9223372036854775808"
    ):
        shortcut_gradients(
            2, 1.0, width=4, batch_size=4, seed=2**63
        )  # was "Overflow when unpacking long long"
    with pytest.raises(ValueError, match="ShortcutGradients: norms must hold depth \\+ 1 >= 2 values"):
        ShortcutGradients(1.0, 0.1, (1.0,))  # its per_block divided by a depth of 0
    with pytest.raises(TypeError, match="ShortcutGradients: norms must be a list or tuple of numbers"):
        ShortcutGradients(1.0, 0.1, None)
    assert ShortcutGradients(1.0, 0.0, (0.5, 1.0)).per_block == 0.5


def test_make_stage_at_max_blocks_builds_in_about_a_second():
    import time

    start = time.perf_counter()
    stage, _ = make_stage(BasicBlock, 8, 8, rl.validate.MAX_BLOCKS)
    assert len(stage) == 1000 and time.perf_counter() - start < 10  # ~0.5 s alone; a loaded CI is slower
    with pytest.raises(ValueError, match=r"num_blocks must be an int in \[1, 1000\]"):
        make_stage(BasicBlock, 8, 8, rl.validate.MAX_BLOCKS + 1)


def test_shortcut_gradients_record_refuses_nan_scales():
    from reslib.preact import ShortcutGradients

    for field in ("shortcut_scale", "branch_scale"):
        for bad in (float("nan"), float("inf")):
            kwargs = {"shortcut_scale": 1.0, "branch_scale": 0.1, "norms": (0.5, 1.0), field: bad}
            with pytest.raises(ValueError, match=rf"ShortcutGradients: {field} must be a finite number"):
                ShortcutGradients(**kwargs)
