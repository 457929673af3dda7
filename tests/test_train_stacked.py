"""`fit` on a list of models: stacked training must be each model's own training, run at once."""

import pytest
import torch
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

import reslib as rl


def _models(seeds, **options):
    out = []
    for s in seeds:
        rl.set_seed(s)
        out.append(rl.mlp.mlp(3, 16, 40, 10, **options))
    return out


def _weights(model):
    return [t for t in model.state_dict().values() if t.is_floating_point()]


@pytest.mark.parametrize(
    "options, optimizer",
    [
        (dict(), dict(optimizer="sgd", weight_decay=1e-3)),
        (dict(residual=True, norm="batch"), dict(optimizer="sgd")),
        (dict(norm="layer"), dict(optimizer="adam")),
    ],
)
def test_stacked_models_end_where_each_would_alone(small_data, options, optimizer):
    # A small rate keeps training far from chaos, so float rounding cannot grow: the stacked run
    # must reproduce each model's own run (weights, BN statistics and every curve).
    lr = 1e-3 if optimizer["optimizer"] == "adam" else 0.01
    alone = _models((0, 1, 2), **options)
    solo = [
        rl.train.fit(m, small_data, 2, lr, seed=s, progress=False, **optimizer) for s, m in enumerate(alone)
    ]
    stacked = _models((0, 1, 2), **options)
    histories = rl.train.fit(stacked, small_data, 2, lr, seed=[0, 1, 2], progress=False, **optimizer)
    assert isinstance(histories, list) and len(histories) == 3
    for a, b, ha, hb in zip(alone, stacked, solo, histories, strict=True):
        for wa, wb in zip(_weights(a), _weights(b), strict=True):
            torch.testing.assert_close(wb, wa, atol=2e-5, rtol=1e-4)
        for curve in ("train_loss", "train_error", "test_loss", "test_error"):
            assert getattr(hb, curve) == pytest.approx(getattr(ha, curve), abs=2e-3)
    # the seeds give different models: the stack did not train one model three times
    assert not torch.equal(_weights(stacked[0])[0], _weights(stacked[1])[0])


def test_stacked_fit_with_a_loss_function_and_a_pair(small_data):
    # a regression target through loss_fn: no error rates, no test curves for a pair
    data = (small_data.x_train, F.one_hot(small_data.y_train, 10).float())
    alone = _models((0, 1))
    solo = [
        rl.train.fit(m, data, 2, 0.01, seed=s, progress=False, loss_fn=F.mse_loss)
        for s, m in enumerate(alone)
    ]
    stacked = _models((0, 1))
    histories = rl.train.fit(stacked, data, 2, 0.01, seed=[0, 1], progress=False, loss_fn=F.mse_loss)
    for ha, hb in zip(solo, histories, strict=True):
        assert hb.train_loss == pytest.approx(ha.train_loss, rel=1e-4)
        assert hb.train_error == [] and hb.test_loss == []


def test_a_diverging_model_stops_and_the_others_go_on(small_data):
    stacked = _models((0, 1))
    with torch.no_grad():
        stacked[1].head.weight.fill_(float("nan"))
    (alone,) = _models((0,))
    solo = rl.train.fit(alone, small_data, 3, 0.01, seed=0, progress=False)
    good, bad = rl.train.fit(stacked, small_data, 3, 0.01, seed=0, progress=False)
    assert bad.diverged_at == 0 and bad.epochs == 1 and bad.test_loss == []
    assert good.diverged_at is None and good.epochs == 3
    assert good.train_loss == pytest.approx(solo.train_loss, abs=1e-4)


def test_one_seed_for_all_models_gives_all_the_same_order(small_data):
    a, b = _models((0, 0))  # the same initial weights too
    ha, hb = rl.train.fit([a, b], small_data, 1, 0.01, seed=5, progress=False)
    assert ha.train_loss == hb.train_loss


