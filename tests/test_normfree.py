"""BN-free residual MLPs: each scheme's block at initialisation, and its variance profile."""

import numpy as np
import pytest
import torch

import reslib as rl
from reslib.normfree import SCHEMES, NormFreeBlock, fixup_scale, normfree_mlp


@pytest.mark.parametrize("scheme", ["zero_gamma", "rezero", "fixup"])
def test_every_block_starts_as_the_identity(scheme):
    model = normfree_mlp(6, 16, 40, 10, scheme)
    x = torch.randn(32, 16)
    for block in model.blocks:
        assert torch.equal(block(x), x)


@pytest.mark.parametrize("scheme", ["default", "batchnorm"])
def test_other_blocks_do_not(scheme):
    block = normfree_mlp(2, 16, 40, 10, scheme).blocks[0]
    x = torch.randn(32, 16)
    assert not torch.allclose(block(x), x)


@pytest.mark.parametrize("scheme", ["zero_gamma", "rezero", "fixup"])
def test_the_variance_profile_is_flat_at_initialisation(scheme, data):
    stream = rl.variance.residual_stream(normfree_mlp(30, 32, 40, 10, scheme), data.x_train[:256])
    np.testing.assert_allclose(stream.second_moment, stream.second_moment[0], rtol=1e-6)
    assert np.allclose(stream.branch_share[1:], 0.0)


def test_default_init_triples_and_batch_norm_adds_one_per_block(data):
    x = data.x_train[:512]
    default = rl.variance.residual_stream(normfree_mlp(10, 64, 40, 10, "default"), x).second_moment
    factor = np.exp(np.mean(np.log(default[1:] / default[:-1])))
    assert 2.5 < factor < 3.5  # E[h^2] (1 + 2): the two He layers and a ReLU give 2 E[h^2]
    bn = rl.variance.residual_stream(normfree_mlp(30, 64, 40, 10, "batchnorm"), x).second_moment
    assert 0.8 < np.polyfit(np.arange(31), bn, 1)[0] < 1.2


def test_fixup_scale_and_its_weights():
    assert fixup_scale(16) == 0.25 and fixup_scale(8, 3) == pytest.approx(8**-0.25)
    torch.manual_seed(0)
    deep, shallow = normfree_mlp(64, 64, 40, 10, "fixup"), normfree_mlp(1, 64, 40, 10, "fixup")
    ratio = deep.blocks[0].linear1.weight.std() / shallow.blocks[0].linear1.weight.std()
    assert 0.1 < ratio < 0.15  # 64^(-1/2)
    assert not deep.blocks[0].linear2.weight.any() and not deep.head.weight.any()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_scheme_gets_gradients_that_move_it_off_the_identity(scheme, batch):
    x, y = batch
    model = normfree_mlp(4, 16, 40, 10, scheme)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    block = model.blocks[-1]
    moving = {"rezero": "alpha", "zero_gamma": "norm2.weight"}.get(scheme, "linear2.weight")
    grad = block.get_parameter(moving).grad
    if scheme == "fixup":  # the head starts at 0, so the first step moves the head only
        assert not grad.any()
        grad = model.head.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_a_deep_net_without_batch_norm_diverges_with_he_init_and_trains_with_rezero(small_data):
    torch.manual_seed(0)
    default = rl.train.fit(normfree_mlp(32, 32, 40, 10, "default"), small_data, 1, 0.05, progress=False)
    assert default.diverged_at == 0
    torch.manual_seed(0)
    rezero = rl.train.fit(normfree_mlp(32, 32, 40, 10, "rezero"), small_data, 3, 0.05, progress=False)
    assert rezero.diverged_at is None and rezero.train_loss[-1] < rezero.train_loss[0]


def test_repr_names_the_scheme():
    assert "scheme='fixup'" in repr(NormFreeBlock(4, "fixup"))


@pytest.mark.parametrize(
    "call, error, says",
    [
        (lambda: normfree_mlp(4, 8, 40, 10, "skip"), ValueError, "scheme"),
        (lambda: normfree_mlp(0, 8, 40, 10), ValueError, "depth"),
        (lambda: normfree_mlp(4, 8.0, 40, 10), TypeError, "width"),
        (lambda: normfree_mlp(4, 2**15, 40, 10), ValueError, "width"),
        (lambda: NormFreeBlock(8, "ReZero"), ValueError, "scheme"),
        (lambda: NormFreeBlock(True), TypeError, "width"),
        (lambda: fixup_scale(8, 1), ValueError, "layers_per_branch"),
        (lambda: fixup_scale(-1), ValueError, "depth"),
    ],
)
def test_bad_input_is_refused(call, error, says):
    with pytest.raises(error, match=says):
        call()
