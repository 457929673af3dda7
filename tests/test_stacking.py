"""`reslib.stacking`: M MLPs or transformers as one network compute what each model computes alone."""

import pytest
import torch
from torch import nn

import reslib as rl


def _mlps(count, **options):
    out = []
    for seed in range(count):
        rl.set_seed(seed)
        out.append(rl.mlp.mlp(3, 8, 5, 4, **options))
    return out


@pytest.mark.parametrize(
    "options",
    [dict(), dict(norm="batch"), dict(residual=True, norm="batch"), dict(residual=True, norm="layer")],
)
@pytest.mark.parametrize("training", [True, False])
def test_the_grouped_network_computes_each_models_output(options, training):
    models = [m.train(training) for m in _mlps(3, **options)]
    network, params, buffers = rl.stacking.grouped(models)
    network.train(training)
    x = torch.randn(3, 6, 5)  # a different batch for each model
    out = network(x)
    for i, model in enumerate(models):
        torch.testing.assert_close(out[i], model(x[i]), atol=1e-5, rtol=1e-5)
    if training and options.get("norm") == "batch":  # each model's running statistics, updated in place
        for name, stacked in buffers.items():
            for i, model in enumerate(models):
                torch.testing.assert_close(stacked[i], model.get_buffer(name).to(stacked.dtype))


def test_gradients_reach_each_models_own_weights_only():
    models = _mlps(2)
    network, params, _ = rl.stacking.grouped(models)
    x = torch.randn(2, 4, 5)
    network(x)[1].sum().backward()  # model 1's output only
    for name, p in params.items():
        assert p.grad[0].abs().max() == 0 and p.grad[1].abs().max() > 0, name
    # and the models passed are left as they were
    assert all(p.grad is None for m in models for p in m.parameters())


def test_a_single_linear_layer_is_its_own_grouped_form():
    layers = [nn.Linear(5, 4), nn.Linear(5, 4)]
    network, params, _ = rl.stacking.grouped(layers)
    assert isinstance(network, rl.stacking.GroupedLinear) and params["weight"].shape == (2, 4, 5)
    x = torch.randn(2, 3, 5)
    torch.testing.assert_close(network(x)[1], layers[1](x[1]))


def test_what_cannot_be_grouped_is_refused_by_name():
    assert not rl.stacking.groupable(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
    assert not rl.stacking.groupable(nn.Conv1d(1, 2, 3))
    assert not rl.stacking.groupable(nn.BatchNorm1d(4, momentum=None))  # a cumulative average
    with pytest.raises(ValueError, match="models is empty"):
        rl.stacking.grouped([])
    assert not rl.stacking.groupable(nn.LayerNorm((4, 4)))  # normalises over two dimensions
    assert not rl.stacking.groupable(nn.Embedding(5, 3, padding_idx=0))
    with pytest.raises(ValueError, match="must be MLPs or transformers"):
        rl.stacking.grouped([nn.Conv1d(1, 2, 3)])
    with pytest.raises(ValueError, match="one architecture"):
        rl.stacking.grouped([rl.mlp.mlp(2, 8, 5, 4), rl.mlp.mlp(3, 8, 5, 4)])
    with pytest.raises(ValueError, match="bias has shape"):
        rl.stacking.GroupedLinear(torch.zeros(2, 4, 5), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="steps has 3 entries for 2 models"):
        w = torch.ones(2, 4)
        rl.stacking.GroupedBatchNorm(w, w, w, w, torch.zeros(3, dtype=torch.long))


def _transformers(norm_first, count=3, causal=False):
    out = []
    for seed in range(count):
        rl.set_seed(seed)
        out.append(rl.transformer.transformer(10, 8, 2, 16, 2, d_ff=32, norm_first=norm_first, causal=causal))
    return out


@pytest.mark.parametrize(("norm_first", "causal"), [(True, False), (False, False), (True, True)])
def test_grouped_transformers_compute_each_models_logits_and_gradients(norm_first, causal):
    models = _transformers(norm_first, causal=causal)
    network, params, buffers = rl.stacking.grouped(models)
    assert not buffers and params["wte.weight"].shape == (3, 10, 16)
    idx = torch.randint(10, (3, 4, 6))  # model m reads its own batch idx[m], 6 of the 8 positions
    out = network(idx)
    for i, model in enumerate(models):
        torch.testing.assert_close(out[i], model(idx[i]), atol=1e-5, rtol=1e-5)
    out[1].square().sum().backward()
    models[1](idx[1]).square().sum().backward()
    for name, p in params.items():
        assert p.grad[0].abs().max() == 0 and p.grad[2].abs().max() == 0, name
        torch.testing.assert_close(p.grad[1], models[1].get_parameter(name).grad, atol=1e-5, rtol=1e-4)


def test_a_grouped_transformer_refuses_inputs_without_the_model_dimension():
    network, _, _ = rl.stacking.grouped(_transformers(True, count=2))
    with pytest.raises(ValueError, match=r"idx must have 3 dimensions \(models, B, T\).*idx\[None\]"):
        network(torch.randint(10, (4, 6)))
    with pytest.raises(ValueError, match="one row per model in dimension 0, 2 models"):
        network(torch.randint(10, (3, 4, 6)))
    with pytest.raises(
        ValueError, match=r"Block.forward: x must have 4 dimensions.*\(models, B, T, d_model\)"
    ):
        network.blocks[0](torch.randn(4, 6, 16))
    with pytest.raises(TypeError, match="GroupedEmbedding.forward: idx must be an integer tensor"):
        network.wte(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"ids in \[0, 9\], got values in \[0, 10\]"):
        network.wte(torch.tensor([[0, 10], [1, 2]]))  # id 10 would read model 1's row 0
    with pytest.raises(ValueError, match=r"idx must be \(models, \.\.\.\)"):
        network.wte(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="idx is on meta"):
        network.wte(torch.zeros(2, 3, dtype=torch.long, device="meta"))
    with pytest.raises(ValueError, match="give both as"):
        rl.stacking.GroupedLayerNorm(torch.ones(2, 4), torch.ones(2, 5))


def test_require_stack_names_what_is_wrong_with_the_list():
    a, b = nn.Linear(4, 2), nn.Linear(4, 2)
    assert rl.stacking.require_stack((a, b)) == [a, b]
    with pytest.raises(ValueError, match="empty list"):
        rl.stacking.require_stack([])
    with pytest.raises(ValueError, match="more than once"):
        rl.stacking.require_stack([a, a])
    with pytest.raises(ValueError, match=r"model\[1\] is not built like model\[0\]"):
        rl.stacking.require_stack([a, nn.Linear(4, 3)])
    with pytest.raises(TypeError, match="models"):
        rl.stacking.require_stack([a, "b"])
    short = rl.paths.ShortPathTraining(rl.mlp.mlp(2, 8, 4, 2, residual=True), branches=1)
    with pytest.raises(ValueError, match=r"model\[0\] contains a ShortPathTraining.*train each alone"):
        rl.stacking.require_stack([short])
