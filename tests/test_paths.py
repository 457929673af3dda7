import math

import numpy as np
import pytest
import torch
from torch import nn

import reslib as rl


@pytest.mark.parametrize("n", [0, 1, 4, 12, 54, 110])
def test_path_length_distribution_is_binomial(n):
    p = rl.paths.path_length_distribution(n)
    assert p.shape == (n + 1,) and p.sum() == pytest.approx(1.0)
    assert np.allclose(p * 2.0**n, [float(math.comb(n, k)) for k in range(n + 1)], rtol=1e-12)


def test_resnet110_has_mean_27_sd_3_67_and_98_percent_at_19_to_35():
    p = rl.paths.path_length_distribution(54)
    k = np.arange(55)
    mean = (k * p).sum()
    assert mean == pytest.approx(27)
    assert math.sqrt((k**2 * p).sum() - mean**2) == pytest.approx(3.674, abs=1e-3)
    assert 0.98 <= p[19:36].sum() < 0.99


@pytest.mark.parametrize("n, error", [(-1, ValueError), (2.0, TypeError), (True, TypeError)])
def test_path_length_distribution_rejects_bad_n(n, error):
    with pytest.raises(error, match="n_blocks"):
        rl.paths.path_length_distribution(n)


def test_effective_paths_with_flat_gradient_is_the_binomial_bulk_and_decay_shortens_it():
    flat = rl.paths.effective_paths(54, np.ones(55))
    assert np.allclose(flat.contribution, rl.paths.path_length_distribution(54))
    assert flat.peak == 27 and flat.lo <= 22 and flat.hi >= 32
    fast = rl.paths.effective_paths(54, 0.25 ** np.arange(55))
    assert fast.peak < 14 and fast.hi < 20 and fast.paths_fraction < 0.01
    assert fast.contribution[fast.lo : fast.hi + 1].sum() >= 0.9


@pytest.mark.parametrize(
    "magnitude, share", [(np.ones(3), 0.9), (np.zeros(5), 0.9), (-np.ones(5), 0.9), (np.ones(5), 1.5)]
)
def test_effective_paths_rejects_bad_input(magnitude, share):
    with pytest.raises(ValueError):
        rl.paths.effective_paths(4, magnitude, share)


def test_unravel_sums_to_the_output_for_linear_blocks():
    gen = torch.Generator().manual_seed(0)
    ws = [torch.randn(4, 4, generator=gen, dtype=torch.float64) for _ in range(4)]
    blocks = [lambda h, w=w: h @ w.T for w in ws]
    x = torch.randn(2, 4, generator=gen, dtype=torch.float64)
    y = x
    for f in blocks:
        y = y + f(y)
    terms = rl.paths.unravel(blocks, x)
    assert len(terms) == 16 and () in terms and (1, 2, 3, 4) in terms
    assert torch.allclose(terms[()], x) and torch.allclose(sum(terms.values()), y)
    assert sum(1 for p in terms if 1 in p) == 8
    with pytest.raises(ValueError, match="at most 16"):
        rl.paths.unravel(blocks * 5, x)


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return rl.mlp.mlp(5, 16, 8, 3, residual=True, norm="batch").eval()


def test_lesion_skips_the_blocks_and_leaves_the_model_alone(resnet):
    x = torch.randn(6, 8)
    before = resnet(x).detach()
    cut = rl.paths.lesion(resnet, [1, 3])
    assert isinstance(cut.blocks[1], nn.Identity) and isinstance(cut.blocks[3], nn.Identity)
    assert torch.equal(resnet(x), before)
    with torch.no_grad():
        h = resnet.stem(x)
        for i in (0, 2, 4):
            h = resnet.blocks[i](h)
        assert torch.allclose(cut(x), resnet.head(h))
    assert torch.equal(rl.paths.lesion(resnet, []).eval()(x), before)
    assert isinstance(rl.paths.lesion(resnet, 0).blocks[0], nn.Identity)


@pytest.mark.parametrize(
    "drop, error", [([5], ValueError), ([-1], ValueError), ([1.0], TypeError), ([True], TypeError)]
)
def test_lesion_rejects_blocks_that_do_not_exist(resnet, drop, error):
    with pytest.raises(error, match="block index|drop"):
        rl.paths.lesion(resnet, drop)
    with pytest.raises(TypeError, match="blocks"):
        rl.paths.lesion(nn.Linear(2, 2), [0])


