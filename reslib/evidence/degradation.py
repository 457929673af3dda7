"""Evidence for the degradation problem: the checks notebook 01's prose reports (see reslib/evidence/core.py).

Each claim trains notebook 01's MLPs (width 64, SGD with momentum 0.9, batch 100) on MNIST-1D and measures
the final loss on the training set, with the seeds, epochs and learning rates its sentence names.
"""

from __future__ import annotations

import math

from reslib import data as datasets
from reslib import mlp, train
from reslib.evidence.core import claim
from reslib.runtime import device, num_threads, set_seed

__all__: list[str] = []


def _train_loss(depth: int, seed: int, epochs: int = 20, lr: float = 0.05, **options: object) -> float:
    """The final training loss of notebook 01's `mlp(depth, 64, 40, 10, **options)`; inf if it diverged."""
    data = datasets.mnist1d(device=device())
    set_seed(seed)
    net = mlp.mlp(depth, 64, 40, 10, **options)
    history = train.fit(net, (data.x_train, data.y_train), epochs=epochs, lr=lr, seed=seed, progress=False)
    if history.diverged_at is not None:
        return math.inf
    return train.evaluate(net, data.x_train, data.y_train)[0]


def _row(losses: dict, label: str) -> str:
    return f"{label} " + "/".join(f"{v:.2f}" for v in losses)


@claim(
    "degradation-sweep-budget",
    "plain ReLU MLPs, seeds 0-2, 20 and 30 epochs: 2 layers end more than 0.1 below 8 layers and more than "
    "0.3 below 16 at both budgets; the 16-layer loss falls from about 1.1 to about 0.85 with 30 epochs",
)
def _sweep_budget() -> str:
    seeds, loss = (0, 1, 2), {}
    with num_threads(1):
        for epochs in (20, 30):
            for depth in (2, 8, 16):
                loss[depth, epochs] = [_train_loss(depth, s, epochs) for s in seeds]
    measured = "; ".join(_row(loss[d, e], f"{d} layers {e} ep") for e in (20, 30) for d in (2, 8, 16))
    for e in (20, 30):
        for i in range(len(seeds)):
            assert loss[8, e][i] > loss[2, e][i] + 0.1 and loss[16, e][i] > loss[2, e][i] + 0.3, measured
    mean16 = {e: sum(loss[16, e]) / len(seeds) for e in (20, 30)}
    assert 0.95 < mean16[20] < 1.25 and 0.7 < mean16[30] < 1.0, measured
    assert all(loss[d, 30][i] < loss[d, 20][i] for d in (2, 8, 16) for i in range(len(seeds))), measured
    return measured + " (training loss, seeds 0/1/2)"


@claim(
    "degradation-control-budget",
    "the one-change-at-a-time control at 30 epochs, seeds 0-2: 16 plain and 16 plain + BN stay more than "
    "0.3 above 2 plain layers, 16 residual + BN is more than 0.3 below plain + BN and within 0.25 of 2 plain",
)
def _control_budget() -> str:
    variants = {
        "2 plain": (2, {}),
        "16 plain": (16, {}),
        "16 plain+BN": (16, {"norm": "batch"}),
        "16 residual+BN": (16, {"residual": True, "norm": "batch"}),
    }
    seeds = (0, 1, 2)
    with num_threads(1):
        loss = {name: [_train_loss(d, s, 30, **opt) for s in seeds] for name, (d, opt) in variants.items()}
    measured = "; ".join(_row(v, k) for k, v in loss.items()) + " (training loss at 30 epochs, seeds 0/1/2)"
    for i in range(len(seeds)):
        shallow, plain, plain_bn, res_bn = (loss[name][i] for name in variants)
        assert plain > shallow + 0.3 and plain_bn > shallow + 0.3, measured
        assert res_bn < plain_bn - 0.3 and res_bn < shallow + 0.25, measured
    return measured


@claim(
    "degradation-learning-rate",
    "seed 0, 2 vs 16 plain layers: at lr 0.01 both end near 0.9 (20 epochs); at lr 0.2 the 16-layer net "
    "stays at ln 10 while 2 layers learn; with 40 epochs at lr 0.05 the gap stays (16 layers > 2 + 0.5)",
)
def _learning_rate() -> str:
    settings = {"lr 0.01": (20, 0.01), "lr 0.2": (20, 0.2), "40 epochs": (40, 0.05)}
    with num_threads(1):
        loss = {k: (_train_loss(2, 0, e, lr), _train_loss(16, 0, e, lr)) for k, (e, lr) in settings.items()}
    measured = "; ".join(f"{k}: 2 layers {a:.2f}, 16 layers {b:.2f}" for k, (a, b) in loss.items())
    (slow2, slow16), (fast2, fast16), (long2, long16) = loss.values()
    assert 0.7 < slow2 < 1.1 and 0.7 < slow16 < 1.1, measured
    assert abs(fast16 - math.log(10)) < 0.05 and fast2 < 1.0, measured
    assert long16 > long2 + 0.5, measured
    return measured + " (training loss, seed 0)"


@claim(
    "degradation-trainable-depth",
    "seeds 0-2, 20 epochs, trains = mean training loss within 0.25 of 2 plain layers': plain trains at 4 "
    "layers, not 8; residual without BN (scaled by 1/sqrt 2) at 8, not 16; plain + BN at 8, not 16; residual "
    "+ BN at 16, not 32; unscaled identity skips without BN diverge at 8 blocks",
)
def _trainable_depth() -> str:
    seeds = (0, 1, 2)
    variants = {  # name: (the depths that bracket its limit, options of mlp.mlp)
        "plain": ((4, 8), {}),
        "residual 1/sqrt2": ((8, 16), {"residual": True, "residual_scale": 1 / math.sqrt(2)}),
        "plain + BN": ((8, 16), {"norm": "batch"}),
        "residual + BN": ((16, 32), {"residual": True, "norm": "batch"}),
    }
    with num_threads(1):
        target = sum(_train_loss(2, s) for s in seeds) / len(seeds)  # 2 plain layers, the control's target
        mean = {
            (name, d): sum(_train_loss(d, s, **opt) for s in seeds) / len(seeds)
            for name, (depths, opt) in variants.items()
            for d in depths
        }
        identity = _train_loss(8, 0, residual=True)  # no norm, no scale: the forward variance explodes
    measured = f"2 plain layers {target:.2f}; " + ", ".join(f"{n} {d}: {v:.2f}" for (n, d), v in mean.items())
    measured += f"; identity skips, 8 blocks, seed 0: {identity:.2f} (mean training loss, seeds 0-2)"
    for name, ((fits, fails), _) in variants.items():
        assert mean[name, fits] < target + 0.25 < mean[name, fails], measured
    assert math.isinf(identity), measured
    return measured
