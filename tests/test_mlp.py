import math

import pytest
import torch
from torch import nn

import reslib as rl
from reslib.layers import residual_add
from reslib.mlp import mlp


def linear_count(i, o):
    return i * o + o


@pytest.mark.parametrize("depth, width", [(1, 8), (3, 16), (24, 200)])
def test_plain_mlp_structure_and_parameter_count(depth, width):
    model = mlp(depth, width, 40, 10)
    assert isinstance(model.stem, rl.mlp.PlainLayer) and len(model.blocks) == depth - 1
    expected = linear_count(40, width) + (depth - 1) * linear_count(width, width) + linear_count(width, 10)
    assert rl.costs.count_parameters(model) == expected
    assert model(torch.randn(5, 40)).shape == (5, 10)


def test_residual_mlp_structure():
    model = mlp(4, 16, 40, 10, residual=True)
    assert isinstance(model.stem, nn.Linear) and len(model.blocks) == 4
    assert all(isinstance(b, rl.mlp.ResidualBlock) for b in model.blocks)
    assert rl.costs.count_parameters(model) == linear_count(40, 16) + 4 * linear_count(16, 16) + linear_count(
        16, 10
    )


def test_batch_norm_layers_have_no_bias_before_bn():
    model = mlp(3, 16, 40, 10, norm="batch")
    assert model.stem.linear.bias is None and isinstance(model.stem.norm, nn.BatchNorm1d)
    model.train()
    assert model(torch.randn(8, 40)).shape == (8, 10)


def test_hidden_states_compose_to_the_output():
    x = torch.randn(6, 40)
    for residual in (False, True):
        model = mlp(5, 12, 40, 10, residual=residual)
        states = model.hidden_states(x)
        assert len(states) == 5 and all(h.shape == (6, 12) for h in states)
        assert torch.allclose(model.head(states[-1]), model(x))


def test_residual_block_is_identity_when_its_branch_is_zero():
    block = mlp(1, 8, 8, 8, residual=True).blocks[0]
    nn.init.zeros_(block.linear.weight)
    nn.init.zeros_(block.linear.bias)
    x = torch.randn(4, 8)
    assert torch.equal(block(x), x)


def test_residual_scale_multiplies_the_sum():
    torch.manual_seed(0)
    a = mlp(1, 8, 8, 8, residual=True)
    torch.manual_seed(0)
    b = mlp(1, 8, 8, 8, residual=True, residual_scale=0.5)
    x = torch.randn(3, 8)
    assert torch.allclose(b.blocks[0](x), 0.5 * a.blocks[0](x))


def test_he_and_glorot_initialisation_variances():
    torch.manual_seed(0)
    he = mlp(2, 1000, 500, 10).blocks[0].linear.weight
    assert abs(he.var().item() - 2 / 1000) < 2e-4
    glorot = mlp(2, 1000, 500, 10, activation="tanh").blocks[0].linear.weight
    assert abs(glorot.var().item() - 2 / 2000) < 1e-4
    assert mlp(2, 100, 50, 10).blocks[0].linear.bias.abs().max() == 0


def test_he_init_keeps_relu_second_moment_steady():
    torch.manual_seed(0)
    model = mlp(30, 256, 256, 10)
    with torch.no_grad():
        states = model.hidden_states(torch.randn(512, 256))
    ratios = [(h.pow(2).mean() / states[0].pow(2).mean()).item() for h in states]
    assert all(0.3 < r < 3 for r in ratios)