def test_reorder_permutes_blocks(resnet):
    x = torch.randn(4, 8)
    same = rl.paths.reorder(resnet, [0, 1, 2, 3, 4]).eval()
    assert torch.allclose(same(x), resnet(x))
    swapped = rl.paths.reorder(resnet, [1, 0, 2, 3, 4]).eval()
    assert not torch.allclose(swapped(x), resnet(x))
    with pytest.raises(ValueError, match="permutation"):
        rl.paths.reorder(resnet, [0, 0, 1, 2, 3])


def test_path_gradient_magnitude_length_0_is_the_skip_only_gradient(resnet):
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    g = rl.paths.path_gradient_magnitude(resnet, x, y, lengths=[0, 1, 5], samples=3)
    assert g.shape == (3,) and np.all(g > 0)
    h0 = resnet.stem(x).detach().requires_grad_(True)  # only skips: the head's gradient arrives unchanged
    with torch.no_grad():
        h = resnet.blocks(h0)
    h = h0 + (h - h0).detach()
    (grad,) = torch.autograd.grad(nn.functional.cross_entropy(resnet.head(h), y), h0)
    assert g[0] == pytest.approx(grad.double().norm(dim=1).mean().item(), rel=1e-6)
    # all 5 branches only (no skips): exactly the one longest path
    assert g[2] != pytest.approx(g[0])
    with pytest.raises(ValueError, match="lengths"):
        rl.paths.path_gradient_magnitude(resnet, x, y, lengths=[6])


def test_stochastic_depth_drops_blocks_in_training_and_scales_in_eval(resnet):
    short = rl.paths.stochastic_depth(resnet, survival=0.5)
    assert len(short.blocks) == 5 and all(isinstance(b, rl.paths.RandomSkip) for b in short.blocks)
    x = torch.randn(4, 16)
    short.eval()
    with torch.no_grad():
        expect = x + 0.5 * (resnet.blocks[0](x) - x)
        assert torch.allclose(short.blocks[0](x), expect)
    short.train()
    torch.manual_seed(1)
    outs = {bool(torch.equal(short.blocks[0](x), x)) for _ in range(20)}
    assert outs == {True, False}  # sometimes skipped, sometimes applied
    with pytest.raises(ValueError, match="survival"):
        rl.paths.stochastic_depth(resnet, 0.0)
    with pytest.raises(ValueError, match="residual_scale"):
        rl.paths.stochastic_depth(rl.mlp.mlp(2, 4, 2, 2, residual=True, residual_scale=0.5))


@pytest.fixture(scope="module")
def resnet64():
    torch.manual_seed(0)
    return rl.mlp.mlp(5, 6, 8, 3, residual=True, norm="batch").double().eval()


def test_path_gradients_over_all_subsets_sum_to_the_full_gradient(resnet64):
    # the unraveled view of the backward pass: dL/dh0 = g_n (I + J_5) ... (I + J_1) = sum over the 32 paths
    x, y = torch.randn(7, 8, dtype=torch.float64), torch.randint(0, 3, (7,))
    h0 = resnet64.stem(x).detach().requires_grad_(True)
    (full,) = torch.autograd.grad(nn.functional.cross_entropy(resnet64.head(resnet64.blocks(h0)), y), h0)
    subsets = [[i for i in range(5) if mask >> i & 1] for mask in range(32)]
    total = sum(rl.paths.path_gradient(resnet64, x, y, s) for s in subsets)
    assert total.shape == (7, 6) and torch.allclose(total, full, atol=1e-12)
    assert not torch.allclose(rl.paths.path_gradient(resnet64, x, y, [0, 1]), full)


def test_path_gradient_magnitude_averages_path_gradient(resnet64):
    x, y = torch.randn(7, 8, dtype=torch.float64), torch.randint(0, 3, (7,))
    g = rl.paths.path_gradient(resnet64, x, y, range(5)).norm(dim=1).mean().item()
    assert rl.paths.path_gradient_magnitude(resnet64, x, y, lengths=[5], samples=2)[0] == pytest.approx(g)


