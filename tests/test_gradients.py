import copy

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import reslib as rl


def test_gradient_flow_norms_match_backward_and_weight_gradients_leave_grads_alone(batch):
    x, y = batch
    norms = rl.gradients.gradient_flow(4, "relu", x, y, width=16, seed=3).norms
    assert norms.shape == (5,) and norms.dtype == np.float64  # 4 hidden layers + head
    torch.manual_seed(3)  # the same weights gradient_flow built
    model = rl.mlp.mlp(4, 16, 40, 10)
    rl.gradients.weight_gradients(model, x, y)
    assert all(p.grad is None for p in model.parameters())
    F.cross_entropy(model(x), y).backward()
    expected = [layer.weight.grad.norm() for layer in rl.gradients.linear_layers(model)]
    assert np.allclose(norms, torch.stack(expected).double().numpy())


def test_sigmoid_gradients_vanish_geometrically_relu_do_not(batch):
    x, y = batch
    sig = rl.gradients.gradient_flow(20, "sigmoid", x, y, width=64).norms
    relu = rl.gradients.gradient_flow(20, "relu", x, y, width=64).norms
    per_layer = (sig[-2] / sig[0]) ** (1 / 19)  # average shrink factor from layer 20 to layer 1
    assert 3.0 < per_layer < 6.0  # sigma' <= 1/4 with Xavier weights: about 4x per layer
    assert 1e-2 < relu[0] / relu[-2] < 1e2


def test_tiny_gradients_are_not_reported_as_zero(batch):
    # At depth 50 the first layer's gradient entries are ~1e-33: representable in float32,
    # but their squares underflow, so a float32 norm would wrongly say 0.
    x, y = batch
    torch.manual_seed(0)
    model = rl.mlp.mlp(50, 64, 40, 10, activation="sigmoid")
    first = rl.gradients.weight_gradients(model, x, y)[0]
    assert first.abs().max() > 0 and first.norm() == 0  # the float32 trap
    assert rl.gradients.gradient_flow(50, "sigmoid", x, y, seed=0).norms[0] > 0  # the same model


def test_gradient_flow_finds_layers_an_sgd_step_cannot_change(batch):
    x, y = batch
    result = rl.gradients.gradient_flow(50, "sigmoid", x, y, lr=0.1)
    assert result.norms.min() > 0 and result.frozen[0] and not result.frozen[-1]
    assert "exactly unchanged in float32" in result.status
    torch.manual_seed(0)  # the same weights gradient_flow built (seed=0)
    model = rl.mlp.mlp(50, 64, 40, 10, activation="sigmoid")
    w = model.stem.linear.weight
    g = rl.gradients.weight_gradients(model, x, y)[0]
    assert torch.equal(w - 0.1 * g, w)
    relu = rl.gradients.gradient_flow(50, "relu", x, y)
    assert not relu.frozen.any() and "unchanged" not in relu.status


def test_gradient_status_reports_true_zeros():
    status = rl.gradients._gradient_status(np.array([0.0, 0.0, 1.0]))
    assert "underflowed to exactly 0 at 2 of 3 layers" in status


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("depth", [1, 2, 50])
def test_gradient_flow_histograms_at_the_ends_of_the_slider(batch, depth, activation):
    x, y = batch
    result = rl.gradients.gradient_flow(depth, activation, x, y, bins=20)
    assert result.hist.shape == (3, 20) and result.edges.shape == (21,)
    assert np.allclose(result.hist.sum(axis=1), 1.0)
    assert result.layers[0] == 1 and result.layers[-1] == depth
    assert len(result.norms) == depth + 1 and result.status


def test_gradient_flow_does_not_disturb_the_global_rng(batch):
    x, y = batch
    torch.manual_seed(1)
    expected = torch.rand(1)
    torch.manual_seed(1)
    rl.gradients.gradient_flow(3, "relu", x, y)
    assert torch.equal(torch.rand(1), expected)


def test_gradient_status_reports_overflow():
    assert "overflowed" in rl.gradients._gradient_status(np.array([1.0, np.inf]))


