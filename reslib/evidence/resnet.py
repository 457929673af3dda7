"""Evidence for ResNet: the checks notebook 07's prose reports (see reslib/evidence/core.py).

All claims train the notebook's section-6 networks: CIFAR-style 6n+2 ResNets and their plain twins
(width 8, 1-D convs) on MNIST-1D, SGD with momentum, learning rate 0.05, batch 128, one thread.
"""

from __future__ import annotations

import functools
import statistics

from torch import nn

from reslib import data as rl_data
from reslib import resnet, runtime, train
from reslib.evidence.core import claim

__all__: list[str] = []

SEEDS = (0, 1, 2)
CONVERGED_EPOCHS = 60  # 10x the notebook's 6: every training-error curve has flattened


@functools.cache
def _signals() -> rl_data.TensorData:
    """MNIST-1D as (N, 1, 40) signals, as in the notebook."""
    d = rl_data.mnist1d()
    return rl_data.TensorData(
        d.x_train.unsqueeze(1), d.y_train, d.x_test.unsqueeze(1), d.y_test, d.num_classes
    )


@functools.cache
def _train(
    depth: int, plain: bool, seed: int, epochs: int, zero_init: bool = False
) -> tuple[train.History, nn.Module]:
    """One of the notebook's runs: the same recipe, seeded as the notebook seeds it."""
    runtime.set_seed(seed)
    kwargs = {"zero_init_residual": True} if zero_init else {}
    net = resnet.cifar_resnet(depth, plain=plain, width=8, in_channels=1, dim=1, **kwargs)
    with runtime.num_threads(1):  # the notebook's setting: these small nets train fastest on one thread
        history = train.fit(
            net, _signals(), epochs=epochs, lr=0.05, batch_size=128, seed=seed, progress=False
        )
    return history, net


def _errors(seed: int, epochs: int, at: int) -> dict[str, float]:
    """Training error after `at` epochs of an `epochs`-epoch run (the first `at` epochs are the same run)."""
    return {
        f"{'plain' if plain else 'residual'}-{depth}": _train(depth, plain, seed, epochs)[0].train_error[
            at - 1
        ]
        for depth in (8, 20)
        for plain in (True, False)
    }


@claim(
    "resnet-degradation-budget",
    "at 6 and at 9 epochs, on seeds 0-2, plain-20 ends >= 0.15 above plain-8 and above residual-20 in "
    "training error, and residual-20 ends <= 0.005 above residual-8",
)
def _degradation_budget() -> str:
    gaps = []
    for seed in SEEDS:
        for at in (6, 9):
            e = _errors(seed, 9, at)
            gaps.append(
                (
                    e["plain-20"] - e["plain-8"],
                    e["plain-20"] - e["residual-20"],
                    e["residual-20"] - e["residual-8"],
                )
            )
    deeper_plain = min(g[0] for g in gaps)
    skips = min(g[1] for g in gaps)
    deeper_residual = max(g[2] for g in gaps)
    assert deeper_plain >= 0.15 and skips >= 0.15 and deeper_residual <= 0.005, gaps
    return (
        f"over seeds 0-2 x {{6, 9}} epochs: plain-20 minus plain-8 >= {deeper_plain:.3f}, plain-20 minus "
        f"residual-20 >= {skips:.3f}, residual-20 minus residual-8 <= {deeper_residual:+.3f}"
    )


def _last(values: list[float], n: int = 5) -> float:
    """The mean of the last `n` epochs: one epoch's error jumps by 0.01 at a constant learning rate."""
    return statistics.mean(values[-n:])


def _epochs_to(errors: list[float], level: float) -> int:
    """The first epoch whose training error is below `level` (one past the end if none)."""
    return next((i + 1 for i, e in enumerate(errors) if e < level), len(errors) + 1)