def test_residual_add_explains_shape_mismatch():
    with pytest.raises(ValueError, match=r"F\(x\) \(2, 64\) and x \(2, 256\).*projection"):
        residual_add(torch.zeros(2, 256), torch.zeros(2, 64))
    assert torch.equal(residual_add(torch.ones(2), torch.ones(2)), torch.full((2,), 2.0))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(depth=0), ValueError, "depth must be an int in \\[1, 1000\\]"),
        (dict(width=-3), ValueError, "width must be an int >= 1"),
        (dict(depth=2.0), TypeError, r"depth must be an int, got float 2.0 \(use 2\)"),
        (dict(activation="gelu"), ValueError, "activation must be one of 'relu', 'sigmoid', 'tanh'"),
        (dict(norm="instance"), ValueError, "norm must be one of None, 'batch', 'layer', 'group'"),
        (dict(residual=True, shortcut_scale=-0.5), ValueError, "shortcut_scale"),
        (dict(residual=True, shortcut_scale="half"), TypeError, "shortcut_scale"),
        (dict(shortcut_scale=0.5), ValueError, "only applies to residual"),
        (dict(init="xavier"), ValueError, "init must be one of 'auto', 'he', 'glorot', 'torch'"),
        (dict(init="orthogonal"), ValueError, "init must be one of"),
        (dict(residual=True, residual_scale=0), ValueError, "residual_scale"),
        (dict(residual=True, residual_scale=math.inf), ValueError, "residual_scale"),
        (dict(residual_scale=0.5), ValueError, "only applies to residual"),
    ],
)
def test_mlp_rejects_bad_arguments(kwargs, error, match):
    args = dict(depth=3, width=8, in_features=4, out_features=2) | kwargs
    with pytest.raises(error, match=match):
        mlp(**args)


def test_repr_shows_the_configuration():
    text = repr(mlp(2, 8, 4, 2, residual=True, residual_scale=2**-0.5))
    assert "residual=True" in text and "residual_scale=0.7071" in text


@pytest.mark.parametrize("norm", ["layer", "group"])
def test_per_example_norms_do_not_mix_the_batch(norm):
    # Layer and group norm normalise each example on its own: an example's output does not
    # depend on which other examples share its batch, unlike batch norm in training mode.
    torch.manual_seed(0)
    net = mlp(4, 16, 6, 3, residual=True, norm=norm)
    x = torch.randn(5, 6)
    assert torch.allclose(net(x)[:2], net(x[:2]), atol=1e-6)
    bn = mlp(4, 16, 6, 3, residual=True, norm="batch")
    assert not torch.allclose(bn(x)[:2], bn(x[:2]), atol=1e-3)


def test_shortcut_scale_multiplies_the_skip_path():
    torch.manual_seed(0)
    net = mlp(3, 8, 4, 2, residual=True, shortcut_scale=0.5)
    for block in net.blocks:
        nn.init.zeros_(block.linear.weight)
        nn.init.zeros_(block.linear.bias)
    x = torch.randn(2, 4)
    h = net.stem(x)
    assert torch.allclose(net.blocks(h), 0.5**3 * h)  # zero branches: only the shortcut, 0.5^L


# Width against depth at an equal parameter count


@pytest.mark.parametrize("depth, width", [(1, 10), (5, 37), (16, 33)])
def test_parameter_count_matches_the_residual_and_the_deeper_plain_mlp(depth, width):
    residual, plain = rl.mlp.mlp(depth, width, 40, 10, residual=True), rl.mlp.mlp(depth + 1, width, 40, 10)
    count = rl.mlp.mlp_parameters(depth, width, 40, 10)
    assert (
        count == sum(p.numel() for p in residual.parameters()) == sum(p.numel() for p in plain.parameters())
    )


def test_width_for_budget_is_the_largest_that_fits():
    for depth in (1, 4, 16, 100):
        w = rl.mlp.width_for_budget(depth, 20_000, 40, 10)
        assert rl.mlp.mlp_parameters(depth, w, 40, 10) <= 20_000 < rl.mlp.mlp_parameters(depth, w + 1, 40, 10)


@pytest.mark.parametrize(
    "call, error, says",
    [
        (lambda: rl.mlp.width_for_budget(4, 50, 40, 10), ValueError, "budget"),
        (lambda: rl.mlp.width_for_budget(4, 1.5, 40, 10), TypeError, "budget"),
        (lambda: rl.mlp.mlp_parameters(4, -1, 40, 10), ValueError, "width"),
    ],
)
def test_width_and_budget_refuse_bad_input(call, error, says):
    with pytest.raises(error, match=says):
        call()