def test_weight_gradients_reject_mismatched_batch():
    with pytest.raises(ValueError, match="one row per example, the same N"):
        rl.gradients.weight_gradients(
            rl.mlp.mlp(1, 4, 40, 10), torch.zeros(3, 40), torch.zeros(2, dtype=torch.long)
        )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(depth=0), "depth must be an int in \\[1, 1000\\]"),
        (dict(activation="gelu"), "activation must be one of"),
        (dict(lr=0.0), "lr must be a finite number > 0"),
        (dict(bins=0), "bins must be an int in \\[1, 10000\\]"),
    ],
)
def test_gradient_flow_rejects_bad_arguments(batch, kwargs, match):
    x, y = batch
    args = dict(depth=3, activation="relu") | kwargs
    with pytest.raises(ValueError, match=match):
        rl.gradients.gradient_flow(x=x, y=y, **args)


def test_linear_layers_needs_linear_layers():
    with pytest.raises(ValueError, match="no nn.Linear"):
        rl.gradients.linear_layers(torch.nn.ReLU())


# --- 02 · shattered gradients -------------------------------------------------------------


def _frozen_net(depth=3, residual=False, norm="batch", n=64):
    model = rl.mlp.mlp(depth, 32, 1, 1, residual=residual, norm=norm).double()
    x = torch.linspace(-2, 2, n, dtype=torch.float64).unsqueeze(1)
    return rl.shattering.freeze_batch_stats(model, x), x


@pytest.mark.parametrize("residual", [False, True])
def test_input_gradients_match_finite_differences(residual):
    model, x = _frozen_net(residual=residual)
    grad = rl.shattering.input_gradients(model, x)
    eps = 1e-6
    with torch.no_grad():
        fd = ((model(x + eps) - model(x - eps)) / (2 * eps)).squeeze(1)
    assert grad.shape == (64,)
    assert torch.allclose(grad, fd, atol=1e-6)
    assert torch.allclose(rl.shattering.input_gradients(model, x.squeeze(1)), grad)  # (N,) input


def test_freeze_batch_stats_keeps_the_train_mode_function():
    model = rl.mlp.mlp(3, 32, 1, 1, norm="batch").double()
    x = torch.linspace(-2, 2, 50, dtype=torch.float64).unsqueeze(1)
    model.train()
    with torch.no_grad():
        train_out = model(x)
    rl.shattering.freeze_batch_stats(model, x)
    assert not model.training
    with torch.no_grad():  # the biased variance, as train mode divides by: the same function
        assert torch.allclose(model(x), train_out, rtol=1e-10, atol=1e-10)
    assert all(m.momentum == 0.1 for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d))


def test_freeze_batch_stats_keeps_a_deep_shattering_net_and_stores_the_biased_variance():
    x = torch.linspace(-2, 2, 256).unsqueeze(1)
    net = rl.shattering.shattering_net(24, False, seed=0)
    with torch.no_grad():
        train_out = copy.deepcopy(net).train()(x)
    rl.shattering.freeze_batch_stats(net, x)
    with torch.no_grad():  # the unbiased variance would leave a ~40 % gap here (shattering amplifies it)
        assert (net(x) - train_out).norm() < 1e-3 * train_out.norm()
    bn, z = torch.nn.BatchNorm1d(5), torch.randn(8, 5)
    rl.shattering.freeze_batch_stats(bn, z)  # stores the batch's mean and biased variance
    assert torch.allclose(bn.running_var, z.var(0, unbiased=False)) and torch.allclose(
        bn.running_mean, z.mean(0)
    )


def test_freeze_batch_stats_handles_2d_batch_norm_and_rejects_untracked_stats():
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3))
    x = torch.randn(4, 2, 6, 6, dtype=torch.float64)
    net = net.double()
    with torch.no_grad():
        train_out = net.train()(x)
        assert torch.allclose(rl.shattering.freeze_batch_stats(net, x)(x), train_out, atol=1e-10)
    with pytest.raises(ValueError, match="track_running_stats=False"):
        rl.shattering.freeze_batch_stats(
            torch.nn.BatchNorm1d(3, track_running_stats=False), torch.randn(4, 3)
        )


