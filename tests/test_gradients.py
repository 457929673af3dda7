import numpy as np
import pytest
import torch
from torch.nn import functional as F

import reslib as rl


def test_layer_gradient_norms_match_backward_and_leave_grads_alone(batch):
    x, y = batch
    model = rl.mlp.mlp(4, 16, 40, 10)
    norms = rl.gradients.layer_gradient_norms(model, x, y)
    assert norms.shape == (5,)  # 4 hidden layers + head
    assert all(p.grad is None for p in model.parameters())
    F.cross_entropy(model(x), y).backward()
    expected = [layer.weight.grad.norm() for layer in rl.gradients.linear_layers(model)]
    assert norms.dtype == torch.float64
    assert torch.allclose(norms, torch.stack(expected).double())


def test_sigmoid_gradients_vanish_geometrically_relu_do_not(batch):
    x, y = batch
    sig = rl.gradients.gradient_flow(20, "sigmoid", x, y, width=64)["norms"]
    relu = rl.gradients.gradient_flow(20, "relu", x, y, width=64)["norms"]
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
    assert rl.gradients.layer_gradient_norms(model, x, y)[0] > 0


def test_gradient_flow_finds_layers_an_sgd_step_cannot_change(batch):
    x, y = batch
    result = rl.gradients.gradient_flow(50, "sigmoid", x, y, lr=0.1)
    assert result["norms"].min() > 0 and result["frozen"][0] and not result["frozen"][-1]
    assert "exactly unchanged in float32" in result["status"]
    torch.manual_seed(0)  # the same weights gradient_flow built (seed=0)
    model = rl.mlp.mlp(50, 64, 40, 10, activation="sigmoid")
    w = model.stem.linear.weight
    g = rl.gradients.weight_gradients(model, x, y)[0]
    assert torch.equal(w - 0.1 * g, w)
    relu = rl.gradients.gradient_flow(50, "relu", x, y)
    assert not relu["frozen"].any() and "unchanged" not in relu["status"]


def test_gradient_status_reports_true_zeros():
    status = rl.gradients._gradient_status(np.array([0.0, 0.0, 1.0]))
    assert "underflowed to exactly 0 at 2 of 3 layers" in status


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("depth", [1, 2, 50])
def test_gradient_flow_histograms_at_the_ends_of_the_slider(batch, depth, activation):
    x, y = batch
    result = rl.gradients.gradient_flow(depth, activation, x, y, bins=20)
    assert result["hist"].shape == (3, 20) and result["edges"].shape == (21,)
    assert np.allclose(result["hist"].sum(axis=1), 1.0)
    assert result["layers"][0] == 1 and result["layers"][-1] == depth
    assert len(result["norms"]) == depth + 1 and result["status"]


def test_gradient_flow_does_not_disturb_the_global_rng(batch):
    x, y = batch
    torch.manual_seed(1)
    expected = torch.rand(1)
    torch.manual_seed(1)
    rl.gradients.gradient_flow(3, "relu", x, y)
    assert torch.equal(torch.rand(1), expected)


def test_gradient_status_reports_overflow():
    assert "overflowed" in rl.gradients._gradient_status(np.array([1.0, np.inf]))


@pytest.mark.parametrize("fn", [rl.gradients.layer_gradient_norms, rl.gradients.weight_gradients])
def test_gradient_functions_reject_mismatched_batch(fn):
    with pytest.raises(ValueError, match="same length"):
        fn(rl.mlp.mlp(1, 4, 40, 10), torch.zeros(3, 40), torch.zeros(2, dtype=torch.long))


@pytest.mark.parametrize("kwargs, match", [
    (dict(depth=0), "depth must be a positive int"),
    (dict(activation="gelu"), "activation must be one of"),
    (dict(lr=0.0), "lr must be a positive finite number"),
    (dict(bins=0), "bins must be a positive int"),
])
def test_gradient_flow_rejects_bad_arguments(batch, kwargs, match):
    x, y = batch
    args = dict(depth=3, activation="relu") | kwargs
    with pytest.raises(ValueError, match=match):
        rl.gradients.gradient_flow(x=x, y=y, **args)


def test_linear_layers_needs_linear_layers():
    with pytest.raises(ValueError, match="no nn.Linear"):
        rl.gradients.linear_layers(torch.nn.ReLU())
