import copy
import math

import pytest
import torch
from torch import nn

import reslib as rl


def test_fit_learns_and_reports_every_epoch(small_data):
    model = rl.mlp.mlp(2, 32, 40, 10)
    before, _ = rl.train.evaluate(model, small_data.x_train, small_data.y_train)
    history = rl.train.fit(model, small_data, epochs=5, lr=0.05, progress=False)
    after, err = rl.train.evaluate(model, small_data.x_train, small_data.y_train)
    assert history.epochs == 5 and len(history.test_error) == 5 and history.diverged_at is None
    assert after < before and history.train_loss[-1] < history.train_loss[0]
    assert 0 <= err <= 1 and all(0 <= e <= 1 for e in history.test_error)


def test_fit_is_deterministic_given_seeds(small_data):
    runs = []
    for _ in range(2):
        rl.set_seed(3)
        model = rl.mlp.mlp(2, 16, 40, 10)
        runs.append(rl.train.fit(model, small_data, epochs=2, lr=0.05, seed=4, progress=False))
    assert runs[0].train_loss == runs[1].train_loss and runs[0].test_loss == runs[1].test_loss


def test_fit_with_adam(small_data):
    history = rl.train.fit(
        rl.mlp.mlp(1, 16, 40, 10), small_data, epochs=3, lr=1e-2, optimizer="adam", progress=False
    )
    assert history.train_loss[-1] < history.train_loss[0]


def test_fit_stops_when_the_loss_diverges(small_data):
    model = rl.mlp.mlp(8, 32, 40, 10, residual=True)
    history = rl.train.fit(model, small_data, epochs=5, lr=50.0, progress=False)
    assert history.diverged_at is not None and history.epochs == history.diverged_at + 1
    assert not math.isfinite(history.train_loss[-1])


def test_fit_flags_nan_weights_as_diverged(small_data):
    # a NaN gradient in the epoch's only step leaves NaN weights behind a finite loss:
    # 0 * d sqrt(u)/du at u = 0 is 0 * inf = NaN, while the loss itself stays finite
    def nan_gradient(out, y):
        return torch.nn.functional.cross_entropy(out, y) + 0.0 * (out - out.detach()).pow(2).sum().sqrt()

    model = rl.mlp.mlp(1, 8, 40, 10)
    history = rl.train.fit(
        model, small_data, epochs=3, lr=0.1, batch_size=500, progress=False, loss_fn=nan_gradient
    )
    assert math.isfinite(history.train_loss[0]) and not all(p.isfinite().all() for p in model.parameters())
    assert history.diverged_at == 0 and history.epochs == 1


@pytest.mark.parametrize("batch_size", [-1, 0])
def test_evaluate_rejects_a_batch_size_below_one(small_data, batch_size):
    # batch_size=-1 used to skip every batch and report a perfect model, (0.0, 0.0)
    model = rl.mlp.mlp(1, 8, 40, 10)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        rl.train.evaluate(model, small_data.x_test, small_data.y_test, batch_size=batch_size)
    with pytest.raises(TypeError, match="batch_size"):
        rl.train.evaluate(model, small_data, batch_size=10.0)
    with pytest.raises(ValueError, match="at least one example"):
        rl.train.evaluate(model, small_data.x_test[:0], small_data.y_test[:0])


def test_evaluate_of_a_uniform_classifier_is_log10():
    class Uniform(nn.Module):
        def forward(self, x):
            return torch.zeros(len(x), 10)

    x, y = torch.randn(30, 40), torch.arange(30) % 10
    loss, error = rl.train.evaluate(Uniform(), x, y)
    assert loss == pytest.approx(math.log(10)) and error == pytest.approx(0.9)


def test_evaluate_accepts_tensordata_and_keeps_the_mode(small_data):
    model = rl.mlp.mlp(1, 8, 40, 10, norm="batch")
    model.train()
    assert rl.train.evaluate(model, small_data) == rl.train.evaluate(
        model, small_data.x_test, small_data.y_test
    )
    assert model.training


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(epochs=0), ValueError, "epochs"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(lr=-1.0), ValueError, "lr must be a finite number > 0"),
        (dict(optimizer="rmsprop"), ValueError, "optimizer name must be one of 'sgd', 'adam'"),
        (dict(epochs=2.0), TypeError, "epochs must be an int"),
    ],
)
def test_fit_rejects_bad_arguments(small_data, kwargs, error, match):
    args = dict(epochs=1, lr=0.1, progress=False) | kwargs
    with pytest.raises(error, match=match):
        rl.train.fit(rl.mlp.mlp(1, 4, 40, 10), small_data, **args)