def test_input_gradients_reject_train_mode_bn_and_wrong_shapes():
    model = rl.mlp.mlp(2, 8, 1, 1, norm="batch")
    with pytest.raises(ValueError, match="train mode"):
        rl.shattering.input_gradients(model, torch.zeros(4, 1))
    with pytest.raises(ValueError, match="scalar inputs"):
        rl.shattering.input_gradients(model.eval(), torch.zeros(4, 2))
    with pytest.raises(TypeError, match="torch.Tensor"):
        rl.shattering.input_gradients(model, [0.0, 1.0])
    with pytest.raises(ValueError, match="one scalar per input"):
        rl.shattering.input_gradients(rl.mlp.mlp(2, 8, 1, 3), torch.zeros(4, 1))


@pytest.mark.parametrize("residual", [False, True])
def test_depth_gradients_equal_the_gradient_of_each_truncated_network(residual):
    model, x = _frozen_net(depth=5, residual=residual)
    rows = rl.shattering.depth_gradients(model, x)
    assert rows.shape == (5, 64)
    assert torch.allclose(rows[-1], rl.shattering.input_gradients(model, x), atol=1e-10)
    short = torch.nn.Sequential(model.stem, *model.blocks[:2], model.head)  # depth 3 (plain) / 2 blocks
    row = 2 if not residual else 1
    assert torch.allclose(rows[row], rl.shattering.input_gradients(short, x), atol=1e-10)
    with pytest.raises(TypeError, match="reslib.mlp.MLP"):
        rl.shattering.depth_gradients(torch.nn.Linear(1, 1), x)


def test_depth_gradients_in_chunks_equal_one_pass(monkeypatch):
    model, x = _frozen_net(depth=4, residual=True)
    whole = rl.shattering.depth_gradients(model, x)
    width = model.head.weight.shape[1]
    monkeypatch.setattr(rl.shattering, "_CHUNK", 10 * width)  # 64 points: chunks of 10 and one of 4
    chunked = rl.shattering.depth_gradients(model, x)
    assert chunked.shape == whole.shape == (4, 64)
    assert torch.allclose(chunked, whole, atol=1e-12)


def test_autocorrelation_removes_the_mean_and_matches_numpy():
    gen = np.random.default_rng(0)
    g = gen.normal(size=100)
    r = rl.shattering.autocorrelation(g)
    c = g - g.mean()
    expected = np.correlate(c, c, "full")[99:] / (c @ c)
    assert r.shape == (100,) and r[0] == pytest.approx(1.0)
    assert np.allclose(r, expected)
    assert np.allclose(rl.shattering.autocorrelation(g + 100.0, max_lag=5), expected[:6])  # offset-free
    assert np.allclose(rl.shattering.autocorrelation(torch.tensor(g)), expected)
    rows = rl.shattering.autocorrelation(np.stack([g, np.cumsum(g)]), max_lag=1)
    assert rows.shape == (2, 2) and abs(rows[0, 1]) < 0.3 and rows[1, 1] > 0.8


@pytest.mark.parametrize(
    "g, max_lag, error, match",
    [
        (np.ones(10), None, ValueError, "constant"),
        (np.zeros((2, 2, 2)), None, ValueError, "sequence"),
        (np.arange(5.0), 5, ValueError, "max_lag"),
        (np.arange(5.0), -1, ValueError, "max_lag"),
        (np.arange(5.0), 1.0, TypeError, "max_lag"),
    ],
)
def test_autocorrelation_rejects_bad_input(g, max_lag, error, match):
    with pytest.raises(error, match=match):
        rl.shattering.autocorrelation(g, max_lag)


def test_shattering_replicates_the_three_regimes():
    lag1 = {
        (d, res): np.mean([rl.shattering.shattering(d, res, seed=s).lag1 for s in range(3)])
        for d, res in [(1, False), (24, False), (50, True)]
    }
    assert lag1[1, False] > 0.9  # brown noise
    assert abs(lag1[24, False]) < 0.15  # white noise
    assert lag1[50, True] > 0.5  # in between


def test_shattering_returns_the_grid_gradient_and_autocorrelation():
    r = rl.shattering.shattering(2, False, width=20, n_inputs=32)
    assert isinstance(r, rl.shattering.ShatteringResult) and r.lag1 == r.autocorr[1]
    assert r.x.shape == r.grad.shape == r.autocorr.shape == (32,)
    assert r.x[0] == -2.0 and r.x[-1] == 2.0 and r.autocorr[0] == pytest.approx(1.0)
    again = rl.shattering.shattering(2, False, width=20, n_inputs=32)
    assert np.array_equal(r.grad, again.grad)  # seeded