@claim(
    "resnet-degradation-converged",
    f"trained {CONVERGED_EPOCHS} epochs (converged: no net's training error, averaged over 5 epochs, "
    "moves by 0.01 or more over the last 10), on seeds 0-2: plain-20 still ends above plain-8 in training "
    "error and at least 1.5x its training loss, but by less than 0.05 in error, not 0.3; residual-20 ends "
    "no higher than residual-8 (+0.005); plain-20 takes at least 1.4x as many epochs as plain-8 to reach "
    "5% training error",
)
def _degradation_converged() -> str:
    rows = []
    for seed in SEEDS:
        h = {
            f"{'plain' if plain else 'residual'}-{depth}": _train(depth, plain, seed, CONVERGED_EPOCHS)[0]
            for depth in (8, 20)
            for plain in (True, False)
        }
        drift = max(abs(_last(x.train_error) - _last(x.train_error[:-5])) for x in h.values())
        err = {k: _last(x.train_error) for k, x in h.items()}
        loss = {k: _last(x.train_loss) for k, x in h.items()}
        reach = {k: _epochs_to(x.train_error, 0.05) for k, x in h.items()}
        rows.append((seed, drift, err, loss, reach))
        assert drift < 0.01, f"seed {seed}: not converged, training error still moves by {drift:.3f}"
        assert err["plain-8"] < err["plain-20"] < err["plain-8"] + 0.05, (seed, err)
        assert loss["plain-20"] > 1.5 * loss["plain-8"], (seed, loss)
        assert err["residual-20"] <= err["residual-8"] + 0.005, (seed, err)
        assert reach["plain-20"] >= 1.4 * reach["plain-8"], (seed, reach)
    return (
        "; ".join(
            f"seed {s}: error plain-8 {e['plain-8']:.4f}, plain-20 {e['plain-20']:.4f}, residual-8 "
            f"{e['residual-8']:.4f}, residual-20 {e['residual-20']:.4f}; loss plain-8 {lo['plain-8']:.4f}, "
            f"plain-20 {lo['plain-20']:.4f}; epochs to 5% plain-8 {r['plain-8']}, plain-20 {r['plain-20']}, "
            f"residual-8 {r['residual-8']}, residual-20 {r['residual-20']}; drift {d:.4f}"
            for s, d, e, lo, r in rows
        )
        + f" (error and loss: mean of epochs {CONVERGED_EPOCHS - 4}-{CONVERGED_EPOCHS})"
    )


@claim(
    "resnet-zero-init-depth",
    "at 6 epochs, seeds 0 and 1: plain-32 ends within 0.1 of plain-20 and both >= 0.15 above plain-8; "
    "residual-32 no more than 0.05 above residual-20; zero-initialised residual-20 >= 0.2 above the default "
    "residual-20",
)
def _zero_init_depth() -> str:
    rows = []
    for seed in (0, 1):
        e = _errors(seed, 9, 6)
        e["plain-32"] = _train(32, True, seed, 6)[0].train_error[-1]
        e["residual-32"] = _train(32, False, seed, 6)[0].train_error[-1]
        e["zero-init residual-20"] = _train(20, False, seed, 6, zero_init=True)[0].train_error[-1]
        rows.append((seed, e))
        assert abs(e["plain-32"] - e["plain-20"]) < 0.1, (seed, e)
        assert min(e["plain-32"], e["plain-20"]) >= e["plain-8"] + 0.15, (seed, e)
        assert e["residual-32"] <= e["residual-20"] + 0.05, (seed, e)
        assert e["zero-init residual-20"] >= e["residual-20"] + 0.2, (seed, e)
    return "; ".join(f"seed {s}: " + ", ".join(f"{k} {v:.3f}" for k, v in e.items()) for s, e in rows)


@claim(
    "resnet-responses-converged",
    f"after {CONVERGED_EPOCHS} epochs, on seeds 0-2, the mean layer response (std after BN, before "
    "ReLU/addition, on 512 training signals) of residual-20 is at least 0.05 below plain-20's, residual-8's "
    "is above plain-8's, and residual-20's is at least 0.15 below residual-8's (smaller with depth)",
)
def _responses_converged() -> str:
    batch = _signals().x_train[:512]
    rows = []
    for seed in SEEDS:
        mean = {
            f"{'plain' if plain else 'residual'}-{depth}": statistics.mean(
                resnet.layer_responses(_train(depth, plain, seed, CONVERGED_EPOCHS)[1], batch)
            )
            for depth in (8, 20)
            for plain in (True, False)
        }
        rows.append((seed, mean))
        assert mean["residual-20"] <= mean["plain-20"] - 0.05, (seed, mean)
        assert mean["residual-8"] > mean["plain-8"], (seed, mean)  # not at depth 8
        assert mean["residual-20"] <= mean["residual-8"] - 0.15, (seed, mean)
    return "; ".join(f"seed {s}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.items()) for s, m in rows)