def test_fit_rejects_what_is_neither_tensordata_nor_a_pair():
    with pytest.raises(TypeError, match="TensorData or a pair"):
        rl.train.fit(rl.mlp.mlp(1, 4, 40, 10), [torch.zeros(2, 40), torch.zeros(2)], 1, 0.1)


def test_fit_on_a_pair_trains_without_test_curves(small_data):
    x, y = small_data.x_train, small_data.y_train
    rl.set_seed(3)
    on_pair = rl.train.fit(rl.mlp.mlp(1, 8, 40, 10), (x, y), 2, 0.05, progress=False)
    rl.set_seed(3)
    on_data = rl.train.fit(rl.mlp.mlp(1, 8, 40, 10), small_data, 2, 0.05, progress=False)
    assert on_pair.train_loss == on_data.train_loss and on_pair.train_error == on_data.train_error
    assert on_pair.test_loss == [] and len(on_data.test_loss) == 2


def test_fit_with_a_loss_function_measures_the_test_loss_but_no_error(small_data):
    def smoothed(logits, y):
        return torch.nn.functional.cross_entropy(logits, y, label_smoothing=0.1)

    history = rl.train.fit(rl.mlp.mlp(1, 8, 40, 10), small_data, 2, 0.05, progress=False, loss_fn=smoothed)
    assert len(history.train_loss) == len(history.test_loss) == 2
    assert history.train_error == [] and history.test_error == []


def test_evaluate_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="the same N"):
        rl.train.evaluate(nn.Linear(40, 10), torch.zeros(3, 40), torch.zeros(2, dtype=torch.long))


# In a kernel, fit's bar is a widget; what the notebook keeps of it once training ends or fails.
BAR_CELLS = [
    """import torch, ipywidgets, reslib as rl
x, y = torch.randn(64, 40), torch.randint(0, 10, (64,))
net = rl.mlp.mlp(1, 8, 40, 10)
rl.train.fit(net, (x, y), epochs=3, lr=0.1, batch_size=32).train_loss[-1] > 0""",
    """def fails(output, target):
    fails.calls = getattr(fails, "calls", 0) + 1
    if fails.calls > 2:
        raise RuntimeError("stop")
    return torch.nn.functional.cross_entropy(output, target)
try:
    rl.train.fit(net, (x, y), epochs=3, lr=0.1, batch_size=32, loss_fn=fails)
except RuntimeError:
    pass""",
    "sorted(ipywidgets.widgets.widget._instances)",
]


