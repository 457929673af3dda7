"""Readings of the residual stream: the gradient per block and the logit lens."""

import numpy as np
import pytest
import torch

from reslib.sequences import sequence_task
from reslib.stream import gradient_profile, logit_lens
from reslib.transformer import transformer


@pytest.fixture
def tokens():
    data = sequence_task(64, 32, device="cpu")
    return data.x_train, data.y_train


def test_the_gradient_profile_matches_backward_and_leaves_grad_alone(tokens):
    torch.manual_seed(0)
    model = transformer(10, 8, 3, 16, 2)
    profile = gradient_profile(model, *tokens)
    assert profile.mlp.shape == profile.attn.shape == (3,)
    assert all(p.grad is None for p in model.parameters())
    loss = torch.nn.functional.cross_entropy(model(tokens[0]).flatten(0, 1), tokens[1].flatten())
    loss.backward()
    expected = [b.mlp.c_proj.weight.grad.norm().item() for b in model.blocks]
    np.testing.assert_allclose(profile.mlp, expected, rtol=1e-5)
    assert profile.growth == pytest.approx(expected[-1] / expected[0], rel=1e-5)


def test_the_logit_lens_ends_with_the_models_own_prediction(tokens):
    torch.manual_seed(0)
    model = transformer(10, 8, 4, 16, 2)
    x, y = tokens
    lens = logit_lens(model, x, y)
    assert lens.accuracy.shape == lens.loss.shape == lens.second_moment.shape == (5,)
    assert lens.write_ratio.shape == (4,) and lens.n_layer == 4 and lens.probs.shape == (5, 8, 10)
    final = (model(x).argmax(-1) == y).float().mean().item()
    assert lens.accuracy[-1] == pytest.approx(final)
    np.testing.assert_allclose(lens.probs.sum(-1), 1.0, rtol=1e-5)
    assert np.array_equal(lens.tokens, x[0].numpy()) and np.array_equal(lens.target, y[0].numpy())
    states = model.streams(x)
    assert lens.second_moment[2] == pytest.approx(states[2].pow(2).mean().item(), rel=1e-5)


def test_the_pre_ln_stream_grows_linearly_and_depth_scaling_flattens_it(tokens):
    last = {}
    for scaled in (False, True):
        for n in (8, 32):
            torch.manual_seed(0)
            last[scaled, n] = logit_lens(
                transformer(10, 8, n, 32, 2, depth_scaled=scaled), *tokens
            ).second_moment[-1]
    assert 2.5 < last[False, 32] / last[False, 8] < 5.5
    assert 0.5 < last[True, 32] / last[True, 8] < 2.0


def test_bad_inputs_are_refused_clearly(tokens):
    model = transformer(10, 8, 1, n_out=5)
    x, y = tokens
    with pytest.raises(ValueError, match=r"y must hold classes in \[0, 4\]"):
        logit_lens(model, x, y + 5)
    with pytest.raises(ValueError, match="same shape"):
        gradient_profile(model, x, y[:, :4])
    with pytest.raises(TypeError, match="y"):
        logit_lens(model, x, y.float())