class _HostReads(TorchFunctionMode):
    """Counts every read of a tensor's value into Python (`item`, `tolist`, `bool`, `int`, `float`):
    on a GPU each one waits for the device."""

    READS = {
        torch.Tensor.item,
        torch.Tensor.tolist,
        torch.Tensor.__bool__,
        torch.Tensor.__int__,
        torch.Tensor.__float__,
    }

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in self.READS:
            self.count += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("stack", [False, True])
def test_fit_reads_the_device_once_per_epoch_not_once_per_step(small_data, stack):
    def reads(epochs, batch_size):
        models = _models((0, 1)) if stack else _models((0,))[0]
        with _HostReads() as mode:
            rl.train.fit(models, small_data, epochs, 0.01, batch_size=batch_size, progress=False)
        return mode.count

    setup = reads(1, 100) - 2  # argument checks, then one read for training and one for the test set
    assert reads(1, 20) == reads(1, 100)  # five times the steps, not one read more
    assert reads(3, 100) == setup + 3 * 2
    assert setup <= 4


def test_stacked_fit_rejects_what_cannot_stack(small_data):
    a, b = _models((0, 1))
    with pytest.raises(ValueError, match="empty list"):
        rl.train.fit([], small_data, 1, 0.01)
    with pytest.raises(ValueError, match="more than once"):
        rl.train.fit([a, a], small_data, 1, 0.01)
    with pytest.raises(ValueError, match=r"model\[1\] is not built like model\[0\]"):
        rl.train.fit([a, rl.mlp.mlp(4, 16, 40, 10)], small_data, 1, 0.01)
    with pytest.raises(ValueError, match="2 seeds for 3 models"):
        rl.train.fit([a, b, _models((2,))[0]], small_data, 1, 0.01, seed=[0, 1])
    with pytest.raises(TypeError, match="seed must be an int for one model"):
        rl.train.fit(a, small_data, 1, 0.01, seed=[0])
    with pytest.raises(ValueError, match=r"seed\[1\]"):
        rl.train.fit([a, b], small_data, 1, 0.01, seed=[0, -1])
    with pytest.raises(TypeError, match="model"):
        rl.train.fit([a, "b"], small_data, 1, 0.01)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_the_fused_optimizer_takes_the_steps_of_the_plain_one(name):
    # a parameter without a gradient at the first step (a block stochastic depth skipped) included
    torch.manual_seed(0)
    start = [torch.randn(5, 3), torch.randn(3)]
    grads = [[torch.randn(5, 3), None], [torch.randn(5, 3), torch.randn(3)], [None, torch.randn(3)]]
    runs = []
    for fused in (False, True):
        params = [p.clone().requires_grad_() for p in start]
        opt = rl.train._optimizer(params, name, 0.1, 0.9, 1e-3)
        if not fused:
            opt = type(opt)(params, **{k: v for k, v in opt.defaults.items() if k != "fused"})
        assert bool(opt.defaults.get("fused")) == fused
        for step in grads:
            for p, g in zip(params, step, strict=True):
                p.grad = None if g is None else g.clone()
            opt.step()
        runs.append([p.detach() for p in params])
    for a, b in zip(*runs, strict=True):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-5)


def test_mlps_run_as_grouped_products_and_anything_else_through_vmap(small_data, monkeypatch):
    options = (dict(), dict(norm="batch"), dict(residual=True), dict(norm="layer"))
    groupable = [rl.mlp.mlp(3, 16, 40, 10, **o) for o in options]
    assert all(rl.stacking.groupable(m) for m in groupable)
    others = [
        rl.mlp.mlp(3, 16, 40, 10, norm="group"),  # GroupNorm: not grouped (vmap)
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(40, 10)),  # a shape-changing module
        torch.nn.Sequential(torch.nn.Linear(40, 10), torch.nn.BatchNorm1d(10, momentum=None)),
    ]
    assert not any(rl.stacking.groupable(m) for m in others)
    # grouped and vmapped stacks train the same models to the same weights
    monkeypatch.setattr(rl.train, "_vmap_pays", lambda device: True)  # on a CPU too
    results = []
    for group in (True, False):
        monkeypatch.setattr(rl.stacking, "groupable", lambda m, g=group: g)
        models = _models((0, 1), residual=True, norm="batch")
        rl.train.fit(models, small_data, 2, 0.01, seed=[0, 1], progress=False)
        results.append(models)
    for a, b in zip(*results, strict=True):
        for wa, wb in zip(_weights(a), _weights(b), strict=True):
            torch.testing.assert_close(wa, wb, atol=2e-5, rtol=1e-4)


