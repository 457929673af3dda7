import math

import numpy as np
import pytest
import torch

import reslib as rl
from reslib.variance import FLOAT32_MAX, forward_backward_profile, variance_profile


def factors(values, blocks=slice(1, 21)):
    v = np.asarray(values)
    return np.exp(np.mean(np.log(v[1:] / v[:-1])[blocks.start - 1 : blocks.stop - 1]))


def test_he_residual_second_moment_doubles_and_batch_variance_grows_by_1_6_to_1_8():
    r = forward_backward_profile(30, width=128, n_samples=512)
    assert 1.85 < factors(r.second_moment) < 2.15
    assert 1.55 < factors(r.batch_variance) < 1.85  # 1 + 2 Var(ReLU) = 1.68 first, about 1.8 later


def test_scaled_residual_keeps_second_moment_flat_while_batch_variance_drifts_down():
    r = forward_backward_profile(30, residual_scale=2**-0.5, width=128, n_samples=512)
    assert 0.9 < factors(r.second_moment) < 1.1
    assert 0.78 < factors(r.batch_variance) < 0.92


def test_batch_norm_in_the_branch_gives_linear_growth():
    v = variance_profile(60, batch_norm=True, width=128, n_samples=256)
    slope = np.polyfit(np.arange(20, 61), v[20:], 1)[0]
    assert 0.85 < slope < 1.15 and 45 < v[60] < 75


@pytest.mark.parametrize("batch_norm, scale", [(True, 1.0), (False, 2**-0.5), (False, 1.0)])
def test_profile_is_the_mlp_it_models_forward_and_backward(batch_norm, scale):
    torch.manual_seed(0)
    depth, width, n = 4, 16, 32
    model = rl.mlp.mlp(
        depth,
        width,
        width,
        2,
        residual=True,
        norm="batch" if batch_norm else None,
        residual_scale=scale,
        init="he",
    )
    r = forward_backward_profile(depth, scale, batch_norm, width=width, n_samples=n, seed=3)
    gen = torch.Generator().manual_seed(3)
    h, grad_out = torch.randn(n, width, generator=gen), torch.randn(n, width, generator=gen)
    weights = rl.variance._unit_weights(3, width, depth) * math.sqrt(2 / width)
    with torch.no_grad():
        for block, w in zip(model.blocks, weights, strict=True):
            block.linear.weight.copy_(w)
    states = [h.requires_grad_()]
    for block in model.blocks:
        states.append(block(states[-1]))
    want = [s.detach().double().pow(2).mean().item() for s in states]
    np.testing.assert_allclose(r.second_moment, want, rtol=1e-4)
    grads = torch.autograd.grad(states[-1], states, grad_outputs=grad_out)  # autograd through mlp
    norms = np.array([g.double().norm().item() for g in grads])
    np.testing.assert_allclose(r.grad_norm, norms / norms[-1], rtol=1e-4)


def test_float32_overflow_is_found_and_reported():
    r = forward_backward_profile(200, init=8.0)
    k = r.overflow_at
    assert k is not None and 90 < k < 130
    assert np.isnan(r.second_moment[k]) and np.isfinite(r.second_moment[k - 1])
    assert r.variance_overflow_at < k and r.second_moment[r.variance_overflow_at] > FLOAT32_MAX
    assert f"at block {k}" in r.status


def test_he_variance_passes_float32_max_near_block_128():
    r = forward_backward_profile(150)
    assert r.overflow_at is None and 115 < r.variance_overflow_at < 145
    assert "h.var() in float32 is inf" in r.status


def test_backward_grows_towards_the_input_without_scaling():
    g = forward_backward_profile(20, width=128).grad_norm
    assert g[-1] == 1.0 and 2**8 < g[0] < 2**12  # sqrt(2) per block
    flat = forward_backward_profile(20, residual_scale=2**-0.5, width=128).grad_norm
    assert 0.3 < flat[0] < 3


def test_prefix_does_not_depend_on_depth():
    a = variance_profile(10)
    b = variance_profile(40)
    np.testing.assert_allclose(a, b[:11])
    assert len(a) == 11


