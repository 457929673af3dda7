"""Evidence for the residual stream: the checks notebook 11's prose reports (see reslib/evidence/core.py).

Each claim trains small transformers on the sorting task of notebook 11 (8 digits, width 32, 2 heads, Adam at
the notebook's settings unless the sentence names others), several seeds side by side in one vmapped call.
"""

from __future__ import annotations

import numpy as np
import torch

from reslib import paths, sequences
from reslib import transformer as tf
from reslib.evidence.core import claim
from reslib.runtime import device, num_threads, set_seed

__all__: list[str] = []

CHANCE = 0.1  # a uniform guess over 10 digits
FAILED = CHANCE + 0.1  # notebook 11: a run failed if its test accuracy stays below 20 %


def _data() -> sequences.SequenceData:
    return sequences.sequence_task(2000, 500, length=8, vocab_size=10, task="sort", seed=0, device=device())


def _train(
    data: sequences.SequenceData,
    n_layer: int,
    norm_first: bool,
    warmups: tuple[int, ...],
    seeds: tuple[int, ...],
    steps: int = 150,
    lr: float = 3e-3,
    **options: object,
) -> dict[tuple[int, int], tuple[tf.Transformer, sequences.SequenceRun]]:
    """Notebook 11's `train_group`: one model per (warm-up, seed), trained side by side."""
    keys = [(w, s) for w in warmups for s in seeds]
    models = []
    for _, s in keys:
        set_seed(s)
        net = tf.transformer(10, 8, n_layer, 32, 2, d_ff=64, norm_first=norm_first, **options)
        models.append(net.to(data.x_train.device))
    runs = sequences.train_sequence_models(
        models, data, steps, lr, warmup=[w for w, _ in keys], seeds=[s for _, s in keys]
    )
    return {key: (m, r) for key, m, r in zip(keys, models, runs, strict=True)}


def _accuracies(group: dict, warmup: int) -> list[float]:
    return [run.accuracy for (w, _), (_, run) in group.items() if w == warmup]


def _pct(values: list[float]) -> str:
    return "/".join(f"{v:.0%}" for v in values)


@claim(
    "stream-warmup-seeds-steps",
    "12 blocks, seeds 0-3, 225 steps (warm-up 60): post-LN without warm-up fails (< 20 %) on every seed; "
    "pre-LN with or without warm-up > 90 %, warmed-up post-LN > 80 %",
)
def _warmup_seeds_steps() -> str:
    data, seeds = _data(), (0, 1, 2, 3)
    with num_threads(1):
        pre = _train(data, 12, True, (0, 60), seeds, steps=225)
        post = _train(data, 12, False, (0, 60), seeds, steps=225)
    acc = {
        "pre-LN": _accuracies(pre, 0),
        "pre-LN warm": _accuracies(pre, 60),
        "post-LN": _accuracies(post, 0),
        "post-LN warm": _accuracies(post, 60),
    }
    measured = "; ".join(f"{k} {_pct(v)}" for k, v in acc.items()) + " (seeds 0-3, 225 steps)"
    assert max(acc["post-LN"]) < FAILED, measured
    assert min(acc["pre-LN"] + acc["pre-LN warm"]) > 0.9, measured
    assert min(acc["post-LN warm"]) > 0.8, measured
    return measured


@claim(
    "stream-eight-blocks",
    "8 blocks, seeds 0-2, 150 steps: post-LN without warm-up trains (> 70 %) on some seeds and not on all, "
    "so 12 blocks is where the failure is clear",
)
def _eight_blocks() -> str:
    with num_threads(1):
        acc = _accuracies(_train(_data(), 8, False, (0,), (0, 1, 2)), 0)
    measured = f"8-block post-LN, no warm-up: {_pct(acc)} (seeds 0-2, 150 steps)"
    assert any(a > 0.7 for a in acc) and not all(a > 0.7 for a in acc), measured
    return measured


