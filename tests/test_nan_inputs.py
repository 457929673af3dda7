"""NaN in never becomes a plausible number out: fit and evaluate refuse non-finite data and labels
out of range before computing anything, and a loss that turns NaN is reported as divergence."""

import math

import pytest
import torch
from torch import nn

import reslib as rl


def _poisoned(t: torch.Tensor, value: float = float("nan")) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[3] = value
    return t


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_evaluate_refuses_non_finite_inputs(small_data, value):
    # evaluate(net, nan_x, y) returned (nan, 0.875): an error rate from argmax of NaN logits
    net = rl.mlp.mlp(1, 8, 40, 10)
    with pytest.raises(ValueError, match=r"^x holds NaN or infinity \(1 of 8000 values\)"):
        rl.train.evaluate(net, _poisoned(small_data.x_test, value), small_data.y_test)


def test_evaluate_names_the_split_of_a_tensordata(small_data):
    bad = rl.data.TensorData(
        small_data.x_train, small_data.y_train, small_data.x_test.clone(), small_data.y_test, 10
    )
    bad.x_test[0, 0] = float("nan")  # an in-place edit after construction
    with pytest.raises(ValueError, match=r"^x\.x_test holds NaN"):
        rl.train.evaluate(rl.mlp.mlp(1, 8, 40, 10), bad)


def test_evaluate_refuses_labels_out_of_range(small_data):
    net = rl.mlp.mlp(1, 8, 40, 10)
    with pytest.raises(ValueError, match=r"y must hold class indices >= 0, got labels from -1"):
        rl.train.evaluate(net, small_data.x_test, small_data.y_test - 1)
    with pytest.raises(ValueError, match=r"y holds class indices up to 19"):
        rl.train.evaluate(net, small_data.x_test, small_data.y_test + 10)


def test_evaluate_of_nan_weights_gives_no_error_rate(small_data):
    net = rl.mlp.mlp(1, 8, 40, 10)
    with torch.no_grad():
        next(net.parameters()).fill_(float("nan"))
    loss, error = rl.train.evaluate(net, small_data)
    assert math.isnan(loss) and math.isnan(error)  # not the 0.9 that argmax of NaN logits scores


@pytest.mark.parametrize("split", ["x_train", "x_test"])
def test_fit_refuses_a_non_finite_split(small_data, split):
    # fit with a NaN test set reported test_error 0.875 and no divergence
    parts = {k: getattr(small_data, k) for k in ("x_train", "y_train", "x_test", "y_test")}
    parts[split] = _poisoned(parts[split])
    data = rl.data.TensorData(**parts, num_classes=10)
    with pytest.raises(ValueError, match=rf"^data\.{split} holds NaN or infinity"):
        rl.train.fit(rl.mlp.mlp(1, 8, 40, 10), data, 1, 0.1, progress=False)


def test_fit_refuses_a_non_finite_pair_and_target(small_data):
    x, y = small_data.x_train, small_data.y_train
    with pytest.raises(ValueError, match=r"^data\[0\] holds NaN"):
        rl.train.fit(rl.mlp.mlp(1, 8, 40, 10), (_poisoned(x), y), 1, 0.1, progress=False)
    target = _poisoned(x[:, :10])  # a regression target, with its own loss
    with pytest.raises(ValueError, match=r"^data\[1\] holds NaN"):
        rl.train.fit(rl.mlp.mlp(1, 8, 40, 10), (x, target), 1, 0.1, progress=False, loss_fn=nn.MSELoss())


def test_fit_refuses_labels_the_model_cannot_score(small_data):
    x, y = small_data.x_train, small_data.y_train
    model = rl.mlp.mlp(1, 8, 40, 10)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"labels go up to 14, but the model's output has shape \(100, 10\)"):
        rl.train.fit(model, (x, y + 5), 1, 0.1, progress=False)  # was an IndexError (a CUDA assert on a GPU)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))  # no step taken
    with pytest.raises(ValueError, match=r"data\[1\] must hold class indices >= 0"):
        rl.train.fit(model, (x, y - 1), 1, 0.1, progress=False)


class _NaNInEval(nn.Module):
    """Finite weights and a finite training loss, yet NaN logits in eval mode (on the test set)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(40, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fc(x)
        return out if self.training else out * float("nan")


@pytest.mark.parametrize("stack", [False, True])
def test_a_nan_test_loss_is_divergence(small_data, stack):
    torch.manual_seed(0)
    models = [_NaNInEval(), _NaNInEval()] if stack else _NaNInEval()
    histories = rl.train.fit(models, small_data, 3, 0.1, progress=False)
    for h in histories if stack else [histories]:
        assert math.isfinite(h.train_loss[0]) and h.diverged_at == 0 and h.epochs == 1
        assert math.isnan(h.test_loss[0]) and math.isnan(h.test_error[0])  # not a plausible 0.9


def test_require_clean_names_the_tensor_and_the_fix():
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 2, 1, 0])
    assert rl.data.require_clean({"x": x, "y": y}, labels=("y",), classes=3) == 2
    with pytest.raises(ValueError, match=r"y must hold class indices in \[0, 2\), got labels from 0 to 2"):
        rl.data.require_clean({"x": x, "y": y}, labels=("y",), classes=2)
    with pytest.raises(TypeError, match="z holds complex numbers"):
        rl.data.require_clean({"z": torch.randn(3, dtype=torch.complex64)})
    with pytest.raises(ValueError, match="m is on the meta device"):
        rl.data.require_clean({"m": torch.empty(3, device="meta")})
    with pytest.raises(ValueError, match=r"classes must be an int >= 2, got 0"):
        rl.data.require_clean({"x": x, "y": y}, labels=("y",), classes=0)
    with pytest.raises(
        ValueError, match=r"labels must name tensors of `tensors`, some of \['x', 'y'\], got \('z',\)"
    ):
        rl.data.require_clean({"x": x, "y": y}, labels=("z",))
    assert rl.data.require_clean({"x": x}) == -1  # no labels: only finite values checked
    with pytest.raises(TypeError, match="tensors must be a dict of a torch.Tensor"):
        rl.data.require_clean({"w": [1.0]})
