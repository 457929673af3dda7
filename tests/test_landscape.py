"""Loss landscapes: filter-normalised directions, and slices checked against a quadratic in closed form."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import reslib as rl
from reslib.landscape import loss_slice_1d, loss_slice_2d, nonconvexity, random_directions


def mse(out, y):
    return (out - y).pow(2).mean()


@pytest.fixture
def quadratic():
    """A linear model with squared error: L(w) is a quadratic in w."""
    gen = torch.Generator().manual_seed(1)
    model = nn.Linear(5, 1, bias=False)
    x, y = torch.randn(64, 5, generator=gen), torch.randn(64, 1, generator=gen)
    return model, (x, y)


def test_filter_normalisation_gives_each_row_the_norm_of_its_weights():
    model = rl.mlp.mlp(3, 16, 40, 10)
    d = random_directions(model, "filter", seed=3)
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            torch.testing.assert_close(d[name].flatten(1).norm(dim=1), p.detach().flatten(1).norm(dim=1))
        else:
            assert not d[name].any(), f"{name}: biases get no direction"


def test_filter_normalisation_works_per_conv_filter_and_zeroes_batch_norm():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
    d = random_directions(model)
    torch.testing.assert_close(
        d["0.weight"].flatten(1).norm(dim=1), model[0].weight.detach().flatten(1).norm(dim=1)
    )
    assert not d["1.weight"].any() and not d["1.bias"].any()


def test_layer_and_no_normalisation():
    model = nn.Linear(6, 4)
    layer, raw = random_directions(model, "layer", seed=0), random_directions(model, "none", seed=0)
    torch.testing.assert_close(layer["weight"].norm(), model.weight.detach().norm())
    assert raw["bias"].any() and not layer["bias"].any()
    assert torch.equal(random_directions(model, "none", seed=0)["weight"], raw["weight"])  # seeded
    assert not torch.equal(random_directions(model, "none", seed=1)["weight"], raw["weight"])


def test_directions_from_a_generator_advance_it():
    model = nn.Linear(6, 4)
    gen = torch.Generator().manual_seed(7)
    first, second = (
        random_directions(model, "none", generator=gen),
        random_directions(model, "none", generator=gen),
    )
    assert not torch.equal(first["weight"], second["weight"])
    again = random_directions(model, "none", generator=torch.Generator().manual_seed(7))
    assert torch.equal(first["weight"], again["weight"])
    torch.testing.assert_close(
        random_directions(model, seed=7)["weight"],
        random_directions(model, generator=torch.Generator().manual_seed(7))["weight"],
    )


def test_directions_leave_the_global_rng_alone():
    model = nn.Linear(6, 4)
    before = torch.get_rng_state()
    random_directions(model, seed=5)
    assert torch.equal(before, torch.get_rng_state())


def test_1d_slice_of_a_quadratic_is_the_closed_form(quadratic):
    model, (x, y) = quadratic
    d = random_directions(model, "none", seed=2)
    s = loss_slice_1d(model, (x, y), steps=11, span=2.0, direction=d, loss_fn=mse)
    r, v = (x @ model.weight.detach().T - y).double(), (x @ d["weight"].T).double()  # (N, 1)
    a = torch.tensor(s.alphas)
    want = (r.pow(2).mean() + 2 * a * (r * v).mean() + a**2 * v.pow(2).mean()).numpy()
    np.testing.assert_allclose(s.loss, want, rtol=1e-5)
    assert s.alphas[0] == -2.0 and s.alphas[-1] == 2.0 and s.alphas[5] == 0.0


def test_2d_slice_of_a_quadratic_is_the_closed_form_and_convex(quadratic):
    model, (x, y) = quadratic
    pair = (random_directions(model, "none", seed=2), random_directions(model, "none", seed=3))
    s = loss_slice_2d(model, (x, y), steps=7, span=1.5, directions=pair, loss_fn=mse)
    r = (x @ model.weight.detach().T - y).double()
    v, u = ((x @ d["weight"].T).double() for d in pair)
    a, b = torch.meshgrid(torch.tensor(s.alphas), torch.tensor(s.betas), indexing="ij")
    want = ((r[None, None] + a[..., None, None] * v + b[..., None, None] * u) ** 2).mean(dim=(2, 3))
    np.testing.assert_allclose(s.loss, want.numpy(), rtol=1e-5)
    assert s.loss.shape == (7, 7) and s.curvature_ratio.shape == (5, 5)
    assert s.nonconvexity == 0.0  # a positive semi-definite quadratic
    concave = loss_slice_2d(
        model, (x, y), steps=7, span=1.5, directions=pair, loss_fn=lambda o, t: -mse(o, t)
    )
    assert concave.nonconvexity == 1.0


def test_nonconvexity_of_a_saddle_a_bowl_and_a_valley():
    t = np.linspace(-1, 1, 9)
    a, b = np.meshgrid(t, t, indexing="ij")
    ratio, share = nonconvexity(a**2 - b**2, spacing=0.25)
    assert share == 1.0 and np.allclose(ratio, -1.0)
    assert nonconvexity(a**2 + 3 * b**2, 0.25)[1] == 0.0
    assert nonconvexity(a**2 - 0.05 * b**2, 0.25)[1] == 0.0  # a small negative curvature is tolerated
    assert nonconvexity(a**2 - 0.05 * b**2, 0.25, threshold=0.01)[1] == 1.0


def test_slices_do_not_change_the_model_or_its_mode(data):
    model = rl.mlp.mlp(2, 8, 40, 10, norm="batch")
    before = [p.detach().clone() for p in model.parameters()]
    s = loss_slice_2d(model, data, steps=3, span=0.1)
    assert model.training and all(torch.equal(p, q) for p, q in zip(before, model.parameters(), strict=True))
    assert s.loss.shape == (3, 3) and math.isfinite(s.nonconvexity)
    centre = rl.train.evaluate(model, data.x_train, data.y_train)[0]
    assert s.loss[1, 1] == pytest.approx(centre, rel=1e-4)  # eval mode, the training split


def test_a_big_grid_is_chunked_and_matches_a_small_one(quadratic, monkeypatch):
    model, data = quadratic
    whole = loss_slice_2d(model, data, steps=5, span=1.0, loss_fn=mse)
    monkeypatch.setattr(rl.landscape, "_CHUNK_BYTES", 1)  # one grid point per chunk
    np.testing.assert_allclose(loss_slice_2d(model, data, steps=5, span=1.0, loss_fn=mse).loss, whole.loss)


@pytest.mark.parametrize(
    "call, error, says",
    [
        (lambda m, d: loss_slice_2d(m, d, span=0.0), ValueError, "span"),
        (lambda m, d: loss_slice_2d(m, d, span=-1.0), ValueError, "span"),
        (lambda m, d: loss_slice_2d(m, d, span=float("nan")), ValueError, "span"),
        (lambda m, d: loss_slice_2d(m, d, steps=1), ValueError, "steps"),
        (lambda m, d: loss_slice_1d(m, d, steps=True), TypeError, "steps"),
        (lambda m, d: loss_slice_1d(m, d, steps=10**6), ValueError, "steps"),
        (lambda m, d: random_directions(m, "filters"), ValueError, "normalization"),
        (lambda m, d: random_directions("model"), TypeError, "model"),
        (lambda m, d: loss_slice_1d(nn.ReLU(), d), ValueError, "parameters"),
        (lambda m, d: loss_slice_1d(m, [1, 2]), TypeError, "data"),
        (lambda m, d: loss_slice_1d(m, d, loss_fn="mse"), TypeError, "loss_fn"),
        (lambda m, d: loss_slice_1d(m, d, direction={"weight": torch.zeros(3)}), ValueError, "direction"),
        (lambda m, d: loss_slice_2d(m, d, directions=[None, None]), TypeError, "directions"),
        (lambda m, d: loss_slice_2d(m, d, threshold=2.0), ValueError, "threshold"),
        (lambda m, d: nonconvexity(np.zeros((2, 2)), 0.1), ValueError, "3 x 3"),
        (lambda m, d: nonconvexity(np.full((3, 3), np.inf), 0.1), ValueError, "finite"),
        (lambda m, d: nonconvexity(np.zeros((3, 3)), 0.0), ValueError, "spacing"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(quadratic, call, error, says):
    model, data = quadratic
    with pytest.raises(error, match=says):
        call(model, data)