@pytest.mark.parametrize("active, error", [([5], ValueError), ([-1], ValueError), ([1.0], TypeError)])
def test_path_gradient_rejects_blocks_that_do_not_exist(resnet64, active, error):
    x, y = torch.randn(2, 8, dtype=torch.float64), torch.zeros(2).long()
    with pytest.raises(error, match="block index|active"):
        rl.paths.path_gradient(resnet64, x, y, active)
    with pytest.raises(TypeError, match="blocks"):
        rl.paths.path_gradient(nn.Linear(8, 3), x, y, [0])


@pytest.mark.parametrize("shortcut_scale", [1.0, 0.5])
def test_short_path_training_keeps_the_forward_pass_and_trains_k_branches(shortcut_scale):
    torch.manual_seed(0)
    net = rl.mlp.mlp(6, 8, 8, 3, residual=True, norm="batch", shortcut_scale=shortcut_scale).double()
    short = rl.paths.ShortPathTraining(net, branches=2, seed=3)
    x, y = torch.randn(16, 8, dtype=torch.float64), torch.randint(0, 3, (16,))
    rng = torch.get_rng_state()
    assert torch.allclose(short(x), net(x), atol=1e-12)  # training mode: same values
    short.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(short(x), y).backward()
    assert torch.equal(torch.get_rng_state(), rng)  # draws come from its own generator
    trained = [b.linear.weight.grad is not None for b in net.blocks]
    assert sum(trained) == 2  # only 2 of the 6 branches receive a gradient
    assert net.stem.weight.grad is not None and net.head.weight.grad is not None
    short.eval()
    assert torch.equal(short(x), net.eval()(x))  # eval: the wrapped network unchanged
    assert "branches=2 of 6" in repr(short)


def test_short_path_training_with_every_branch_is_full_training():
    torch.manual_seed(0)
    net = rl.mlp.mlp(4, 8, 8, 3, residual=True, norm="batch").double()
    x, y = torch.randn(16, 8, dtype=torch.float64), torch.randint(0, 3, (16,))
    nn.functional.cross_entropy(net(x), y).backward()
    full = [p.grad.clone() for p in net.parameters()]
    net.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(rl.paths.ShortPathTraining(net, branches=4)(x), y).backward()
    assert all(torch.allclose(p.grad, g) for p, g in zip(net.parameters(), full, strict=True))


@pytest.mark.parametrize(
    "kwargs, error, word",
    [
        (dict(branches=7), ValueError, "branches"),
        (dict(branches=-1), ValueError, "branches"),
        (dict(branches=2.0), TypeError, "branches"),
        (dict(branches=2, seed=-1), ValueError, "seed"),
        (dict(branches=2, seed=0.5), TypeError, "seed"),
    ],
)
def test_short_path_training_rejects_bad_arguments(kwargs, error, word):
    with pytest.raises(error, match=word):
        rl.paths.ShortPathTraining(rl.mlp.mlp(6, 4, 2, 2, residual=True), **kwargs)
    with pytest.raises(TypeError, match="blocks"):
        rl.paths.ShortPathTraining(nn.Linear(2, 2), branches=1)


def test_stochastic_depth_with_a_seed_draws_its_own_coins_and_leaves_the_global_rng(resnet):
    x = torch.randn(4, 16)

    def coins(short):  # which of the five blocks ran, over 8 training passes
        return [[not torch.equal(b(x), x) for b in short.blocks] for _ in range(8)]

    torch.manual_seed(0)
    state = torch.get_rng_state()
    a = coins(rl.paths.stochastic_depth(resnet, 0.5, seed=3).train())
    assert torch.equal(torch.get_rng_state(), state)  # the global generator did not move
    assert a == coins(rl.paths.stochastic_depth(resnet, 0.5, seed=3).train())  # the seed repeats them
    assert a != coins(rl.paths.stochastic_depth(resnet, 0.5, seed=4).train())
    assert {c for row in a for c in row} == {True, False}
    with pytest.raises(ValueError, match="seed"):
        rl.paths.stochastic_depth(resnet, 0.5, seed=-1)