def test_the_udl_set_up_does_not_shatter_and_its_deep_units_never_switch():
    r = rl.shattering.shattering(24, False, batch_norm=False, init="glorot")
    assert r.lag1 > 0.9
    x = torch.linspace(-2, 2, 256).unsqueeze(1)
    for batch_norm, init, most in [(False, "glorot", 0.05), (True, "he", 1.0)]:
        net = rl.shattering.freeze_batch_stats(
            rl.shattering.shattering_net(24, False, batch_norm, init=init), x
        )
        with torch.no_grad():
            on = net.hidden_states(x)[-1] > 0
        switching = (on.any(0) & (~on).any(0)).float().mean().item()
        assert switching < most if most < 1 else switching == 1.0


def test_shattering_net_leaves_the_global_rng_alone_and_glorot_draws_the_biases_too():
    torch.manual_seed(1)
    expected = torch.rand(1)
    torch.manual_seed(1)
    net = rl.shattering.shattering_net(3, False, batch_norm=False, width=50, init="glorot")
    assert torch.equal(torch.rand(1), expected)
    biases = [m.bias for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert all(bool((b != 0).all()) for b in biases)  # UDL 11.1: every bias is drawn, none left 0
    assert 0.1 < torch.cat(biases[1:-1]).std() < 0.18  # N(0, 1/width): std 1/sqrt(50) = 0.14


def test_shattering_net_first_layer_switches_inside_the_range():
    net = rl.shattering.shattering_net(3, False, width=100)
    first = net.stem[0]
    kinks = -first.bias / first.weight[:, 0]
    assert kinks.min() >= -2 and kinks.max() <= 2 and kinks.std() > 0.8
    assert isinstance(rl.shattering.shattering_net(3, True).stem, torch.nn.Linear)  # mlp's stem
    assert torch.equal(
        rl.shattering.shattering_net(2, False, seed=1).stem[0].weight,
        rl.shattering.shattering_net(2, False, seed=1).stem[0].weight,
    )


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(depth=0, residual=False), ValueError),
        (dict(depth=2, residual=False, n_inputs=1), ValueError),
        (dict(depth=2.5, residual=False), TypeError),
        (dict(depth=2, residual=False, init="xavier"), ValueError),
    ],
)
def test_shattering_rejects_bad_input(kwargs, error):
    with pytest.raises(error):
        rl.shattering.shattering(**kwargs)


def test_lag1_by_depth_decays_fast_for_feed_forward_and_slowly_for_residual():
    ff = rl.shattering.lag1_by_depth(30, residual=False, width=100, seeds=(0, 1))
    res = rl.shattering.lag1_by_depth(30, residual=True, width=100, seeds=(0, 1))
    assert ff.shape == res.shape == (30,)
    assert ff[0] > 0.9 and res[0] > 0.9
    assert ff[-1] < 0.2 < 0.6 < res[-1]


def test_a_residual_sigmoid_net_keeps_its_gradient_where_the_plain_one_loses_it(batch):
    x, y = batch
    plain = rl.gradients.gradient_flow(50, "sigmoid", x, y)
    res = rl.gradients.gradient_flow(50, "sigmoid", x, y, residual=True)
    assert len(plain.norms) == 51 and len(res.norms) == 52  # residual: stem, 50 blocks, head
    assert plain.norms[0] / plain.norms[-2] < 1e-25
    assert res.norms[0] / res.norms[-2] > 1e-2 and not res.frozen.any()


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("depth", [1, 50])
def test_residual_histograms_cover_the_stream_outside_the_activation_range(batch, depth, activation):
    x, y = batch
    result = rl.gradients.gradient_flow(depth, activation, x, y, bins=20, residual=True)
    assert np.allclose(result.hist.sum(axis=1), 1.0) and result.edges[0] < result.edges[-1]
    assert result.layers[-1] == depth and result.status


def test_gradient_flow_rejects_a_non_bool_residual(batch):
    x, y = batch
    with pytest.raises(TypeError, match="residual"):
        rl.gradients.gradient_flow(3, "relu", x, y, residual=1)