def _conv(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 40)),
        torch.nn.Conv1d(1, 4, 3),
        torch.nn.BatchNorm1d(4),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 38, 10),
    )


def test_a_stack_of_conv_nets_trains_through_vmap_where_that_pays(small_data, monkeypatch):
    monkeypatch.setattr(rl.train, "_vmap_pays", lambda device: True)  # a GPU's choice, on the CPU
    alone = [_conv(s) for s in (0, 1)]
    solo = [rl.train.fit(m, small_data, 2, 0.01, seed=s, progress=False) for s, m in enumerate(alone)]
    stacked = [_conv(s) for s in (0, 1)]
    assert not rl.stacking.groupable(stacked[0])
    histories = rl.train.fit(stacked, small_data, 2, 0.01, seed=[0, 1], progress=False)
    for a, b, ha, hb in zip(alone, stacked, solo, histories, strict=True):
        assert hb.train_loss == pytest.approx(ha.train_loss, abs=2e-3)
        for wa, wb in zip(_weights(a), _weights(b), strict=True):
            torch.testing.assert_close(wb, wa, atol=2e-5, rtol=1e-4)


def test_on_one_cpu_thread_a_list_of_conv_nets_trains_one_by_one_exactly_as_alone(small_data, monkeypatch):
    with rl.runtime.num_threads(2):
        assert rl.train._vmap_pays(torch.device("cpu")) and rl.train._vmap_pays(torch.device("cuda"))
    with rl.runtime.num_threads(1):  # as in rl.runtime.parallel
        assert not rl.train._vmap_pays(torch.device("cpu")) and rl.train._vmap_pays(torch.device("cuda"))
        alone = [_conv(s) for s in (0, 1)]
        solo = [rl.train.fit(m, small_data, 2, 0.01, seed=s, progress=False) for s, m in enumerate(alone)]
        listed = [_conv(s) for s in (0, 1)]
        monkeypatch.setattr(rl.train, "_Stacked", None)  # never built on this path
        histories = rl.train.fit(listed, small_data, 2, 0.01, seed=[0, 1], progress=False)
    assert [h.train_loss for h in histories] == [h.train_loss for h in solo]  # bit for bit
    for a, b in zip(alone, listed, strict=True):
        assert all(torch.equal(wa, wb) for wa, wb in zip(_weights(a), _weights(b), strict=True))


@pytest.mark.parametrize(
    "wrap",
    [
        lambda net, s: rl.paths.ShortPathTraining(net, branches=1, seed=s),
        lambda net, s: rl.paths.stochastic_depth(net, survival=0.5, seed=s),
    ],
    ids=["short paths", "stochastic depth"],
)
def test_models_that_draw_their_blocks_in_python_are_refused_with_the_loop_to_use(wrap):
    """Stacked, one draw would be every model's (vmap failed with a RuntimeError about data-dependent
    control flow, or about a tensor without storage); the error says to train them one by one."""
    models = []
    for s in (0, 1):
        rl.set_seed(s)
        models.append(wrap(rl.mlp.mlp(2, 8, 40, 10, residual=True, norm="batch"), s))
    x, y = torch.randn(20, 40), torch.randint(0, 10, (20,))
    with pytest.raises(ValueError, match=r"model\[0\] contains a .*train each alone"):
        rl.train.fit(models, (x, y), epochs=1, lr=0.05, seed=[0, 1], progress=False)
    rl.train.fit(models[0], (x, y), epochs=1, lr=0.05, seed=0, progress=False)  # alone, it trains
