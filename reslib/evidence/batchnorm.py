"""Evidence for batch normalization: the checks notebook 05's prose reports (see reslib/evidence/core.py).

Each check trains the notebook's 8-layer MLP (width 64) on MNIST-1D with the notebook's recipe (SGD with
momentum, batches of 100 unless a sentence says otherwise), for the seeds and epochs its sentence names.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

import reslib as rl
from reslib.evidence.core import claim

__all__: list[str] = []

LEARNING_RATES = (0.03, 0.1, 0.3, 1.0, 3.0)  # the notebook's sweep
CHANCE = math.log(10)  # the loss of guessing uniformly among 10 classes
SATURATED = 2 * math.acosh(math.sqrt(10))  # |z| past which sigmoid'(z) < 10 % of its maximum 1/4: 3.64


def _test_error(model: nn.Module, data: rl.data.TensorData, batch_size: int, train_mode: bool) -> float:
    """Test error of a copy of `model`, in eval mode or in train mode with batches of `batch_size`."""
    model = copy.deepcopy(model).train(train_mode)
    with torch.no_grad():
        wrong = sum(
            (model(data.x_test[i : i + batch_size]).argmax(1) != data.y_test[i : i + batch_size]).sum().item()
            for i in range(0, len(data.x_test), batch_size)
        )
    return wrong / len(data.x_test)


def _trained(
    seed: int, epochs: int, lr: float, batch_size: int = 100, **kwargs: object
) -> tuple[nn.Module, object]:
    """The notebook's 8-layer MLP (width 64) trained on MNIST-1D from `seed`; returns (net, history)."""
    data = rl.data.mnist1d(device=rl.device())
    rl.set_seed(seed)
    net = rl.mlp.mlp(8, 64, 40, 10, **kwargs)
    with rl.runtime.num_threads(1):  # tensors this small train faster on one thread
        history = rl.train.fit(
            net, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, progress=False
        )
    return net, history


@claim(
    "batchnorm-learning-rate-range",
    "over seeds 0-2, at 3 and at 5 epochs, the BN 8-layer MLP learns up to lr 1.0 and the plain one only up "
    "to 0.1 or 0.3 (which one depends on the seed and the CPU's kernels): BN takes at least 3x "
    "the learning rate",
)
def _learning_rate_range() -> str:
    data = rl.data.mnist1d(device=rl.device())
    largest = {}
    for seed in (0, 1, 2):
        for epochs in (3, 5):
            for label, norm in (("plain", None), ("BN", "batch")):
                learns = []
                for lr in LEARNING_RATES:
                    net, history = _trained(seed, epochs, lr, norm=norm)
                    loss = rl.train.evaluate(net, data.x_train, data.y_train)[0]
                    if history.diverged_at is None and loss < CHANCE - 0.2:
                        learns.append(lr)
                largest[label, seed, epochs] = max(learns, default=0.0)
    plain = sorted({v for (label, *_), v in largest.items() if label == "plain"})
    bn = sorted({v for (label, *_), v in largest.items() if label == "BN"})
    assert set(plain) <= {0.1, 0.3} and bn == [1.0], f"largest learning rate that learns: {largest}"
    runs = [(seed, epochs) for seed in (0, 1, 2) for epochs in (3, 5)]
    assert all(largest["BN", *run] >= 3 * largest["plain", *run] for run in runs), f"largest: {largest}"
    by_run = ", ".join(f"s{seed}/{epochs}ep {largest['plain', seed, epochs]:g}" for seed, epochs in runs)
    return f"largest lr with training loss < ln 10 - 0.2: BN 1.0 in all 6 runs; plain {by_run}"