@claim(
    "stream-small-init-post-ln",
    "with GPT-2's N(0, 0.02^2) weights, post-LN trains without warm-up (> 70 %, seeds 0-2, 150 steps) "
    "at 8 blocks with lr 1e-2 and at 12 blocks with lr 5e-3",
)
def _small_init_post_ln() -> str:
    data, found = _data(), {}
    with num_threads(1):
        for n_layer, lr in ((8, 1e-2), (12, 5e-3)):
            found[n_layer, lr] = _accuracies(
                _train(data, n_layer, False, (0,), (0, 1, 2), lr=lr, init="gpt2"), 0
            )
    measured = "; ".join(f"{n} blocks at lr {lr:g}: {_pct(a)}" for (n, lr), a in found.items())
    assert all(a > 0.7 for accs in found.values() for a in accs), measured
    return measured + " (post-LN, no warm-up, N(0, 0.02^2) weights)"


@claim(
    "stream-pre-ln-large-lr",
    "at lr 3e-2, 6-block pre-LN without warm-up trains clearly worse than with 40 steps of warm-up "
    "(seeds 0-2, 300 steps; mean accuracy at least 20 points lower)",
)
def _pre_ln_large_lr() -> str:
    with num_threads(1):
        group = _train(_data(), 6, True, (0, 40), (0, 1, 2), steps=300, lr=3e-2)
    cold, warm = _accuracies(group, 0), _accuracies(group, 40)
    measured = f"no warm-up {_pct(cold)}, warm-up {_pct(warm)} (6-block pre-LN, lr 3e-2, 300 steps)"
    assert np.mean(cold) < np.mean(warm) - 0.2, measured
    return measured


@claim(
    "stream-depth-scaled-seeds",
    "12-block post-LN without warm-up, 1/sqrt(2N) init, seeds 0-3 at 225 steps: every seed above 90 %",
)
def _depth_scaled_seeds() -> str:
    with num_threads(1):
        acc = _accuracies(_train(_data(), 12, False, (0,), (0, 1, 2, 3), steps=225, depth_scaled=True), 0)
    measured = f"{_pct(acc)} (seeds 0-3, 225 steps)"
    assert min(acc) > 0.9, measured
    return measured


@claim(
    "stream-embedding-lesion",
    "12-block pre-LN with N(0, 1) embeddings (seeds 0-2, 150 steps): trains above 90 %, block 1 writes less "
    "than its stream, without block 1 the models stay far above chance (> 40 %), block 1 still costs most",
)
def _embedding_lesion() -> str:
    data = _data()
    keys = (0, 1, 2)
    models = []
    with num_threads(1):
        for s in keys:
            set_seed(s)
            net = tf.transformer(10, 8, 12, 32, 2, d_ff=64).to(data.x_train.device)
            with torch.no_grad():
                net.wte.weight.copy_(torch.randn_like(net.wte.weight))
                net.wpe.weight.copy_(torch.randn_like(net.wpe.weight))
            models.append(net)
        runs = sequences.train_sequence_models(models, data, 150, 3e-3, seeds=list(keys))
        trained = [r.accuracy for r in runs]
        first_write = []
        without_first, costs = [], []
        for net, run in zip(models, runs, strict=True):
            with torch.no_grad():
                states = net.streams(data.x_test)
            first_write.append(float((states[1] - states[0]).norm() / states[0].norm()))
            after = [
                sequences.sequence_accuracy(paths.lesion(net, i), data.x_test, data.y_test) for i in range(12)
            ]
            without_first.append(after[0])
            costs.append(run.accuracy - np.array(after))
    measured = (
        f"trained {_pct(trained)}; block 1 writes {'/'.join(f'{w:.2f}' for w in first_write)} of its stream; "
        f"without block 1 {_pct(without_first)}; costliest block {[int(np.argmax(c)) + 1 for c in costs]}"
    )
    assert min(trained) > 0.9, measured
    assert max(first_write) < 1.0, measured
    assert min(without_first) > 0.4, measured
    assert all(int(np.argmax(c)) == 0 for c in costs), measured
    return measured
