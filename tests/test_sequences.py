"""The sorting task (deterministic, no global RNG) and the side-by-side Adam loop with warm-up."""

import copy

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import reslib as rl
from reslib.sequences import sequence_accuracy, sequence_task, train_sequence_models
from reslib.transformer import transformer


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data():
    a, b, c = (sequence_task(50, 20, seed=s, device="cpu") for s in (1, 1, 2))
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)


def test_the_task_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    sequence_task(50, 20, seed=5, device="cpu")
    assert torch.equal(torch.rand(3), expected)


def test_targets_are_sorted_or_reversed_inputs():
    data = sequence_task(100, 10, length=6, vocab_size=5, device="cpu")
    assert data.x_train.shape == (100, 6) and data.x_test.shape == (10, 6) and data.length == 6
    assert torch.equal(data.y_train, data.x_train.sort(1).values)
    assert int(data.x_train.max()) <= 4 and "sort" in repr(data)
    rev = sequence_task(100, 10, task="reverse", device="cpu")
    assert torch.equal(rev.y_test, rev.x_test.flip(1))


def test_side_by_side_training_follows_torchs_adam_with_warm_up():
    data = sequence_task(300, 50, device="cpu")
    torch.manual_seed(0)
    ours = transformer(10, 8, 2, 16, 2)
    theirs = copy.deepcopy(ours)
    run = train_sequence_models([ours], data, 12, 3e-3, warmup=4, seeds=[0])[0]
    opt = torch.optim.Adam(theirs.parameters(), lr=3e-3, betas=(0.9, 0.98))
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, (t + 1) / 4))
    gen, losses = torch.Generator().manual_seed(0), []
    for _ in range(12):
        idx = torch.randint(300, (32,), generator=gen)
        loss = F.cross_entropy(theirs(data.x_train[idx]).flatten(0, 1), data.y_train[idx].flatten())
        opt.zero_grad(), loss.backward(), opt.step(), schedule.step()
        losses.append(loss.item())
    np.testing.assert_allclose(run.loss, losses, rtol=1e-4)
    assert run.warmup == 4 and run.diverged_at is None and 0 <= run.accuracy <= 1


def test_models_trained_together_match_models_trained_alone():
    data = sequence_task(300, 50, device="cpu")
    nets = []
    for s in (0, 1):
        torch.manual_seed(s)
        nets.append(transformer(10, 8, 1, 16, 2))
    alone = [copy.deepcopy(n) for n in nets]
    together = train_sequence_models(nets, data, 8, 1e-3, warmup=[0, 4], seeds=[0, 1])
    for net, s, w, run in zip(alone, (0, 1), (0, 4), together, strict=True):
        single = train_sequence_models([net], data, 8, 1e-3, warmup=w, seeds=[s])[0]
        np.testing.assert_allclose(run.loss, single.loss, rtol=1e-4)


class _Wrapped(nn.Module):
    """A model reslib.stacking cannot group (a class it does not know): trained through torch.func.vmap."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, idx):
        return self.net(idx)


def test_the_vmap_path_for_other_models_trains_as_the_grouped_path_does():
    data = sequence_task(300, 50, device="cpu")
    nets = []
    for s in (0, 1):
        torch.manual_seed(s)
        nets.append(transformer(10, 8, 2, 16, 2))
    wrapped = [_Wrapped(copy.deepcopy(n)) for n in nets]
    assert rl.stacking.groupable(nets[0]) and not rl.stacking.groupable(wrapped[0])
    grouped = train_sequence_models(nets, data, 10, 3e-3, warmup=[0, 4], seeds=[0, 1])
    vmapped = train_sequence_models(wrapped, data, 10, 3e-3, warmup=[0, 4], seeds=[0, 1])
    for a, b, net, w in zip(grouped, vmapped, nets, wrapped, strict=True):
        np.testing.assert_allclose(a.loss, b.loss, rtol=1e-4)
        torch.testing.assert_close(net.lm_head.weight, w.net.lm_head.weight, atol=1e-4, rtol=1e-4)


def test_a_run_that_blows_up_is_marked_and_the_others_go_on():
    data = sequence_task(200, 50, device="cpu")
    nets = [transformer(10, 8, 1, 16, 2) for _ in range(2)]
    with torch.no_grad():
        nets[1].lm_head.weight.fill_(float("nan"))
    good, bad = train_sequence_models(nets, data, 5, 1e-3)
    assert good.diverged_at is None and bad.diverged_at == 0 and bad.accuracy == 0.0
    assert bad.final_loss == float("inf") and np.isfinite(good.final_loss)


def test_the_trained_weights_are_written_back_and_training_helps():
    data = sequence_task(500, 100, task="reverse", device="cpu")
    torch.manual_seed(0)
    net = transformer(10, 8, 1, 32, 2)
    before = sequence_accuracy(net, data.x_test, data.y_test)
    run = train_sequence_models([net], data, 150, 3e-3)[0]
    assert run.accuracy == sequence_accuracy(net, data.x_test, data.y_test) > before + 0.3


def test_bad_arguments_are_refused_clearly():
    data = sequence_task(20, 10, device="cpu")
    net = transformer(10, 8, 1)
    with pytest.raises(ValueError, match="task"):
        sequence_task(task="shuffle")
    with pytest.raises(ValueError, match="length"):
        sequence_task(length=1)
    with pytest.raises(ValueError, match="warmup"):
        train_sequence_models([net], data, 10, 1e-3, warmup=11)
    with pytest.raises(ValueError, match="one seed and one warmup per model"):
        train_sequence_models([net], data, 10, 1e-3, warmup=[0, 1])
    with pytest.raises(ValueError, match="betas"):
        train_sequence_models([net], data, 10, 1e-3, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="one architecture"):
        train_sequence_models([net, transformer(10, 8, 2)], data, 10, 1e-3)
    with pytest.raises(ValueError, match="lr"):
        train_sequence_models([net], data, 10, 0.0)
    with pytest.raises(ValueError, match="same shape"):
        sequence_accuracy(net, data.x_test, data.y_test[:, :3])
