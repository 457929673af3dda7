import pytest
import torch
from torch import nn

from reslib.batchnorm import (
    BatchNorm1d,
    BatchNorm2d,
    batch_norm_backward,
    batch_norm_backward_simplified,
    batch_norm_forward,
    fold_into_conv,
    inference_affine,
    running_stats_trace,
)

SHAPES = [(8, 3), (4, 3, 5, 5), (5, 2, 7)]


def inputs(shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.randn(*shape, generator=gen, dtype=torch.float64) * 2 + 1).requires_grad_()
    c = shape[1]
    gamma = torch.randn(c, generator=gen, dtype=torch.float64).requires_grad_()
    beta = torch.randn(c, generator=gen, dtype=torch.float64).requires_grad_()
    return x, gamma, beta


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_torch(shape):
    x, g, b = inputs(shape)
    y, cache = batch_norm_forward(x, g, b, 1e-5)
    want = nn.functional.batch_norm(x, None, None, g, b, training=True, eps=1e-5)
    torch.testing.assert_close(y, want, rtol=1e-12, atol=1e-12)
    assert cache.m == x.numel() // shape[1] and cache.var.shape == (shape[1],)


@pytest.mark.parametrize("backward", [batch_norm_backward, batch_norm_backward_simplified])
@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_autograd_in_float64(shape, backward):
    x, g, b = inputs(shape)
    y, cache = batch_norm_forward(x, g, b, 1e-5)
    dy = torch.randn_like(y)
    want = torch.autograd.grad(y, (x, g, b), dy)
    for got, ref in zip(backward(dy.detach(), cache), want, strict=True):
        assert ((got - ref).norm() / ref.norm()).item() < 1e-8


def test_backward_matches_finite_differences():
    x, g, b = inputs((4, 2))
    x, g, b = x.detach(), g.detach(), b.detach()
    dy = torch.randn(4, 2, dtype=torch.float64)
    _, cache = batch_norm_forward(x, g, b, 1e-5)
    dx = batch_norm_backward(dy, cache)[0]
    h = 1e-6
    for i in range(4):
        for j in range(2):
            xp, xm = x.clone(), x.clone()
            xp[i, j] += h
            xm[i, j] -= h
            num = (
                (batch_norm_forward(xp, g, b, 1e-5)[0] - batch_norm_forward(xm, g, b, 1e-5)[0]) * dy
            ).sum() / (2 * h)
            assert abs(num.item() - dx[i, j].item()) < 1e-6


@pytest.mark.parametrize("cls, shape", [(BatchNorm1d, (6, 3)), (BatchNorm2d, (4, 3, 5, 5))])
def test_module_passes_gradcheck(cls, shape):
    bn = cls(3).double()
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(bn, (x,))