def test_glorot_and_numbers_set_the_gain():
    glorot = variance_profile(10, init="glorot", width=128, n_samples=512)
    assert 1.35 < factors(glorot, slice(1, 11)) < 1.65  # 1 + 1/2
    np.testing.assert_allclose(variance_profile(5, init=1.0), variance_profile(5, init="glorot"))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(depth=0), ValueError, "depth"),
        (dict(depth=2.5), TypeError, "depth"),
        (dict(depth=3, n_samples=1), ValueError, "n_samples"),
        (dict(depth=3, init="lecun"), ValueError, "init"),
        (dict(depth=3, init=-1.0), ValueError, "init"),
        (dict(depth=3, init=[2.0]), TypeError, "init"),
        (dict(depth=3, residual_scale=0), ValueError, "residual_scale"),
        (dict(depth=3, quantity="std"), ValueError, "quantity"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        variance_profile(**kwargs)


def test_the_weight_cache_is_bounded_and_shared_across_depths():
    from reslib.variance import _CACHE_BYTES, _draw

    _draw.cache_clear()
    variance_profile(5, seed=11)
    held = _draw.cache_bytes()
    variance_profile(60, seed=11)  # another depth of the explorer's slider: no new draw
    assert _draw.cache_bytes() == held == 200 * 64 * 64 * 4
    for seed in range(30):  # an lru_cache(4) of 200-block draws kept 3.3 GB at width 2048
        variance_profile(1, width=128, seed=seed)
    assert _draw.cache_bytes() <= _CACHE_BYTES


def test_a_wide_shallow_profile_draws_only_its_blocks():
    from reslib.variance import _draw

    _draw.cache_clear()
    variance_profile(1, width=2048)  # drew (and kept) 200 blocks, 3.3 GB, before
    assert _draw.cache_bytes() == 0


@pytest.mark.parametrize("width", [5, 63, 100, 257, 300])
@pytest.mark.parametrize("depth", [1, 3, 199, 200, 201])
def test_unit_weights_are_the_same_blocks_whichever_way_they_are_drawn(width, depth):
    # the uncached path relies on torch's CPU sampler being prefix-consistent in 16-value chunks
    full = torch.randn(max(depth, 200), width, width, generator=torch.Generator().manual_seed(10_003))
    assert torch.equal(rl.variance._unit_weights(3, width, depth), full[:depth])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(depth=1, width=10**5), "width"),
        (dict(depth=10**6), "depth"),
        (dict(depth=2, n_samples=10**8), "n_samples"),
    ],
)
def test_huge_sizes_are_refused_before_allocating(kwargs, name):
    for fn in (variance_profile, rl.variance.forward_backward_profile, rl.variance.branch_share):
        with pytest.raises(
            ValueError, match=rf"{name}=\d+ would allocate about .* MiB, past the limit of 1,024 MiB"
        ):
            fn(**kwargs)


def test_branch_share_is_about_one_over_k_plus_one_with_bn_and_one_half_without():
    k = np.arange(1, 41)
    bn = rl.variance.branch_share(40, batch_norm=True, width=128)
    assert np.isnan(bn[0]) and bn.shape == (41,)
    assert np.all((0.75 < bn[1:] * (k + 1)) & (bn[1:] * (k + 1) < 1.33))
    for scale in (1.0, 1 / math.sqrt(2)):
        plain = rl.variance.branch_share(40, residual_scale=scale, width=128)
        assert 0.4 < plain[1:].mean() < 0.6


def test_branch_share_times_the_profile_is_the_branchs_unit_with_bn():
    share = rl.variance.branch_share(20, batch_norm=True, width=128)
    second = variance_profile(20, batch_norm=True, width=128)  # the same weights and input
    branch = share[1:] * second[1:]  # E[f_k^2] = gain / 2 = 1 with He init
    assert np.all((0.75 < branch) & (branch < 1.3))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(depth=0), ValueError, "depth"),
        (dict(depth=3, batch_norm=1), TypeError, "batch_norm"),
        (dict(depth=3, residual_scale=-1.0), ValueError, "residual_scale"),
        (dict(depth=3, init="lecun"), ValueError, "init"),
    ],
)
def test_branch_share_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        rl.variance.branch_share(**kwargs)


def test_residual_stream_of_a_bn_mlp_grows_by_one_per_block():
    torch.manual_seed(0)
    model = rl.mlp.mlp(12, 64, 40, 10, residual=True, norm="batch")
    stream = rl.variance.residual_stream(model, torch.randn(512, 40))
    steps = np.diff(stream.second_moment)
    assert stream.second_moment.shape == (13,) and np.isnan(stream.branch_share[0])
    assert 0.8 < steps.mean() < 1.2
    np.testing.assert_allclose(stream.branch_share[1:], steps / stream.second_moment[1:], atol=0.08)


def test_residual_stream_reads_the_shortcut_and_residual_scales():
    torch.manual_seed(0)
    model = rl.mlp.mlp(3, 16, 8, 2, residual=True, residual_scale=0.5, shortcut_scale=0.5)
    x = torch.randn(64, 8)
    stream = rl.variance.residual_stream(model, x)
    with torch.no_grad():
        h = model.stem(x)
        block = model.blocks[0]
        branch = 0.5 * block.linear(block.act(block.norm(h)))
    expected = branch.pow(2).mean() / block(h).pow(2).mean()
    assert abs(stream.branch_share[1] - expected.item()) < 1e-6


def test_residual_stream_refuses_a_plain_net():
    with pytest.raises(ValueError, match="residual=True"):
        rl.variance.residual_stream(rl.mlp.mlp(3, 8, 4, 2), torch.randn(4, 4))