def test_fit_leaves_no_view_of_a_closed_bar_in_the_notebook():
    """A finished bar's output becomes an empty view (hidden by every widget frontend), not a view of a
    widget that is gone (which a saved copy, such as RISE's slideshow, shows as "model not found"); a
    bar stopped by an error stays, and its widget with it."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in BAR_CELLS])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    view = "application/vnd.jupyter.widget-view+json"
    done, failed = ([o for o in cell.outputs if view in o.get("data", {})] for cell in nb.cells[:2])
    alive = nb.cells[2].outputs
    assert [o.data[view]["model_id"] for o in done] == [""]
    assert done[0].data["text/plain"] == ""
    stopped = failed[0].data[view]["model_id"]
    assert stopped, "a bar stopped by an error should stay"
    assert stopped in alive[0]["data"]["text/plain"]


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        (("ab", [1.0]), {}, TypeError, "History: train_loss must be a list or tuple of numbers, got str"),
        (((1.0,), [1.0]), {}, TypeError, "History: train_loss must be a list of numbers, got tuple"),
        (([1.0], [True]), {}, TypeError, r"History: train_error\[0\] must be a number"),
        (([1.0], [0.5, 0.4]), {}, ValueError, "train_error has 2 values, train_loss 1"),
        (([1.0], [], [1.0, 2.0]), {}, ValueError, "test_loss has 2 values, more than"),
        (([1.0], [], [1.0], [0.1, 0.2]), {}, ValueError, "test_error has 2 values, test_loss 1"),
        (([1.0],), dict(diverged_at=1), ValueError, r"diverged_at must be an int in \[0, 0\]"),
    ],
)
def test_history_validates_on_construction(args, kwargs, error, match):
    assert rl.train.History([1.0, math.nan], [0.5, 0.5], [1.0], diverged_at=1).epochs == 2
    with pytest.raises(error, match=match):
        rl.train.History(*args, **kwargs)


def test_fit_takes_the_steps_of_a_bare_loop(small_data):
    # the input checks run once, before the loop: the updates are those of the textbook loop
    x, y = small_data.x_train, small_data.y_train
    torch.manual_seed(0)
    model = rl.mlp.mlp(2, 16, 40, 10, norm="batch")
    bare = copy.deepcopy(model)
    history = rl.train.fit(model, small_data, epochs=2, lr=0.05, batch_size=100, seed=3, progress=False)
    gen, opt = torch.Generator().manual_seed(3), torch.optim.SGD(bare.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(2):
        bare.train()
        order, epoch_loss = torch.randperm(len(x), generator=gen), 0.0
        for i in range(0, len(x), 100):
            idx = order[i : i + 100]
            loss = nn.functional.cross_entropy(bare(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            epoch_loss += loss.item() * len(idx) / len(x)
        losses.append(epoch_loss)
    assert history.train_loss == pytest.approx(losses, rel=1e-5)
    for a, b in zip(model.state_dict().values(), bare.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)  # a fused optimizer rounds differently
    assert rl.train.evaluate(model, small_data) == pytest.approx(
        rl.train.evaluate(bare, small_data), rel=1e-4
    )


# -- robustness: a run estimated past reslib.guard.WORK_LIMIT is refused before it starts (issue 25) --


def _tiny_data() -> rl.data.TensorData:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 40, generator=g), torch.arange(16) % 10
    return rl.data.TensorData(x[:12], y[:12], x[12:], y[12:], 10)


def test_fit_refuses_epochs_that_would_run_for_minutes_before_the_first_step():
    model = rl.mlp.mlp(2, 8, 40, 10, residual=True)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(
        ValueError, match=r"epochs=100000, batch_size=100 would run for about 3 min .*WORK_LIMIT"
    ):
        rl.train.fit(model, _tiny_data(), epochs=100_000, lr=0.1, progress=False)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # not one step taken
    assert len(rl.train.fit(model, _tiny_data(), epochs=20, lr=0.1, progress=False).train_loss) == 20


def _estimate(monkeypatch, *args) -> float:
    """The estimate `fit` accepts for (model, x, tested, epochs, batch_size, count), in seconds."""
    seen = []

    def record(given, flops=0.0, operations=0.0):
        seen.append(rl.guard.require_work(given, flops, operations, limit=1e12))
        rl.guard.require_work(given, flops, operations)  # refused past the limit, as fit's own call

    monkeypatch.setattr(rl.train, "require_work", record)
    rl.train._require_time(*args)
    return seen[-1]


def test_the_notebooks_largest_training_runs_pass_the_estimate_three_times_over(monkeypatch):
    limit = rl.guard.WORK_LIMIT / 3
    mnist = torch.zeros(4000, 40)  # MNIST-1D's training inputs; 1000 test examples
    mlp = rl.mlp.mlp(12, 64, 40, 10, residual=True, norm="batch")
    assert _estimate(monkeypatch, mlp, mnist, 1000, 30, 100, 3) < limit  # notebook 03, three seeds
    unet = rl.unet.UNet(1, 3, depth=3, base_channels=8, padding="same")
    images = torch.zeros(400, 1, 32, 32)
    assert _estimate(monkeypatch, unet, images, 0, 8, 10, 2) < limit  # notebook 09, FLOPs counted on meta
    resnet = rl.resnet.cifar_resnet(20, width=8, in_channels=1, dim=1)
    assert _estimate(monkeypatch, resnet, mnist[:, None], 1000, 6, 128, 1) < limit  # notebook 07
    # on an accelerator only the operations count: ResNet-20, 10 epochs of CIFAR-10 (notebook 07)
    cifar = torch.zeros(50_000, 3, 32, 32, device="meta")
    assert _estimate(monkeypatch, rl.resnet.cifar_resnet(20), cifar, 10_000, 10, 128, 1) < limit


def test_the_estimate_is_within_3x_of_a_measured_run(monkeypatch):
    # 3 stacked 12-block MLPs, 3 epochs of MNIST-1D: 0.6-1.0 s measured on 2 cores, one thread
    mlp = rl.mlp.mlp(12, 64, 40, 10, residual=True, norm="batch")
    assert 0.3 < _estimate(monkeypatch, mlp, torch.zeros(4000, 40), 1000, 3, 100, 3) < 3.0