@pytest.mark.parametrize(
    "mine, theirs, shape, momentum",
    [
        (BatchNorm2d, nn.BatchNorm2d, (4, 3, 5, 5), 0.1),
        (BatchNorm1d, nn.BatchNorm1d, (8, 3), 0.3),
        (BatchNorm1d, nn.BatchNorm1d, (8, 3, 4), None),
    ],
)
def test_drop_in_for_torch_over_training_steps_and_in_eval(mine, theirs, shape, momentum):
    torch.manual_seed(0)
    a, b = mine(3, momentum=momentum, eps=1e-3), theirs(3, momentum=momentum, eps=1e-3)
    assert list(a.state_dict()) == list(b.state_dict())
    a.load_state_dict(b.state_dict())
    opts = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (a, b)]
    for _ in range(5):
        x = torch.randn(*shape) * 3 + 1
        outs = []
        for m, opt in zip((a, b), opts, strict=True):
            opt.zero_grad()
            y = m(x)
            (y**3).mean().backward()
            opt.step()
            outs.append(y.detach())
        torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-5)
    for key, value in b.state_dict().items():
        torch.testing.assert_close(a.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    assert a.num_batches_tracked.item() == 5
    a.eval(), b.eval()
    x = torch.randn(*shape)
    torch.testing.assert_close(a(x), b(x), rtol=1e-5, atol=1e-6)


def test_running_var_is_unbiased():
    bn = BatchNorm1d(1, momentum=1.0)
    x = torch.tensor([[1.0], [2.0], [4.0]])
    bn(x)
    assert torch.allclose(bn.running_var, x.var(unbiased=True).reshape(1))


def test_buffers_are_not_part_of_the_graph():
    bn = BatchNorm1d(2)
    bn(torch.randn(4, 2, requires_grad=True))
    assert not bn.running_mean.requires_grad and bn.running_mean.grad_fn is None


def test_no_affine_no_running_stats_and_repr():
    bn = BatchNorm2d(2, affine=False, track_running_stats=False)
    assert list(bn.state_dict()) == list(
        nn.BatchNorm2d(2, affine=False, track_running_stats=False).state_dict()
    )
    x = torch.randn(3, 2, 4, 4)
    torch.testing.assert_close(bn.eval()(x), nn.functional.batch_norm(x, None, None, training=True))
    assert "track_running_stats=False" in repr(bn)


def test_fold_into_conv_is_exact_and_matches_torch():
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(3, 4, 3, bias=False), BatchNorm2d(4)
    for _ in range(3):
        bn(conv(torch.randn(8, 3, 9, 9)).detach())
    conv.eval(), bn.eval()
    fused = fold_into_conv(conv, bn)
    x = torch.randn(2, 3, 9, 9)
    torch.testing.assert_close(fused(x), bn(conv(x)), rtol=1e-5, atol=1e-5)
    torch_fused = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)
    torch.testing.assert_close(fused(x), torch_fused(x), rtol=1e-5, atol=1e-5)
    assert conv.bias is None  # the original is untouched
    a, b = inference_affine(bn)
    torch.testing.assert_close(bn(x[:, :0].new_ones(1, 4, 1, 1)).flatten(), a + b)


def test_running_stats_trace_matches_the_module():
    t = running_stats_trace(8, 0.2, steps=20, seed=1)
    gen = torch.Generator().manual_seed(1)
    x = 2 + 3 * torch.relu(torch.randn(20, 8, generator=gen, dtype=torch.float64))
    bn = BatchNorm1d(1, momentum=0.2).double()
    for batch in x:
        bn(batch[:, None])
    assert abs(bn.running_mean.item() - t.running_mean[-1]) < 1e-12
    assert abs(bn.running_var.item() - t.running_var[-1]) < 1e-12
    assert t.gap.shape == (20,) and t.output.shape == (2000,)
    with pytest.raises(ValueError, match="batch_size"):
        running_stats_trace(1, 0.1)
    with pytest.raises(ValueError, match="momentum"):
        running_stats_trace(4, 0.0)


def test_clear_errors():
    x, g, b = inputs((4, 3))
    with pytest.raises(ValueError, match="more than one value per channel"):
        batch_norm_forward(x[:1], g, b)
    with pytest.raises(ValueError, match="more than one value per channel"):
        BatchNorm2d(3)(torch.randn(1, 3, 1, 1))
    BatchNorm1d(3).eval()(torch.randn(1, 3))  # eval mode is fine with one example
    with pytest.raises(ValueError, match=r"gamma must have shape \(C,\) = \(3,\)"):
        batch_norm_forward(x, g[:2], b)
    with pytest.raises(ValueError, match="eps must be"):
        batch_norm_forward(x, g, b, -1e-5)
    with pytest.raises(ValueError, match="eps must be"):
        BatchNorm1d(3, eps=-1.0)
    with pytest.raises(ValueError, match="num_features"):
        BatchNorm1d(0)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm1d(3, momentum=2.0)
    with pytest.raises(
        ValueError, match=r"BatchNorm1d.forward: x must have size 3 in dimension 1.*got shape \(2, 4\)"
    ):
        BatchNorm1d(3)(torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"BatchNorm2d.forward: x must have 4 dimensions \(N, C, H, W\)"):
        BatchNorm2d(3)(torch.randn(2, 3))
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor.*call x.float\(\)"):
        BatchNorm1d(3)(torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match=r"BatchNorm1d's weights are torch.float32; call x.float\(\)"):
        BatchNorm1d(3)(torch.randn(2, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        BatchNorm1d(3)([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="output channels"):
        fold_into_conv(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(5))
    with pytest.raises(TypeError, match="Conv"):
        fold_into_conv(nn.Linear(3, 4), nn.BatchNorm2d(4))
    with pytest.raises(ValueError, match="running statistics"):
        inference_affine(BatchNorm2d(4, track_running_stats=False))