@claim(
    "batchnorm-per-example-norms-slower",
    "at 5 epochs too, on seeds 0-2, layer and group norm ignore the batch size but end >5 points behind BN",
)
def _per_example_norms_slower() -> str:
    data = rl.data.mnist1d(device=rl.device())
    rows = []
    for seed in (0, 1, 2):
        bn, _ = _trained(seed, 5, 0.1, norm="batch")
        bn_eval, bn_pairs = _test_error(bn, data, 1000, False), _test_error(bn, data, 2, True)
        assert bn_pairs > bn_eval + 0.1, f"seed {seed}: BN eval {bn_eval:.3f}, batches of 2 {bn_pairs:.3f}"
        row = [f"seed {seed}: BN {bn_eval:.0%} (pairs {bn_pairs:.0%})"]
        for norm in ("layer", "group"):
            net, _ = _trained(seed, 5, 0.1, norm=norm)
            eval_err, pairs_err = _test_error(net, data, 1000, False), _test_error(net, data, 2, True)
            assert abs(pairs_err - eval_err) < 0.005, (
                f"seed {seed}, {norm}: {eval_err:.3f} vs {pairs_err:.3f}"
            )
            assert eval_err > bn_eval + 0.05, f"seed {seed}: {norm} {eval_err:.3f} vs BN {bn_eval:.3f}"
            row.append(f"{norm} {eval_err:.0%}")
        rows.append(", ".join(row))
    return "; ".join(rows) + " (5 epochs, lr 0.1, eval-mode test error)"


@claim(
    "batchnorm-batches-of-two",
    "trained in batches of 2 (lr 0.005, 3 epochs, seeds 0-2) BN stays at chance; "
    "layer and group norm reach 60-78 %, still falling",
)
def _batches_of_two() -> str:
    rows = []
    for seed in (0, 1, 2):
        bn, history = _trained(seed, 3, 0.005, batch_size=2, norm="batch")
        assert history.train_loss[-1] > CHANCE - 0.05 and history.test_error[-1] > 0.85, (
            f"seed {seed}: BN train loss {history.train_loss}, test error {history.test_error}"
        )
        row = [f"seed {seed}: BN loss {history.train_loss[-1]:.2f}, error {history.test_error[-1]:.0%}"]
        for norm in ("layer", "group"):
            _, h = _trained(seed, 3, 0.005, batch_size=2, norm=norm)
            assert 0.60 < h.test_error[-1] < 0.78, f"seed {seed}, {norm}: test error {h.test_error}"
            assert h.test_error[-1] < h.test_error[-2], f"seed {seed}, {norm}: not falling {h.test_error}"
            row.append(f"{norm} {h.test_error[-1]:.0%} (epoch 2: {h.test_error[-2]:.0%})")
        rows.append(", ".join(row))
    return "; ".join(rows)


def _saturated_share(net: nn.Module, x: torch.Tensor) -> list[float]:
    """Per sigmoid layer of `net` (eval mode, input `x`): the share of units with slope < 10 % of max."""
    inputs: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda _m, i, _o: inputs.append(i[0].detach()))
        for m in net.modules()
        if isinstance(m, nn.Sigmoid)
    ]
    net.eval()
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return [(z.abs() > SATURATED).float().mean().item() for z in inputs]


@claim(
    "batchnorm-sigmoid-saturation",
    "sigmoid MLP, lr 1.0, seeds 0-2: without BN it stays at chance, its last layer >50 % saturated; "
    "with BN it learns, its last layer 1-20 % saturated at 3 epochs and more (15-50 %) at 10",
)
def _sigmoid_saturation() -> str:
    data = rl.data.mnist1d(device=rl.device())
    rows = []
    for seed in (0, 1, 2):
        bn_share = {}
        for epochs in (3, 10):
            plain, hp = _trained(seed, epochs, 1.0, activation="sigmoid")
            bn, hb = _trained(seed, epochs, 1.0, norm="batch", activation="sigmoid")
            sp, sb = _saturated_share(plain, data.x_test)[-1], _saturated_share(bn, data.x_test)[-1]
            ep, eb = hp.test_error[-1], hb.test_error[-1]
            assert ep > 0.85 and sp > 0.5, (
                f"seed {seed}, {epochs} ep: plain error {ep:.3f}, saturated {sp:.3f}"
            )
            assert eb < 0.8, f"seed {seed}, {epochs} ep: BN error {eb:.3f}"
            bn_share[epochs] = sb
            rows.append(
                f"s{seed}/{epochs}ep: plain {ep:.0%} err, {sp:.0%} sat; BN {eb:.0%} err, {sb:.1%} sat"
            )
        assert 0.01 < bn_share[3] < 0.2 and 0.15 < bn_share[10] < 0.5, f"seed {seed}: BN saturated {bn_share}"
    return "; ".join(rows)
